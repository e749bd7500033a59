//! Storage: SQLite through sqlx, with the schema in `migrations/` embedded in the
//! binary and applied at start.
//!
//! Writes go through a pool of one connection, so write transactions run one after
//! another and never meet SQLite's lock-upgrade failures; reads use their own pool.
//! Queries use `$N` placeholders, which SQLite and PostgreSQL both read.

pub mod contacts;
pub mod events;
pub mod outbox;
pub mod submissions;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

/// Readers beyond this wait; SQLite in WAL mode reads in parallel but the machine
/// has few cores.
const READ_CONNECTIONS: u32 = 4;
/// How long a statement waits for a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database.
#[derive(Clone, Debug)]
pub struct Store {
    writer: SqlitePool,
    reader: SqlitePool,
}

/// A write transaction.
pub type Tx = Transaction<'static, Sqlite>;

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        let parent = std::path::Path::new(path).parent();
        if let Some(parent) = parent.filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the folder of {path}"))?;
        }
        // WAL with synchronous=NORMAL: a commit survives the process being killed at
        // any moment; only a power cut can lose the last few commits.
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("`{url}` is not a SQLite URL"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);

        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot open {url}"))?;
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .context("cannot bring the database schema up to date")?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Store { writer, reader })
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        self.writer.begin().await
    }

    /// The pool for reads.
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// Closes both pools, waiting for transactions in progress.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}
