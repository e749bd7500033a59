//! Events: stored once per id, whatever the number of retries that carried them.
//! Read back, an event's `at` is the time the server filed it under: the browser's
//! time corrected for clock skew.

use std::collections::HashSet;

use headwater_core::{Event, EventBatch};
use sqlx::{AnyConnection, Row};

/// Rows of one multi-row insert: nine parameters each, well within both
/// databases' limits on bound parameters.
const ROWS_PER_INSERT: usize = 256;

/// An event about to be stored, with the batch that carried it.
pub struct NewEvent<'a> {
    pub batch: &'a EventBatch,
    pub event: &'a Event,
    /// The browser's time corrected for its clock's skew.
    pub occurred_at: i64,
    pub received_at: i64,
}

/// Stores the events whose id is not stored yet and returns the ids it stored.
/// An id already stored, or repeated among `events`, is stored once and left as
/// it was.
pub async fn insert_new(
    connection: &mut AnyConnection,
    events: &[NewEvent<'_>],
) -> anyhow::Result<HashSet<String>> {
    let backend = super::backend_of(connection);
    let mut inserted = HashSet::with_capacity(events.len());
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO events
                 (id, site_id, visitor_id, session_id, kind, occurred_at, received_at, url, body)
             VALUES {}
             ON CONFLICT (id) DO NOTHING
             RETURNING id",
            super::placeholders(backend, 1, chunk.len(), 9)
        );
        let bodies = chunk
            .iter()
            .map(|new| serde_json::to_string(new.event))
            .collect::<Result<Vec<_>, _>>()?;
        let mut query = sqlx::query(&sql).persistent(false);
        for (new, body) in chunk.iter().zip(bodies) {
            query = query
                .bind(&new.event.id)
                .bind(&new.batch.site)
                .bind(&new.batch.visitor_id)
                .bind(&new.event.session_id)
                .bind(new.event.detail.kind())
                .bind(new.occurred_at)
                .bind(new.received_at)
                .bind(&new.event.url)
                .bind(body);
        }
        for row in query.fetch_all(&mut *connection).await? {
            inserted.insert(row.try_get("id")?);
        }
    }
    Ok(inserted)
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
