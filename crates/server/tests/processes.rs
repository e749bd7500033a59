//! The `headwater` binary as operators run it: two processes sharing one
//! PostgreSQL database and its outbox, and a process killed with handoffs still
//! owed, whose successor delivers them.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};

const ORIGIN: &str = "http://127.0.0.1:8080";
/// Server-to-server calls carry the site's secret key instead of an Origin.
const SITE_KEY: &str = "demo-site-secret-key-change-me";

/// Idempotency keys the receiver got, with how often each came.
type Received = Arc<Mutex<BTreeMap<String, usize>>>;

/// A server process, killed when dropped.
struct Process {
    child: Child,
    url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn two_processes_share_one_outbox_and_deliver_each_handoff_once() {
    let database = common::fresh_postgres().await;
    // A slow receiver keeps deliveries in flight while the other process polls the
    // outbox: without claims, it would send the same handoffs again.
    let (receiver, received) = receiver_taking(Duration::from_millis(1_500)).await;
    let folder = tempfile::tempdir().unwrap();
    let config = write_config(folder.path(), &receiver);
    let first = start(&config, &database).await;
    let second = start(&config, &database).await;

    let client = reqwest::Client::new();
    for index in 0..10 {
        let (track, identify) = if index % 2 == 0 {
            (&first, &second)
        } else {
            (&second, &first)
        };
        make_mql(&client, &track.url, &identify.url, index).await;
    }

    wait_for(|| received.lock().unwrap().len() >= 10).await;
    // Both workers poll the outbox every few seconds; give a double delivery time.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 10, "one handoff per MQL");
    assert!(
        received.values().all(|&count| count == 1),
        "each delivered once: {received:?}"
    );
}

#[tokio::test]
async fn a_handoff_owed_by_a_killed_process_is_delivered_after_restart() {
    let folder = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", folder.path().join("headwater.db").display());
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let nobody_listening = format!("http://{closed}/hook");
    let config = write_config(folder.path(), &nobody_listening);

    let first = start(&config, &database).await;
    make_mql(&reqwest::Client::new(), &first.url, &first.url, 0).await;
    // The receiver is down: the first attempt fails and the handoff waits.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(first);

    let (receiver, received) = receiver_taking(Duration::ZERO).await;
    let config = write_config(folder.path(), &receiver);
    let _second = start(&config, &database).await;
    wait_for(|| received.lock().unwrap().len() == 1).await;
}

/// Browses enough and identifies with a matching profile: one MQL, one handoff.
async fn make_mql(client: &reqwest::Client, track: &str, identify: &str, index: usize) {
    let visitor = format!("00000000-0000-4000-8000-{index:012}");
    let session = format!("00000000-0000-4000-9000-{index:012}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let event = |n: usize, page: &str, kind: Value| {
        let mut event = json!({
            "id": format!("00000000-0000-4000-a{n:03}-{index:012}"),
            "session_id": session, "at": now, "url": format!("{ORIGIN}{page}"),
        });
        event
            .as_object_mut()
            .unwrap()
            .extend(kind.as_object().unwrap().clone());
        event
    };
    let events = vec![
        event(1, "/", json!({"kind": "page_view"})),
        event(2, "/www/product.html", json!({"kind": "page_view"})),
        event(3, "/www/pricing.html", json!({"kind": "page_view"})),
        event(
            4,
            "/www/pricing.html",
            json!({"kind": "engagement", "engaged_ms": 9000, "scroll_depth": 100}),
        ),
        event(
            5,
            "/www/pricing.html",
            json!({"kind": "click", "behaviour": "request_demo_click"}),
        ),
    ];
    let batch = json!({ "site": "demo", "visitor_id": visitor, "sent_at": now, "events": events });
    let stored = client
        .post(format!("{track}/api/v1/events"))
        .bearer_auth(SITE_KEY)
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);

    let identification = json!({
        "site": "demo", "visitor_id": visitor, "form": "demo_request",
        "token": format!("00000000-0000-4000-b000-{index:012}"),
        "answers": {
            "name": "Test", "email": format!("lead{index}@northwind.example"),
            "company": "Northwind", "company_size": "250",
        },
    });
    let identified = client
        .post(format!("{identify}/api/v1/identify"))
        .bearer_auth(SITE_KEY)
        .body(identification.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(identified.status(), 200);
}

/// A receiver that records idempotency keys and answers 200 after `delay`.
async fn receiver_taking(delay: Duration) -> (String, Received) {
    let received = Received::default();
    let recorder = received.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap| {
            let recorder = recorder.clone();
            async move {
                let key = headers["idempotency-key"].to_str().unwrap().to_owned();
                *recorder.lock().unwrap().entry(key).or_default() += 1;
                tokio::time::sleep(delay).await;
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// The demo configuration, without the demo site, sending handoffs to `receiver`.
fn write_config(folder: &std::path::Path, receiver: &str) -> std::path::PathBuf {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../headwater.example.toml"
    ))
    .unwrap();
    let config = example
        .replace("demo_site = \".\"", "")
        .replace(
            "url = \"http://127.0.0.1:8080/demo/inbox\"",
            &format!("url = \"{receiver}\""),
        )
        .replace("initial_backoff_ms = 1000", "initial_backoff_ms = 200");
    assert!(
        config.contains(receiver),
        "the example's webhook URL changed"
    );
    let path = folder.join(format!("headwater-{}.toml", receiver.len()));
    std::fs::write(&path, config).unwrap();
    path
}

/// Starts `headwater serve` on a free port and waits until it answers.
async fn start(config: &std::path::Path, database: &str) -> Process {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_headwater"))
        .args(["serve", "--config"])
        .arg(config)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
            database,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let process = Process {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let health = format!("{}/healthz", process.url);
    wait_for_async(|| async {
        reqwest::get(&health)
            .await
            .is_ok_and(|response| response.status() == 200)
    })
    .await;
    process
}

async fn wait_for(mut ready: impl FnMut() -> bool) {
    wait_for_async(|| std::future::ready(ready())).await;
}

async fn wait_for_async<F: std::future::Future<Output = bool>>(mut ready: impl FnMut() -> F) {
    for _ in 0..600 {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after 60 s");
}
