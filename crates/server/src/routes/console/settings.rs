//! Site settings in the console, for admins and marketers: the site's behaviours,
//! forms, lead definition, service levels and time zone as TOML in the
//! configuration file's format, checked as the file is checked at start, with a
//! preview of how many contacts would be MQL, saved as a new version (who, when,
//! why, and the diff), rolled back to any version, exported and imported.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use headwater_core::Role;
use serde::Deserialize;

use super::{Layout, chosen_site, local_time, render, require, site_ids};
use crate::accounts::Account;
use crate::app::AppState;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::leads;
use crate::settings::{self as site_settings, InvalidSettings};
use crate::store::settings::{self, SettingsVersion};

#[derive(Deserialize, Default)]
struct SettingsQuery {
    site: Option<String>,
    #[serde(default)]
    saved: Option<i64>,
    #[serde(default)]
    rescored: Option<String>,
}

#[derive(Deserialize)]
struct SettingsForm {
    site: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    note: String,
    /// `preview` or `save`: the button pressed.
    #[serde(default)]
    action: String,
}

#[derive(Deserialize)]
struct SiteForm {
    site: String,
}

struct VersionLine {
    version: i64,
    author: String,
    at: String,
    note: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    sites: Vec<String>,
    site: String,
    live_version: i64,
    text: String,
    note: String,
    message: String,
    problem: String,
    ignored: Vec<String>,
    preview: Option<leads::Preview>,
    versions: Vec<VersionLine>,
}

#[derive(Template)]
#[template(path = "version.html")]
struct VersionPage {
    layout: Layout,
    site: String,
    version: i64,
    live: bool,
    author: String,
    at: String,
    note: String,
    diff: String,
    text: String,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/settings", get(page).post(submit))
        .route("/console/settings/export", get(export))
        .route("/console/settings/rescore", post(rescore))
        .route("/console/settings/versions/{version}", get(version))
        .route(
            "/console/settings/versions/{version}/rollback",
            post(rollback),
        )
}

async fn page(
    State(state): State<AppState>,
    account: Account,
    Query(query): Query<SettingsQuery>,
) -> Result<Response, ApiError> {
    require(&account, &[Role::Marketer])?;
    let site = chosen_site(&state, query.site.as_deref())?;
    let history = history(&state, &site.id).await?;
    let live = history.first().ok_or(ApiError::NotFound)?;
    let message = match (query.saved, query.rescored) {
        (Some(version), _) => format!(
            "Saved as version {version}. It applies to new events and sign-ups now; \
             re-score to apply it to every contact's verdict."
        ),
        (None, Some(outcome)) => outcome,
        (None, None) => String::new(),
    };
    let page = settings_page(
        &state,
        &account,
        &site.id,
        &history,
        live.settings.clone(),
        message,
    );
    Ok(render(&page))
}

/// Preview or save what the editor holds.
async fn submit(
    State(state): State<AppState>,
    account: Account,
    Form(form): Form<SettingsForm>,
) -> Result<Response, ApiError> {
    require(&account, &[Role::Marketer])?;
    let site = state.site(&form.site)?;
    let history = history(&state, &site.id).await?;
    let mut page = settings_page(
        &state,
        &account,
        &site.id,
        &history,
        form.text.clone(),
        String::new(),
    );
    page.note = form.note.clone();

    let checked = site_settings::parse(&site.id, &form.text).and_then(|edited| {
        let candidate = site_settings::validate(&site, &edited.settings)?;
        Ok((edited, candidate))
    });
    let (edited, candidate) = match checked {
        Ok(checked) => checked,
        Err(InvalidSettings(problem)) => {
            page.problem = problem;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
        }
    };
    page.ignored = edited.ignored.clone();

    if form.action != "save" {
        page.preview = Some(leads::preview(&state, &candidate, now_ms()).await?);
        page.message = "Nothing is saved yet.".into();
        return Ok(render(&page));
    }

    let text = site_settings::render(&site.id, &edited.settings)?;
    let live = history.first().ok_or(ApiError::NotFound)?;
    if text == live.settings {
        page.message = format!("No change from version {}: nothing saved.", live.version);
        return Ok(render(&page));
    }
    let note = if form.note.trim().is_empty() {
        "edited in the console"
    } else {
        form.note.trim()
    };
    let version = save(&state, &site.id, &text, &account.email, note).await?;
    Ok(to_saved(&site.id, version))
}

/// One version: who saved it, when, why, and what changed from the one before.
async fn version(
    State(state): State<AppState>,
    account: Account,
    Path(number): Path<i64>,
    Query(query): Query<SettingsQuery>,
) -> Result<Response, ApiError> {
    require(&account, &[Role::Marketer])?;
    let site = chosen_site(&state, query.site.as_deref())?;
    let history = history(&state, &site.id).await?;
    let position = history
        .iter()
        .position(|version| version.version == number)
        .ok_or(ApiError::NotFound)?;
    let shown = &history[position];
    let before = history
        .get(position + 1)
        .map_or("", |version| version.settings.as_str());
    let zone = site.zone();
    let page = VersionPage {
        layout: Layout::new(
            &account,
            format!("Settings version {number}"),
            "/console/settings",
        ),
        site: site.id.clone(),
        version: number,
        live: position == 0,
        author: shown.author.clone(),
        at: local_time(shown.created_at, &zone),
        note: shown.note.clone(),
        diff: site_settings::diff(before, &shown.settings),
        text: shown.settings.clone(),
    };
    Ok(render(&page))
}

