//! Headwater's server: the collector for the tracker, identification for the form,
//! the lead engine that evaluates the lead definition and promotes MQLs, the
//! handoff outbox that delivers signed webhooks, and the static assets (the script,
//! the browser bundle and the demo site).
//!
//! [`app`] builds the whole HTTP application from an [`AppState`], so tests can
//! drive it without a socket; [`serve`] runs it on a listener with the background
//! workers until shutdown.

pub mod accounts;
pub mod config;
pub mod handoff;
pub mod report;
pub mod seed;
pub mod settings;
pub mod sla;
pub mod store;

mod anonymity;
mod app;
mod attribution;
mod auth;
mod bots;
mod clock;
mod error;
mod ingest;
mod leads;
mod limits;
mod routes;
mod telemetry;

pub use app::{AppState, app, serve};
pub use config::Config;
pub use error::ApiError;
