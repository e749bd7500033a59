//! Events: stored once per id, whatever the number of retries that carried them.

use headwater_core::{Event, EventBatch};
use sqlx::AnyConnection;

/// What happened to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Events stored for the first time.
    pub accepted: u64,
    /// Events already stored by an earlier delivery of the same id.
    pub duplicates: u64,
}

/// Stores the batch's events; an id already stored is counted as a duplicate and
/// left as it was.
pub async fn insert_batch(
    connection: &mut AnyConnection,
    batch: &EventBatch,
    now: i64,
) -> anyhow::Result<BatchOutcome> {
    let mut outcome = BatchOutcome {
        accepted: 0,
        duplicates: 0,
    };
    for event in &batch.events {
        let body = serde_json::to_string(event)?;
        let inserted = sqlx::query(
            "INSERT INTO events
                 (id, site_id, visitor_id, session_id, kind, occurred_at, received_at, url, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&event.id)
        .bind(&batch.site)
        .bind(&batch.visitor_id)
        .bind(&event.session_id)
        .bind(event.detail.kind())
        .bind(batch.corrected_time(event.at, now))
        .bind(now)
        .bind(&event.url)
        .bind(body)
        .execute(&mut *connection)
        .await?
        .rows_affected();
        if inserted == 1 {
            outcome.accepted += 1;
        } else {
            outcome.duplicates += 1;
        }
    }
    Ok(outcome)
}

/// Every event of every visitor stitched to the contact that happened after
/// `since` (all of them for `None`), oldest first.
pub async fn of_contact(
    connection: &mut AnyConnection,
    contact_id: &str,
    since: Option<i64>,
) -> anyhow::Result<Vec<Event>> {
    let bodies: Vec<String> = sqlx::query_scalar(
        "SELECT e.body FROM events e
         JOIN visitors v ON v.site_id = e.site_id AND v.id = e.visitor_id
         WHERE v.contact_id = $1 AND e.occurred_at > $2
         ORDER BY e.occurred_at, e.id",
    )
    .bind(contact_id)
    .bind(since.unwrap_or(i64::MIN))
    .fetch_all(&mut *connection)
    .await?;
    bodies
        .iter()
        .map(|body| Ok(serde_json::from_str(body)?))
        .collect()
}
