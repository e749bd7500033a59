//! A forwarding proxy between the browser and the server that can lose an
//! answer: it passes every request on, and when told to, keeps the server's
//! answer to the next event batch to itself and never replies. The server has
//! stored the batch; the browser never learns that it did.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, Uri};
use axum::response::Response;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[derive(Clone)]
struct Shared {
    upstream: Arc<Mutex<String>>,
    swallow_next_batch: Arc<AtomicBool>,
    client: Client<HttpConnector, Body>,
}

pub struct Proxy {
    pub url: String,
    upstream: Arc<Mutex<String>>,
    swallow_next_batch: Arc<AtomicBool>,
}

impl Proxy {
    /// Starts on a free port; it forwards once told where to.
    pub async fn start() -> anyhow::Result<Proxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Shared {
            upstream: Arc::new(Mutex::new(String::new())),
            swallow_next_batch: Arc::new(AtomicBool::new(false)),
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        let swallow_next_batch = shared.swallow_next_batch.clone();
        let upstream = shared.upstream.clone();
        let app = Router::new().fallback(forward).with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Proxy {
            url,
            upstream,
            swallow_next_batch,
        })
    }

    /// Forwards to `upstream` (`http://127.0.0.1:port`) from now on.
    pub fn forward_to(&self, upstream: &str) {
        *self.upstream.lock().expect("the proxy's upstream") = upstream.to_owned();
    }

    /// The server's answer to the next event batch is lost on the way back.
    pub fn lose_next_answer(&self) {
        self.swallow_next_batch.store(true, Ordering::SeqCst);
    }
}

async fn forward(State(shared): State<Shared>, mut request: Request) -> Response {
    let lose = request.method() == Method::POST
        && request.uri().path() == "/api/v1/events"
        && shared.swallow_next_batch.swap(false, Ordering::SeqCst);
    let upstream = shared
        .upstream
        .lock()
        .expect("the proxy's upstream")
        .clone();
    let target = format!(
        "{}{}",
        upstream,
        request
            .uri()
            .path_and_query()
            .map_or("/", |path| path.as_str())
    );
    *request.uri_mut() = target.parse::<Uri>().expect("a proxied URL");
    let answer = shared.client.request(request).await;
    if lose {
        // The batch reached the server; its answer never reaches the browser.
        drop(answer);
        return std::future::pending().await;
    }
    match answer {
        Ok(response) => response.map(Body::new),
        Err(error) => Response::builder()
            .status(502)
            .body(Body::from(error.to_string()))
            .expect("a response"),
    }
}
