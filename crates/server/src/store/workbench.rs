//! What the console's workbench lists: a stage's queue, oldest first, and leads
//! found by search and filters.

use std::collections::BTreeMap;

use headwater_core::Stage;
use sqlx::{AnyConnection, Row};

/// A lead as a list shows it.
#[derive(Debug, Clone)]
pub struct LeadRow {
    pub id: String,
    pub email: Option<String>,
    pub answers: BTreeMap<String, String>,
    pub stage: Stage,
    pub fit_score: i64,
    pub engagement_score: i64,
    pub stage_changed_at: i64,
    pub owner: Option<String>,
    pub first_campaign: Option<String>,
    pub first_channel: Option<String>,
}

/// Search and filters; empty means any.
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub site_id: String,
    /// Part of the e-mail, name or company, any case.
    pub text: String,
    pub stage: Option<Stage>,
    /// Fit and engagement together at least this.
    pub min_score: Option<i64>,
    /// `campaign:NAME`, `channel:NAME` or `referrer:HOST`, as in the report.
    pub source: crate::report::Source,
    pub owner: String,
}

const COLUMNS: &str = "c.id, c.email, c.answers, c.stage, c.fit_score, c.engagement_score, \
                       c.stage_changed_at, c.owner, c.first_campaign, c.first_channel";

/// The leads of a site in a stage, longest waiting first.
pub async fn queue(
    connection: &mut AnyConnection,
    site_id: &str,
    stage: Stage,
    limit: i64,
) -> anyhow::Result<Vec<LeadRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM contacts c WHERE c.site_id = $1 AND c.stage = $2
         ORDER BY c.stage_changed_at, c.id LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(site_id)
        .bind(stage.as_str())
        .bind(limit)
        .fetch_all(&mut *connection)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Identified leads matching the filter, latest change first.
// FIXME: the text search reads every identified contact of the site (LIKE over the
// e-mail and the answers); a full-text index (FTS5, tsvector) would keep it fast
// past some hundred thousand contacts.
pub async fn search(
    connection: &mut AnyConnection,
    filter: &LeadFilter,
    limit: i64,
) -> anyhow::Result<Vec<LeadRow>> {
    use crate::report::Source;
    let (source_column, source_value) = match &filter.source {
        Source::Any => ("''", ""),
        Source::Campaign(value) => ("c.first_campaign", value.as_str()),
        Source::Referrer(value) => ("c.first_referrer", value.as_str()),
        Source::Channel(value) => ("c.first_channel", value.as_str()),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM contacts c
         WHERE c.site_id = $1 AND c.email IS NOT NULL
           AND ($2 = '' OR LOWER(c.email) LIKE $2 OR LOWER(c.answers) LIKE $2)
           AND ($3 = '' OR c.stage = $3)
           AND c.fit_score + c.engagement_score >= $4
           AND {source_column} = $5
           AND ($6 = '' OR c.owner = $6)
         ORDER BY c.stage_changed_at DESC, c.id LIMIT $7"
    );
    let text = if filter.text.trim().is_empty() {
        String::new()
    } else {
        let escaped = filter.text.trim().to_lowercase().replace(['%', '_'], "");
        format!("%{escaped}%")
    };
    let rows = sqlx::query(&sql)
        .bind(&filter.site_id)
        .bind(text)
        .bind(filter.stage.map_or("", Stage::as_str))
        .bind(filter.min_score.unwrap_or(i64::MIN))
        .bind(source_value)
        .bind(&filter.owner)
        .bind(limit)
        .fetch_all(&mut *connection)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The people who own leads of the site, for the owner filter.
pub async fn owners(connection: &mut AnyConnection, site_id: &str) -> anyhow::Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT owner FROM contacts WHERE site_id = $1 AND owner IS NOT NULL
         ORDER BY owner",
    )
    .bind(site_id)
    .fetch_all(&mut *connection)
    .await?)
}

fn from_row(row: &sqlx::any::AnyRow) -> anyhow::Result<LeadRow> {
    Ok(LeadRow {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        answers: serde_json::from_str(row.try_get("answers")?)?,
        stage: row.try_get::<String, _>("stage")?.parse()?,
        fit_score: row.try_get("fit_score")?,
        engagement_score: row.try_get("engagement_score")?,
        stage_changed_at: row
            .try_get::<Option<i64>, _>("stage_changed_at")?
            .unwrap_or(0),
        owner: row.try_get("owner")?,
        first_campaign: row.try_get("first_campaign")?,
        first_channel: row.try_get("first_channel")?,
    })
}
