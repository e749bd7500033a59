//! A webhook receiver standing in for a CRM: records every request and answers
//! with the statuses a test scripts (then 200).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub answered: u16,
}

#[derive(Clone, Default)]
struct Shared {
    script: Arc<Mutex<VecDeque<u16>>>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

pub struct Receiver {
    pub url: String,
    shared: Shared,
}

impl Receiver {
    /// Starts a receiver that answers the first requests with `statuses`, then 200.
    pub async fn start(statuses: &[u16]) -> anyhow::Result<Receiver> {
        let shared = Shared::default();
        shared.script.lock().unwrap().extend(statuses);
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Receiver { url, shared })
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries.lock().unwrap().clone()
    }
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let status = shared.script.lock().unwrap().pop_front().unwrap_or(200);
    shared.deliveries.lock().unwrap().push(Delivery {
        headers,
        body,
        answered: status,
    });
    StatusCode::from_u16(status).unwrap()
}