/// Makes an earlier version the live one again, as a new version.
async fn rollback(
    State(state): State<AppState>,
    account: Account,
    Path(number): Path<i64>,
    Form(form): Form<SiteForm>,
) -> Result<Response, ApiError> {
    require(&account, &[Role::Marketer])?;
    let site = state.site(&form.site)?;
    let earlier = {
        let mut connection = state.store().reader().acquire().await?;
        settings::version(&mut connection, &site.id, number)
            .await?
            .ok_or(ApiError::NotFound)?
    };
    let edited = site_settings::parse(&site.id, &earlier.settings)
        .and_then(|edited| site_settings::validate(&site, &edited.settings).map(|_| edited))
        .map_err(|InvalidSettings(problem)| {
            ApiError::BadRequest(format!(
                "version {number} no longer passes the checks: {problem}"
            ))
        })?;
    let text = site_settings::render(&site.id, &edited.settings)?;
    let note = format!("rollback to version {number}");
    let version = save(&state, &site.id, &text, &account.email, &note).await?;
    Ok(to_saved(&site.id, version))
}

/// Back to the settings page, which announces the version just saved.
fn to_saved(site_id: &str, version: i64) -> Response {
    let to = format!("/console/settings?site={}&saved={version}", encode(site_id));
    Redirect::to(&to).into_response()
}

/// The live settings as a file to keep in version control or paste into
/// `headwater.toml`.
async fn export(
    State(state): State<AppState>,
    account: Account,
    Query(query): Query<SettingsQuery>,
) -> Result<Response, ApiError> {
    require(&account, &[Role::Marketer])?;
    let site = chosen_site(&state, query.site.as_deref())?;
    let history = history(&state, &site.id).await?;
    let live = history.first().ok_or(ApiError::NotFound)?;
    let body = format!(
        "# Headwater site settings: site {}, version {}, saved by {} on {}.\n\
         # Import it in the console, or put these keys in the site's [[sites]] table of\n\
         # headwater.toml (with its origins, secret_key and webhooks).\n{}",
        site.id,
        live.version,
        live.author.replace('\n', " "),
        local_time(live.created_at, &site.zone()),
        live.settings
    );
    let file = format!(
        "attachment; filename=\"headwater-site-{}-v{}.toml\"",
        site.id
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
        live.version
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/toml; charset=utf-8".to_owned(),
            ),
            (header::CONTENT_DISPOSITION, file),
        ],
        body,
    )
        .into_response())
}

/// Re-evaluates every identified contact of the site under the live settings.
async fn rescore(
    State(state): State<AppState>,
    account: Account,
    Form(form): Form<SiteForm>,
) -> Result<Response, ApiError> {
    require(&account, &[Role::Marketer])?;
    let site = state.site(&form.site)?;
    let (evaluated, promoted) = leads::rescore(&state, &site).await?;
    tracing::info!(site = %site.id, by = %account.user_id, evaluated, promoted,
        "re-scored from the console");
    let outcome = format!("Re-scored {evaluated} contact(s); {promoted} became MQL.");
    let to = format!(
        "/console/settings?site={}&rescored={}",
        encode(&site.id),
        encode(&outcome)
    );
    Ok(Redirect::to(&to).into_response())
}

/// Saves a version and makes it live in this process at once (others follow within
/// a few seconds).
async fn save(
    state: &AppState,
    site_id: &str,
    text: &str,
    author: &str,
    note: &str,
) -> Result<i64, ApiError> {
    let mut tx = state.store().begin().await?;
    let version = settings::append(&mut tx, site_id, text, author, note, now_ms()).await?;
    tx.commit().await?;
    state.live_sites().reload(state.store()).await?;
    tracing::info!(site = %site_id, version, "site settings saved");
    Ok(version)
}

async fn history(state: &AppState, site_id: &str) -> Result<Vec<SettingsVersion>, ApiError> {
    let mut connection = state.store().reader().acquire().await?;
    Ok(settings::history(&mut connection, site_id).await?)
}

fn settings_page(
    state: &AppState,
    account: &Account,
    site_id: &str,
    history: &[SettingsVersion],
    text: String,
    message: String,
) -> SettingsPage {
    let zone = state
        .site(site_id)
        .map(|site| site.zone())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    SettingsPage {
        layout: Layout::new(account, "Settings", "/console/settings"),
        sites: site_ids(state),
        site: site_id.to_owned(),
        live_version: history.first().map_or(0, |version| version.version),
        text,
        note: String::new(),
        message,
        problem: String::new(),
        ignored: Vec::new(),
        preview: None,
        versions: history
            .iter()
            .map(|version| VersionLine {
                version: version.version,
                author: version.author.clone(),
                at: local_time(version.created_at, &zone),
                note: version.note.clone(),
            })
            .collect(),
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
