//! Events: stored once per id, whatever the number of retries that carried them.
//! Read back, an event's `at` is the time the server filed it under: the browser's
//! time corrected for clock skew.

use headwater_core::{Event, EventBatch};
use sqlx::{AnyConnection, Row};

/// What happened to a batch.
#[derive(Debug, Clone, Default)]
pub struct BatchOutcome {
    /// Events stored for the first time, with their corrected times.
    pub stored: Vec<Event>,
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
    let mut outcome = BatchOutcome::default();
    for event in &batch.events {
        let body = serde_json::to_string(event)?;
        let occurred_at = batch.corrected_time(event.at, now);
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
        .bind(occurred_at)
        .bind(now)
        .bind(&event.url)
        .bind(body)
        .execute(&mut *connection)
        .await?
        .rows_affected();
        if inserted == 1 {
            outcome.stored.push(Event {
                at: occurred_at,
                ..event.clone()
            });
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
    let rows = sqlx::query(
        "SELECT e.body, e.occurred_at FROM events e
         JOIN visitors v ON v.site_id = e.site_id AND v.id = e.visitor_id
         WHERE v.contact_id = $1 AND e.occurred_at > $2
         ORDER BY e.occurred_at, e.id",
    )
    .bind(contact_id)
    .bind(since.unwrap_or(i64::MIN))
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            let event: Event = serde_json::from_str(row.try_get("body")?)?;
            Ok(Event {
                at: row.try_get("occurred_at")?,
                ..event
            })
        })
        .collect()
}
