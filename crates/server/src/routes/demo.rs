//! The demo company site and a demo handoff inbox, for the quick start. The inbox
//! verifies each handoff's signature with the secrets of the configured sites and
//! keeps the latest arrivals in memory: `GET /demo/inbox` lists them, newest first.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};
use tower_http::services::{ServeDir, ServeFile};

use crate::app::AppState;
use crate::clock::now_ms;
use crate::handoff::{SIGNATURE_HEADER, sign};

/// Receivers should refuse signatures older than this (seconds).
const SIGNATURE_TOLERANCE: i64 = 300;

/// Handoffs the inbox keeps: a seeded demo history delivers thousands at start,
/// and the quick start's visitor looks for the one their form just made.
const INBOX_KEEPS: usize = 50;

#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<VecDeque<Value>>>);

impl Inbox {
    /// Keeps `arrival` as the newest, forgetting the oldest beyond [`INBOX_KEEPS`].
    fn keep(&self, arrival: Value) {
        let mut kept = self.0.lock().expect("inbox lock");
        kept.push_front(arrival);
        kept.truncate(INBOX_KEEPS);
    }

    /// What the inbox keeps, newest first.
    fn latest(&self) -> Vec<Value> {
        self.0.lock().expect("inbox lock").iter().cloned().collect()
    }
}

pub fn router(folder: &Path) -> Router<AppState> {
    Router::new()
        .route_service("/", ServeFile::new(folder.join("index.html")))
        .nest_service("/www", ServeDir::new(folder.join("www")))
        .route("/demo/inbox", get(list).post(receive))
        .layer(Extension(Inbox::default()))
}

async fn list(Extension(inbox): Extension<Inbox>) -> Json<Vec<Value>> {
    Json(inbox.latest())
}

async fn receive(
    State(state): State<AppState>,
    Extension(inbox): Extension<Inbox>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let verified = verify(&state, signature, &body);
    let handoff: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    tracing::info!(verified, id = %handoff["id"], "demo inbox received a handoff");
    inbox.keep(json!({ "verified": verified, "handoff": handoff }));
    if verified {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

fn verify(state: &AppState, signature: &str, body: &[u8]) -> bool {
    let Some(timestamp) = signature
        .split(',')
        .find_map(|part| part.strip_prefix("t="))
        .and_then(|t| t.parse::<i64>().ok())
    else {
        return false;
    };
    if (now_ms() / 1000 - timestamp).abs() > SIGNATURE_TOLERANCE {
        return false;
    }
    state
        .config()
        .sites
        .iter()
        .flat_map(|site| &site.webhooks)
        .any(|webhook| sign(&webhook.secret, timestamp, body) == signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inbox_lists_its_latest_handoffs_newest_first() {
        let inbox = Inbox::default();
        for number in 1..=INBOX_KEEPS + 10 {
            inbox.keep(json!({ "number": number }));
        }

        let numbers: Vec<u64> = inbox
            .latest()
            .iter()
            .map(|arrival| arrival["number"].as_u64().unwrap_or(0))
            .collect();
        let expected: Vec<u64> = (11..=(INBOX_KEEPS as u64 + 10)).rev().collect();
        assert_eq!(numbers, expected);
    }
}
