//! The handoff outbox: a handoff is written in the same transaction as the stage
//! change that causes it, then delivered by the worker in `handoff.rs`. A crash
//! between the two loses nothing: the row waits for the next start.

use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use super::{Backend, Store};

/// A handoff waiting to be delivered.
#[derive(Debug, Clone)]
pub struct PendingHandoff {
    /// Also the idempotency key the receiver sees.
    pub id: String,
    pub site_id: String,
    /// The configured webhook it goes to (absent on rows older than webhooks).
    pub webhook: Option<String>,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
}

/// The states of a handoff.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const DEAD: &str = "dead";

/// A new handoff id, to be written into the payload before [`enqueue`].
pub fn new_id() -> String {
    Uuid::new_v4().to_string()
}

/// Queues a handoff for delivery as soon as possible.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue(
    connection: &mut AnyConnection,
    id: &str,
    site_id: &str,
    webhook: &str,
    contact_id: &str,
    kind: &str,
    payload: &str,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO outbox
             (id, site_id, contact_id, kind, payload, state, next_attempt_at, created_at, webhook)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(id)
    .bind(site_id)
    .bind(contact_id)
    .bind(kind)
    .bind(payload)
    .bind(PENDING)
    .bind(now)
    .bind(webhook)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Claims up to `limit` handoffs whose next attempt is due, for `lease_ms`: no
/// other worker (in this process or another) takes them until the lease ends, so
/// each attempt is made by one worker. A worker that dies leaves its claims to
/// expire and be taken again.
pub async fn claim_due(
    store: &Store,
    now: i64,
    limit: i64,
    lease_ms: i64,
) -> anyhow::Result<Vec<PendingHandoff>> {
    // PostgreSQL skips rows another transaction is claiming; SQLite has one writer.
    let skip_locked = match store.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let query = format!(
        "UPDATE outbox SET claimed_until = $3
         WHERE id IN (
             SELECT id FROM outbox
             WHERE state = $4 AND next_attempt_at <= $1
               AND (claimed_until IS NULL OR claimed_until < $1)
             ORDER BY next_attempt_at, created_at LIMIT $2 {skip_locked})
         RETURNING id, site_id, webhook, kind, payload, attempts"
    );
    let mut tx = store.begin().await?;
    let rows = sqlx::query(&query)
        .bind(now)
        .bind(limit)
        .bind(now + lease_ms)
        .bind(PENDING)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    rows.iter()
        .map(|row| {
            Ok(PendingHandoff {
                id: row.try_get("id")?,
                site_id: row.try_get("site_id")?,
                webhook: row.try_get("webhook")?,
                kind: row.try_get("kind")?,
                payload: row.try_get("payload")?,
                attempts: row.try_get("attempts")?,
            })
        })
        .collect()
}

/// How many handoffs wait for delivery.
pub async fn pending_count(pool: &AnyPool) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = $1")
            .bind(PENDING)
            .fetch_one(pool)
            .await?,
    )
}

/// When the next pending handoff is due, if any is pending.
pub async fn next_due_at(pool: &AnyPool) -> anyhow::Result<Option<i64>> {
    let next: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE state = $1")
            .bind(PENDING)
            .fetch_one(pool)
            .await?;
    Ok(next)
}

/// Records a successful delivery.
pub async fn mark_delivered(
    connection: &mut AnyConnection,
    id: &str,
    attempts: i64,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox
         SET state = $2, attempts = $3, delivered_at = $4, last_error = NULL, claimed_until = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(DELIVERED)
    .bind(attempts)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or dead when that is `None`.
pub async fn mark_failed(
    connection: &mut AnyConnection,
    id: &str,
    attempts: i64,
    retry_at: Option<i64>,
    error: &str,
) -> anyhow::Result<()> {
    let (state, next) = match retry_at {
        Some(at) => (PENDING, at),
        None => (DEAD, i64::MAX),
    };
    sqlx::query(
        "UPDATE outbox
         SET state = $2, attempts = $3, next_attempt_at = $4, last_error = $5, claimed_until = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(attempts)
    .bind(next)
    .bind(error)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Sends a delivered or dead handoff again, with the same id (so a receiver that
/// keeps idempotency keys ignores it if it already has it) and a fresh allowance
/// of attempts. Returns false if there is no such handoff.
pub async fn replay(connection: &mut AnyConnection, id: &str, now: i64) -> anyhow::Result<bool> {
    let updated = sqlx::query(
        "UPDATE outbox SET state = $2, attempts = 0, next_attempt_at = $3, claimed_until = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(PENDING)
    .bind(now)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Handoffs in a state (`pending`, `delivered`, `dead`), newest first.
pub async fn in_state(
    connection: &mut AnyConnection,
    state: &str,
    limit: i64,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let rows = sqlx::query(
        "SELECT id, site_id, webhook, contact_id, kind, state, attempts, last_error, created_at,
                delivered_at
         FROM outbox WHERE state = $1 ORDER BY created_at DESC LIMIT $2",
    )
    .bind(state)
    .bind(limit)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(serde_json::json!({
                "id": row.try_get::<String, _>("id")?,
                "site": row.try_get::<String, _>("site_id")?,
                "webhook": row.try_get::<Option<String>, _>("webhook")?,
                "contact_id": row.try_get::<String, _>("contact_id")?,
                "event": row.try_get::<String, _>("kind")?,
                "state": row.try_get::<String, _>("state")?,
                "attempts": row.try_get::<i64, _>("attempts")?,
                "last_error": row.try_get::<Option<String>, _>("last_error")?,
                "created_at": row.try_get::<i64, _>("created_at")?,
                "delivered_at": row.try_get::<Option<i64>, _>("delivered_at")?,
            }))
        })
        .collect()
}
