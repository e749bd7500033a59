//! Service-level breaches: leads left in a stage longer than the site agreed.

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use headwater_core::Stage;

/// A recorded breach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    pub contact_id: String,
    pub stage: String,
    pub entered_at: i64,
    pub due_at: i64,
    pub detected_at: i64,
}

/// Leads of the site in `stage` since before `now - limit_ms` whose stay there has
/// no breach recorded yet, as (contact id, when it entered the stage).
pub async fn overdue(
    connection: &mut AnyConnection,
    site_id: &str,
    stage: Stage,
    limit_ms: i64,
    now: i64,
) -> anyhow::Result<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT c.id, c.stage_changed_at FROM contacts c
         WHERE c.site_id = $1 AND c.stage = $2 AND c.stage_changed_at <= $3
           AND NOT EXISTS (
               SELECT 1 FROM sla_breaches b
               WHERE b.contact_id = c.id AND b.stage = c.stage
                 AND b.entered_at = c.stage_changed_at)
         ORDER BY c.stage_changed_at",
    )
    .bind(site_id)
    .bind(stage.as_str())
    .bind(now - limit_ms)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("stage_changed_at")?)))
        .collect()
}

/// Records a breach; false if it was recorded already (by another process).
pub async fn record(
    connection: &mut AnyConnection,
    site_id: &str,
    breach: &Breach,
) -> anyhow::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO sla_breaches (contact_id, site_id, stage, entered_at, due_at, detected_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (contact_id, stage, entered_at) DO NOTHING",
    )
    .bind(&breach.contact_id)
    .bind(site_id)
    .bind(&breach.stage)
    .bind(breach.entered_at)
    .bind(breach.due_at)
    .bind(breach.detected_at)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// The site's breaches detected after `since`, oldest first.
pub async fn of_site(
    connection: &mut AnyConnection,
    site_id: &str,
    since: i64,
) -> anyhow::Result<Vec<Breach>> {
    let rows = sqlx::query(
        "SELECT contact_id, stage, entered_at, due_at, detected_at FROM sla_breaches
         WHERE site_id = $1 AND detected_at > $2 ORDER BY detected_at, contact_id",
    )
    .bind(site_id)
    .bind(since)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter().map(read).collect()
}

/// The contact's breaches, oldest first.
pub async fn of_contact(
    connection: &mut AnyConnection,
    contact_id: &str,
) -> anyhow::Result<Vec<Breach>> {
    let rows = sqlx::query(
        "SELECT contact_id, stage, entered_at, due_at, detected_at FROM sla_breaches
         WHERE contact_id = $1 ORDER BY detected_at",
    )
    .bind(contact_id)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter().map(read).collect()
}

fn read(row: &sqlx::any::AnyRow) -> anyhow::Result<Breach> {
    Ok(Breach {
        contact_id: row.try_get("contact_id")?,
        stage: row.try_get("stage")?,
        entered_at: row.try_get("entered_at")?,
        due_at: row.try_get("due_at")?,
        detected_at: row.try_get("detected_at")?,
    })
}
