//! The HTTP routes, one module per area, merged here.
//!
//! - [`collect`]: what browsers on customer sites call (events, identification,
//!   the public site configuration); open to each site's configured origins.
//! - [`leads`]: the lead API for people and systems with an API token.
//! - [`assets`]: the script tag's loader and the browser bundle.
//! - [`demo`]: the demo company site and a demo handoff inbox, only when configured.

mod assets;
mod collect;
mod demo;
mod leads;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

/// The API described for clients and generators; `tests/api.rs` checks it against
/// the routes.
const OPENAPI: &str = include_str!("../openapi.json");

/// Every route of the application.
pub fn router(state: &AppState) -> Router<AppState> {
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(collect::router(state.config()))
        .merge(leads::router())
        .merge(assets::router(&state.config().server.pkg_dir));
    if let Some(folder) = &state.config().server.demo_site {
        router = router.merge(demo::router(folder));
    }
    router
}

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}
