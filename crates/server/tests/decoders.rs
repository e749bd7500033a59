//! Generated input against every decoder at the HTTP edge: whatever arrives, the
//! answer is a clear client error (or a success for input that happens to be
//! valid), never a server error or a panic, and nothing invalid is stored.
//! Bounded: a fixed number of cases per decoder, from a fixed seed, unless
//! `HEADWATER_FUZZ_CASES` and `HEADWATER_FUZZ_SEED` say otherwise (`bench/fuzz.sh`
//! runs many more cases from a fresh seed).

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use headwater_server::{AppState, Config, app};
use proptest::prelude::*;
use proptest::test_runner::{Config as Runner, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use tower::ServiceExt;

mod common;

const ORIGIN: &str = "http://127.0.0.1:8080";
const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";
const ADMIN: &str = "demo-admin-token-change-me-0001";
/// Cases per decoder in the test suite: a few seconds in all.
const DEFAULT_CASES: u32 = 2000;

struct Bench {
    app: Router,
    runtime: tokio::runtime::Runtime,
    _folder: tempfile::TempDir,
}

/// The databases every decoder is fuzzed against: PostgreSQL refuses some text
/// that SQLite stores (NUL), so both must be behind the edge.
#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

fn bench(backend: Backend) -> Bench {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../headwater.example.toml"
    ))
    .unwrap();
    let mut config = Config::parse(&example).unwrap();
    config.server.database = match backend {
        Backend::Sqlite => format!("sqlite://{}", folder.path().join("fuzz.db").display()),
        Backend::Postgres => runtime.block_on(common::fresh_postgres()),
    };
    config.server.demo_site = None;
    config.sites[0].webhooks.clear();
    let state = runtime.block_on(AppState::new(config)).unwrap();
    Bench {
        app: app(state),
        runtime,
        _folder: folder,
    }
}

impl Bench {
    fn status(&self, path: &str, body: Vec<u8>) -> StatusCode {
        let request = Request::post(path)
            .header("origin", ORIGIN)
            .header("user-agent", CHROME)
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = self
            .runtime
            .block_on(self.app.clone().oneshot(request))
            .unwrap();
        response.status()
    }
}

/// A valid body of each decoder, to mutate.
fn valid_bodies() -> Vec<(&'static str, Value)> {
    let event = json!({
        "id": "11111111-1111-4111-8111-111111111111",
        "session_id": "22222222-2222-4222-8222-222222222222",
        "at": 1_800_000_000_000i64, "url": format!("{ORIGIN}/"), "kind": "page_view",
    });
    vec![
        (
            "/api/v1/events",
            json!({
                "site": "demo", "visitor_id": "33333333-3333-4333-8333-333333333333",
                "sent_at": 1_800_000_000_000i64, "events": [event],
            }),
        ),
        (
            "/api/v1/identify",
            json!({
                "site": "demo", "visitor_id": "33333333-3333-4333-8333-333333333333",
                "form": "demo_request", "token": "44444444-4444-4444-8444-444444444444",
                "answers": { "name": "A", "email": "a@b.io", "company": "C", "company_size": "9" },
                "fill_ms": 5000,
            }),
        ),
        (
            "/api/v1/contacts/no-such-contact/stage",
            json!({ "to": "sal", "reason": "x" }),
        ),
    ]
}

/// Replaces one value somewhere in the document with a generated one, or, where
/// the value is text and `append` is set, adds the generated text to its end (a
/// valid URL with a stray character after it, say).
fn mutate(document: &mut Value, path_choice: usize, replacement: Value, append: bool) {
    let mut paths = Vec::new();
    collect_paths(document, String::new(), &mut paths);
    let pointer = &paths[path_choice % paths.len()];
    let Some(slot) = document.pointer_mut(pointer) else {
        return;
    };
    match (slot, replacement) {
        (Value::String(text), Value::String(suffix)) if append => text.push_str(&suffix),
        (slot, replacement) => *slot = replacement,
    }
}

fn collect_paths(value: &Value, prefix: String, paths: &mut Vec<String>) {
    paths.push(prefix.clone());
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(key, value)| collect_paths(value, format!("{prefix}/{key}"), paths)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(index, value)| collect_paths(value, format!("{prefix}/{index}"), paths)),
        _ => {}
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |n| n.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn runner() -> TestRunner {
    let setting = |name: &str| std::env::var(name).ok();
    let config = Runner {
        cases: setting("HEADWATER_FUZZ_CASES")
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(DEFAULT_CASES),
        failure_persistence: None,
        ..Runner::default()
    };
    let rng = match setting("HEADWATER_FUZZ_SEED").and_then(|seed| seed.parse::<u64>().ok()) {
        Some(seed) => {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
        }
        None => TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    };
    TestRunner::new_with_rng(config, rng)
}

fn check(status: StatusCode, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(!status.is_server_error(), "{what}: answered {status}");
    Ok(())
}

#[test]
fn arbitrary_bytes_get_client_errors() {
    for backend in BACKENDS {
        let bench = bench(backend);
        for (path, _) in valid_bodies() {
            runner()
                .run(&prop::collection::vec(any::<u8>(), 0..512), |bytes| {
                    let status = bench.status(path, bytes.clone());
                    check(status, path)?;
                    prop_assert!(status.is_client_error(), "{path}: {status} for {bytes:?}");
                    Ok(())
                })
                .unwrap();
        }
    }
}

#[test]
fn mutated_valid_bodies_never_cause_a_server_error() {
    for backend in BACKENDS {
        let bench = bench(backend);
        for (path, valid) in valid_bodies() {
            let mutation = (any::<usize>(), any_json(), any::<bool>());
            runner()
                .run(&mutation, |(choice, replacement, append)| {
                    let mut body = valid.clone();
                    mutate(&mut body, choice, replacement, append);
                    let what = format!("{path} on {backend:?}");
                    check(bench.status(path, body.to_string().into_bytes()), &what)
                })
                .unwrap();
        }
    }
}
