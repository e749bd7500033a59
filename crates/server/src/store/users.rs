//! The people who sign in to the console, and their sessions.

use serde::Serialize;
use sqlx::{AnyConnection, Row};

/// A person with a console account.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: String,
    #[serde(skip)]
    pub password_hash: String,
    pub failed_signins: i64,
    pub first_failure_at: Option<i64>,
    pub locked_until: Option<i64>,
    pub created_at: i64,
}

/// A signed-in session and the person it belongs to.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: i64,
}

const USER_COLUMNS: &str = "u.id, u.email, u.role, u.password_hash, u.failed_signins, \
                            u.first_failure_at, u.locked_until, u.created_at";

/// Adds an account; false if the e-mail has one already.
pub async fn insert(
    connection: &mut AnyConnection,
    id: &str,
    email: &str,
    role: &str,
    password_hash: &str,
    now: i64,
) -> anyhow::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, role, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING",
    )
    .bind(id)
    .bind(email)
    .bind(role)
    .bind(password_hash)
    .bind(now)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// The account with this (lower-case) e-mail.
pub async fn by_email(connection: &mut AnyConnection, email: &str) -> anyhow::Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = $1");
    let row = sqlx::query(&sql)
        .bind(email)
        .fetch_optional(&mut *connection)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Every account, by e-mail.
pub async fn all(connection: &mut AnyConnection) -> anyhow::Result<Vec<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.email");
    let rows = sqlx::query(&sql).fetch_all(&mut *connection).await?;
    rows.iter().map(user_from_row).collect()
}

/// Records the outcome of a sign-in attempt on the account.
pub async fn record_attempt(
    connection: &mut AnyConnection,
    user_id: &str,
    failed_signins: i64,
    first_failure_at: Option<i64>,
    locked_until: Option<i64>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE users SET failed_signins = $2, first_failure_at = $3, locked_until = $4
         WHERE id = $1",
    )
    .bind(user_id)
    .bind(failed_signins)
    .bind(first_failure_at)
    .bind(locked_until)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Starts a session.
pub async fn insert_session(
    connection: &mut AnyConnection,
    id_hash: &str,
    user_id: &str,
    csrf_token: &str,
    now: i64,
    expires_at: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id_hash)
    .bind(user_id)
    .bind(csrf_token)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// The session with this id hash, if it has not expired at `now`.
pub async fn session(
    connection: &mut AnyConnection,
    id_hash: &str,
    now: i64,
) -> anyhow::Result<Option<SessionRow>> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, s.csrf_token, s.expires_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = $1 AND s.expires_at > $2"
    );
    let row = sqlx::query(&sql)
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&mut *connection)
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(SessionRow {
        user: user_from_row(&row)?,
        csrf_token: row.try_get("csrf_token")?,
        expires_at: row.try_get("expires_at")?,
    }))
}

/// Ends a session, and every expired one with it.
pub async fn delete_session(
    connection: &mut AnyConnection,
    id_hash: &str,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1 OR expires_at <= $2")
        .bind(id_hash)
        .bind(now)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

fn user_from_row(row: &sqlx::any::AnyRow) -> anyhow::Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: row.try_get("role")?,
        password_hash: row.try_get("password_hash")?,
        failed_signins: row.try_get("failed_signins")?,
        first_failure_at: row.try_get("first_failure_at")?,
        locked_until: row.try_get("locked_until")?,
        created_at: row.try_get("created_at")?,
    })
}
