//! The handoff outbox: a handoff is written in the same transaction as the stage
//! change that causes it, then delivered by the worker in `handoff.rs`. A crash
//! between the two loses nothing: the row waits for the next start.

use sqlx::{Row, SqliteConnection, SqlitePool};
use uuid::Uuid;

/// A handoff waiting to be delivered.
#[derive(Debug, Clone)]
pub struct PendingHandoff {
    /// Also the idempotency key the receiver sees.
    pub id: String,
    pub site_id: String,
    pub kind: String,
    pub payload: String,
    pub attempts: u32,
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
pub async fn enqueue(
    connection: &mut SqliteConnection,
    id: &str,
    site_id: &str,
    contact_id: &str,
    kind: &str,
    payload: &str,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO outbox
             (id, site_id, contact_id, kind, payload, state, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(id)
    .bind(site_id)
    .bind(contact_id)
    .bind(kind)
    .bind(payload)
    .bind(PENDING)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Handoffs whose next attempt is due, oldest first.
pub async fn due(pool: &SqlitePool, now: i64, limit: u32) -> anyhow::Result<Vec<PendingHandoff>> {
    let rows = sqlx::query(
        "SELECT id, site_id, kind, payload, attempts FROM outbox
         WHERE state = $1 AND next_attempt_at <= $2
         ORDER BY next_attempt_at, created_at LIMIT $3",
    )
    .bind(PENDING)
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingHandoff {
                id: row.try_get("id")?,
                site_id: row.try_get("site_id")?,
                kind: row.try_get("kind")?,
                payload: row.try_get("payload")?,
                attempts: row.try_get("attempts")?,
            })
        })
        .collect()
}

/// When the next pending handoff is due, if any is pending.
pub async fn next_due_at(pool: &SqlitePool) -> anyhow::Result<Option<i64>> {
    let next: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE state = $1")
            .bind(PENDING)
            .fetch_one(pool)
            .await?;
    Ok(next)
}

/// Records a successful delivery.
pub async fn mark_delivered(
    connection: &mut SqliteConnection,
    id: &str,
    attempts: u32,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET state = $2, attempts = $3, delivered_at = $4, last_error = NULL
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
    connection: &mut SqliteConnection,
    id: &str,
    attempts: u32,
    retry_at: Option<i64>,
    error: &str,
) -> anyhow::Result<()> {
    let (state, next) = match retry_at {
        Some(at) => (PENDING, at),
        None => (DEAD, i64::MAX),
    };
    sqlx::query(
        "UPDATE outbox SET state = $2, attempts = $3, next_attempt_at = $4, last_error = $5
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
