//! Helpers shared by the server's integration tests: the bench (the application
//! on a fresh SQLite file or a fresh PostgreSQL database, driven without a socket)
//! and the databases behind it.

// Each test binary uses part of the bench; what one leaves unused is not dead.
#![allow(dead_code)]

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use headwater_server::{AppState, Config, app};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The database a test runs on.
#[derive(Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named test once per backend.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $test() { super::$test(super::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $test() { super::$test(super::Backend::Postgres).await })*
        }
    };
}

/// The application with the demo configuration on a fresh database.
pub struct Bench {
    pub app: Router,
    pub state: AppState,
    pub folder: tempfile::TempDir,
    pub database: String,
}

pub async fn bench(backend: Backend) -> Bench {
    bench_with(backend, |_| {}).await
}

/// The bench with the configuration changed by `adjust` first.
pub async fn bench_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Bench {
    let folder = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../headwater.example.toml"
    ))
    .unwrap();
    let mut config = Config::parse(&example).unwrap();
    config.server.database = match backend {
        Backend::Sqlite => format!("sqlite://{}", folder.path().join("test.db").display()),
        Backend::Postgres => fresh_postgres().await,
    };
    config.server.demo_site = None;
    // A stand-in bundle, so the asset routes have something to serve.
    let pkg = folder.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("hw.js"), "// the loader").unwrap();
    config.server.pkg_dir = pkg;
    // Nobody listens there; these tests look at the outbox, not at deliveries.
    config.sites[0].webhooks[0].url = "http://127.0.0.1:9/".into();
    adjust(&mut config);
    config.validate().unwrap();
    let database = config.server.database.clone();
    let state = AppState::new(config).await.unwrap();
    Bench {
        app: app(state.clone()),
        state,
        folder,
        database,
    }
}

impl Bench {
    /// Sends a request through the whole application.
    pub async fn exchange(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, bytes)
    }

    /// The rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.state.store().reader())
            .await
            .unwrap()
    }
}

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh, empty PostgreSQL database for one test.
pub async fn fresh_postgres() -> String {
    use sqlx::Connection;
    let admin_url = std::env::var("HEADWATER_TEST_POSTGRES").unwrap_or(DEFAULT_POSTGRES.into());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|error| {
            panic!("PostgreSQL at {admin_url} is needed for these tests ({error})")
        });
    drop_leftovers(&mut admin).await;
    let name = format!("headwater_test_{}", uuid_like());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// Drops the databases earlier test runs left behind (a failed test does not clean
/// up). Databases of this process are left alone: other tests are using them.
async fn drop_leftovers(admin: &mut sqlx::PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'headwater_test_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    let ours = format!("headwater_test_{}_", std::process::id());
    for name in names.iter().filter(|name| !name.starts_with(&ours)) {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut *admin)
            .await;
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
