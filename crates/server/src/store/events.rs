//! Events: stored once per id, whatever the number of retries that carried them.
//! Read back, an event's `at` is the time the server filed it under: the browser's
//! time corrected for clock skew.

use std::collections::HashSet;

use headwater_core::{Event, EventBatch};
use sqlx::{AnyConnection, Row};

use super::Backend;

/// Rows of one multi-row insert: nine parameters each, well within both
/// databases' limits on bound parameters (and one each in the look-up of ids
/// already stored).
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
pub async fn insert_new<'a>(
    connection: &mut AnyConnection,
    events: &[NewEvent<'a>],
) -> anyhow::Result<HashSet<&'a str>> {
    let backend = super::backend_of(connection);
    let mut inserted = HashSet::with_capacity(events.len());
    for chunk in events.chunks(ROWS_PER_INSERT) {
        match backend {
            Backend::Postgres => {
                let returned: HashSet<String> = insert(connection, backend, chunk, true)
                    .await?
                    .into_iter()
                    .collect();
                let ids = chunk.iter().map(|new| new.event.id.as_str());
                inserted.extend(ids.filter(|id| returned.contains(*id)));
            }
            Backend::Sqlite => {
                // SQLite's one writer connection: nothing can store one of these ids
                // between the look-up and the insert. Stored ids are rare (retries), so
                // this answers with no row at all where `RETURNING` would send a row
                // per event from sqlx's SQLite thread.
                let stored = stored_among(connection, backend, chunk).await?;
                insert(connection, backend, chunk, false).await?;
                let ids = chunk.iter().map(|new| new.event.id.as_str());
                inserted.extend(ids.filter(|id| !stored.contains(*id)));
            }
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

/// One multi-row insert of `chunk`, skipping ids already stored; the ids it
/// stored when `returning`, else nothing.
async fn insert(
    connection: &mut AnyConnection,
    backend: Backend,
    chunk: &[NewEvent<'_>],
    returning: bool,
) -> anyhow::Result<Vec<String>> {
    let sql = format!(
        "INSERT INTO events
             (id, site_id, visitor_id, session_id, kind, occurred_at, received_at, url, body)
         VALUES {}
         ON CONFLICT (id) DO NOTHING{}",
        super::placeholders(backend, 1, chunk.len(), 9),
        if returning { " RETURNING id" } else { "" }
    );
    let bodies = chunk
        .iter()
        .map(|new| serde_json::to_string(new.event))
        .collect::<Result<Vec<_>, _>>()?;
    let mut query = sqlx::query(&sql).persistent(false);
    for (new, body) in chunk.iter().zip(bodies) {
        query = query
            .bind(new.event.id.as_str())
            .bind(new.batch.site.as_str())
            .bind(new.batch.visitor_id.as_str())
            .bind(new.event.session_id.as_str())
            .bind(new.event.detail.kind())
            .bind(new.occurred_at)
            .bind(new.received_at)
            .bind(new.event.url.as_str())
            .bind(body);
    }
    if !returning {
        query.execute(&mut *connection).await?;
        return Ok(Vec::new());
    }
    let rows = query.fetch_all(&mut *connection).await?;
    rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
}

/// Those of the chunk's ids that are stored already.
async fn stored_among(
    connection: &mut AnyConnection,
    backend: Backend,
    chunk: &[NewEvent<'_>],
) -> anyhow::Result<HashSet<String>> {
    let sql = format!(
        "SELECT id FROM events WHERE id IN {}",
        super::placeholders(backend, 1, 1, chunk.len())
    );
    let mut query = sqlx::query_scalar(&sql).persistent(false);
    for new in chunk {
        query = query.bind(new.event.id.as_str());
    }
    Ok(query
        .fetch_all(&mut *connection)
        .await?
        .into_iter()
        .collect())
}
