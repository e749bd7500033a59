//! The lead API, for the qualification team, sales and the systems they use: read
//! leads (one, or all whose stage changed since a moment), move them through the
//! waterfall, export and erase a contact, and inspect or replay handoffs. Every
//! call needs an API token (`Authorization: Bearer ...`); the token's role decides
//! what it may do.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use headwater_core::{Role, Stage};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::leads::{self, MoveOutcome};
use crate::store::{breaches, contacts, outbox, privacy};

/// Most leads one page of the pull API returns.
const MAX_PAGE: i64 = 500;

#[derive(Deserialize)]
struct LeadQuery {
    site: String,
    #[serde(default)]
    stage: Option<Stage>,
    /// Milliseconds since the Unix epoch; leads whose stage changed after it.
    #[serde(default)]
    changed_since: i64,
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Deserialize)]
struct MoveRequest {
    to: Stage,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
struct BreachQuery {
    site: String,
    #[serde(default)]
    since: i64,
}

#[derive(Deserialize)]
struct HandoffQuery {
    #[serde(default = "dead")]
    state: String,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/contacts", get(list))
        .route("/api/v1/contacts/{id}", get(show).delete(erase))
        .route("/api/v1/contacts/{id}/stage", post(move_lead))
        .route("/api/v1/contacts/{id}/export", get(export))
        .route("/api/v1/sites/{site}/rescore", post(rescore))
        .route("/api/v1/sla/breaches", get(sla_breaches))
        .route("/api/v1/handoffs", get(handoffs))
        .route("/api/v1/handoffs/{id}/replay", post(replay))
}

/// Leads of a site whose stage changed after `changed_since`, oldest change first,
/// optionally in one stage: poll with the last `stage_changed_at` seen.
async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    Query(query): Query<LeadQuery>,
) -> Result<Json<Value>, ApiError> {
    state.site(&query.site)?;
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let mut connection = state.store().reader().acquire().await?;
    let leads = contacts::changed_since(
        &mut connection,
        &query.site,
        query.stage,
        query.changed_since,
        limit,
    )
    .await?;
    Ok(Json(json!({ "leads": leads })))
}

/// A lead with its verdict and stage history.
async fn show(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut connection = state.store().reader().acquire().await?;
    let contact = contacts::find(&mut connection, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let history = contacts::stage_history(&mut connection, &id).await?;
    let breaches = breaches::of_contact(&mut connection, &id).await?;
    Ok(Json(
        json!({ "contact": contact, "stage_history": history, "sla_breaches": breaches }),
    ))
}

/// Moves a lead: `{"to": "sal", "reason": "..."}`.
async fn move_lead(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<MoveRequest>,
) -> Result<Json<MoveOutcome>, ApiError> {
    let outcome = leads::move_by_person(&state, &caller, &id, request.to, &request.reason).await?;
    Ok(Json(outcome))
}

/// Everything held about a contact.
async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Admin, Role::Marketer])?;
    let mut connection = state.store().reader().acquire().await?;
    let document = privacy::export(&mut connection, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(document))
}

/// Erases a contact and everything held about it.
async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(&[Role::Admin])?;
    let mut tx = state.store().begin().await?;
    if !privacy::erase(&mut tx, &id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    tracing::info!(contact = %id, by = %caller.name, "contact erased");
    Ok(StatusCode::NO_CONTENT)
}

/// Re-evaluates every identified contact of a site from its stored events, e.g.
/// after the lead definition changed. Contacts that now match are promoted.
async fn rescore(
    State(state): State<AppState>,
    caller: Caller,
    Path(site_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Admin, Role::Marketer])?;
    let site = state.site(&site_id)?;
    let (evaluated, promoted) = leads::rescore(&state, &site).await?;
    Ok(Json(
        json!({ "evaluated": evaluated, "promoted": promoted }),
    ))
}

/// Service-level breaches of a site detected after `since` (milliseconds).
async fn sla_breaches(
    State(state): State<AppState>,
    _caller: Caller,
    Query(query): Query<BreachQuery>,
) -> Result<Json<Value>, ApiError> {
    state.site(&query.site)?;
    let mut connection = state.store().reader().acquire().await?;
    let breaches = breaches::of_site(&mut connection, &query.site, query.since).await?;
    Ok(Json(json!({ "breaches": breaches })))
}

/// Handoffs in a state, `dead` by default.
async fn handoffs(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<HandoffQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Admin])?;
    let mut connection = state.store().reader().acquire().await?;
    let handoffs = outbox::in_state(&mut connection, &query.state, MAX_PAGE).await?;
    Ok(Json(json!({ "handoffs": handoffs })))
}

/// Sends a handoff again with the same id.
async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(&[Role::Admin])?;
    let mut tx = state.store().begin().await?;
    if !outbox::replay(&mut tx, &id, now_ms()).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    state.wake_handoffs();
    tracing::info!(handoff = %id, by = %caller.name, "handoff replayed");
    Ok(StatusCode::ACCEPTED)
}

fn dead() -> String {
    outbox::DEAD.to_owned()
}
