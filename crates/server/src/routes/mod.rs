//! The HTTP routes, one module per area, merged here.
//!
//! - [`collect`]: what browsers on customer sites call (events, identification,
//!   the public site configuration); open to each site's configured origins.
//! - [`leads`]: the lead API for people and systems with an API token.
//! - [`assets`]: the script tag's loader and the browser bundle.
//! - [`console`]: the pages people sign in to (report, workbench, settings); not
//!   open to other origins.
//! - [`demo`]: the demo company site and a demo handoff inbox, only when configured.

mod assets;
pub(crate) mod collect;
mod console;
mod demo;
mod leads;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::app::AppState;
use crate::error::ApiError;

/// The API described for clients and generators; `tests/api.rs` checks it against
/// the routes.
const OPENAPI: &str = include_str!("../openapi.json");

/// Every route of the application.
pub fn router(state: &AppState) -> Router<AppState> {
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(collect::router(state))
        .merge(leads::router())
        .merge(console::router(state))
        .merge(assets::router(&state.config().server.pkg_dir));
    if let Some(folder) = &state.config().server.demo_site {
        router = router.merge(demo::router(folder));
    }
    router.layer(axum::middleware::from_fn(refuse_control_characters))
}

/// A path or query that decodes to a control character names nothing we hold,
/// and would reach the database as a key (PostgreSQL refuses NUL in text): it
/// gets a 400 before any route sees it.
async fn refuse_control_characters(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or("", |target| target.as_str());
    let decoded = percent_encoding::percent_decode_str(target).decode_utf8_lossy();
    if headwater_core::wire::has_control_character(&decoded) {
        let refusal = ApiError::BadRequest("the URL holds a control character".into());
        return refusal.into_response();
    }
    next.run(request).await
}

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}

/// Ready when the database answers; load balancers stop sending traffic otherwise.
async fn ready(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, &'static str) {
    match sqlx::query("SELECT 1")
        .execute(state.store().reader())
        .await
    {
        Ok(_) => (axum::http::StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(error = %error, "not ready: the database does not answer");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable",
            )
        }
    }
}

/// Counters and histograms in Prometheus's text format.
async fn metrics() -> impl axum::response::IntoResponse {
    let content_type = "text/plain; version=0.0.4";
    (
        [(axum::http::header::CONTENT_TYPE, content_type)],
        crate::telemetry::recorder().render(),
    )
}
