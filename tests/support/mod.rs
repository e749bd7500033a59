//! The test bench for end-to-end tests: the real server on a free port with a fresh
//! SQLite file, a webhook receiver that answers as a test scripts it, and headless
//! Chromium driven through chromedriver.

// Each test binary uses part of the bench; what one leaves unused is not dead.
#![allow(dead_code, unused_imports)]

pub mod browser;
pub mod proxy;
pub mod receiver;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use headwater_server::{AppState, Config};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::sync::oneshot;

pub use browser::Browser;
pub use receiver::Receiver;

/// How long a test waits for something that should happen within a second or two.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_owned()
}

/// A running Headwater server with the demo site.
pub struct Server {
    pub url: String,
    pub database: SqlitePool,
    /// The database's URL, for a test that opens it with Headwater's own store.
    #[allow(dead_code, reason = "only some test binaries open the store")]
    pub database_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _folder: tempfile::TempDir,
}

impl Server {
    /// Starts the server with the demo configuration, sending handoffs to `handoff_url`.
    pub async fn start(handoff_url: &str) -> anyhow::Result<Server> {
        Self::start_with(handoff_url, |_| {}).await
    }

    /// The same, with the configuration changed by `adjust` first (the demo site
    /// is `config.sites[0]`).
    pub async fn start_with(
        handoff_url: &str,
        adjust: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Server> {
        if !root().join("pkg/hw.js").exists() {
            bail!(
                "the browser bundle is missing: run `cargo xtask build-web` (or `cargo xtask test`)"
            );
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let folder = tempfile::tempdir()?;
        let database_path = folder.path().join("headwater.db");

        let example = std::fs::read_to_string(root().join("headwater.example.toml"))?;
        let mut config = Config::parse(&example)?;
        config.server.database = format!("sqlite://{}", database_path.display());
        config.server.pkg_dir = root().join("pkg");
        config.server.demo_site = Some(root());
        let site = &mut config.sites[0];
        site.origins = vec![url.clone()];
        let webhook = site
            .webhooks
            .first_mut()
            .context("the example has a webhook")?;
        webhook.url = handoff_url.to_owned();
        webhook.initial_backoff_ms = 200;
        adjust(&mut config);
        config.validate()?;

        let state = AppState::new(config).await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(headwater_server::serve(state, listener, async move {
            let _ = stopped.await;
        }));
        let options = SqliteConnectOptions::new()
            .filename(&database_path)
            .read_only(true);
        let database = SqlitePool::connect_with(options).await?;
        Ok(Server {
            url,
            database,
            database_url: format!("sqlite://{}", database_path.display()),
            stop: Some(stop),
            task,
            _folder: folder,
        })
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.database.close().await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await??;
        Ok(())
    }
}

impl Server {
    /// Rows of a query against the server's database, each as its columns' text.
    pub async fn rows(&self, sql: &str) -> anyhow::Result<Vec<Vec<String>>> {
        use sqlx::Row;
        let rows = sqlx::query(sql).fetch_all(&self.database).await?;
        rows.iter()
            .map(|row| {
                (0..row.columns().len())
                    .map(|index| {
                        let text: Option<String> =
                            row.try_get::<Option<String>, _>(index).or_else(|_| {
                                row.try_get::<Option<i64>, _>(index)
                                    .map(|number| number.map(|number| number.to_string()))
                            })?;
                        Ok(text.unwrap_or_default())
                    })
                    .collect()
            })
            .collect()
    }
}

/// POSTs JSON as a server would (no `Origin`, the site's key) and returns the
/// status.
pub async fn post_json(url: &str, key: &str, body: &serde_json::Value) -> anyhow::Result<u16> {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, axum::body::Body> = Client::builder(TokioExecutor::new()).build_http();
    let request = axum::http::Request::post(url)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))?;
    Ok(client.request(request).await?.status().as_u16())
}

/// Polls `check` until it returns `Some`, or fails after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
