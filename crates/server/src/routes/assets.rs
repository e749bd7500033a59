//! The script tag's loader (`/hw.js`) and the browser bundle (`/pkg/...`), served
//! from the folder `cargo xtask build-web` fills, with the precompressed `.br` and
//! `.gz` files it writes. Customer pages on other origins import these as ES
//! modules and stream the WebAssembly, so they carry an open CORS header.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::AppState;

/// The bundle's file names do not change between builds yet, so browsers keep
/// them only briefly.
// FIXME: content-hashed file names would let the bundle be cached for a year; the
// loader would then be the only short-lived file.
const CACHE_CONTROL: &str = "public, max-age=300";

pub fn router(pkg_dir: &Path) -> Router<AppState> {
    if !pkg_dir.join("hw.js").exists() {
        tracing::warn!(
            folder = %pkg_dir.display(),
            "no hw.js in the bundle folder: run `cargo xtask build-web`"
        );
    }
    let loader = ServeFile::new(pkg_dir.join("hw.js"))
        .precompressed_br()
        .precompressed_gzip();
    let bundle = ServeDir::new(pkg_dir)
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .route_service("/hw.js", loader)
        .nest_service("/pkg", bundle)
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
}
