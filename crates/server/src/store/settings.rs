//! The versions of each site's settings, as edited in the console: who saved which
//! TOML when, and why. The highest version of a site is its live settings.

use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, Row};

/// One saved version of a site's settings.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsVersion {
    /// Orders every version of every site.
    pub id: i64,
    pub site_id: String,
    pub version: i64,
    /// The settings as TOML, in the configuration file's `[[sites]]` format.
    pub settings: String,
    pub author: String,
    pub note: String,
    pub created_at: i64,
}

/// The largest version id of any site: it changes whenever any process saves a
/// version, so a process can tell cheaply that it must reload.
pub async fn latest_id(reader: &AnyPool) -> anyhow::Result<i64> {
    let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM site_settings")
        .fetch_one(reader)
        .await?;
    Ok(latest.unwrap_or(0))
}

/// The live (highest) version of every site that has one.
pub async fn live(connection: &mut AnyConnection) -> anyhow::Result<Vec<SettingsVersion>> {
    let rows = sqlx::query(
        "SELECT s.id, s.site_id, s.version, s.settings, s.author, s.note, s.created_at
         FROM site_settings s
         WHERE s.version = (SELECT MAX(v.version) FROM site_settings v WHERE v.site_id = s.site_id)
         ORDER BY s.site_id",
    )
    .fetch_all(&mut *connection)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Every version of a site, newest first.
pub async fn history(
    connection: &mut AnyConnection,
    site_id: &str,
) -> anyhow::Result<Vec<SettingsVersion>> {
    let rows = sqlx::query(
        "SELECT id, site_id, version, settings, author, note, created_at
         FROM site_settings WHERE site_id = $1 ORDER BY version DESC",
    )
    .bind(site_id)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter().map(from_row).collect()
}

/// One version of a site.
pub async fn version(
    connection: &mut AnyConnection,
    site_id: &str,
    version: i64,
) -> anyhow::Result<Option<SettingsVersion>> {
    let row = sqlx::query(
        "SELECT id, site_id, version, settings, author, note, created_at
         FROM site_settings WHERE site_id = $1 AND version = $2",
    )
    .bind(site_id)
    .bind(version)
    .fetch_optional(&mut *connection)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The number of a site's live version, if it has one.
pub async fn latest_version(
    connection: &mut AnyConnection,
    site_id: &str,
) -> anyhow::Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT MAX(version) FROM site_settings WHERE site_id = $1")
            .bind(site_id)
            .fetch_one(&mut *connection)
            .await?,
    )
}

/// Saves the next version of a site's settings and returns its number. Call within
/// a transaction that has locked the site's settings.
pub async fn append(
    connection: &mut AnyConnection,
    site_id: &str,
    settings: &str,
    author: &str,
    note: &str,
    now: i64,
) -> anyhow::Result<i64> {
    super::lock(connection, &format!("settings {site_id}")).await?;
    let next = latest_version(connection, site_id).await?.unwrap_or(0) + 1;
    sqlx::query(
        "INSERT INTO site_settings (site_id, version, settings, author, note, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(site_id)
    .bind(next)
    .bind(settings)
    .bind(author)
    .bind(note)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(next)
}

fn from_row(row: &sqlx::any::AnyRow) -> anyhow::Result<SettingsVersion> {
    Ok(SettingsVersion {
        id: row.try_get("id")?,
        site_id: row.try_get("site_id")?,
        version: row.try_get("version")?,
        settings: row.try_get("settings")?,
        author: row.try_get("author")?,
        note: row.try_get("note")?,
        created_at: row.try_get("created_at")?,
    })
}
