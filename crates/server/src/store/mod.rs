//! Storage through sqlx's `Any` driver: SQLite by default (embedded, one file), or
//! PostgreSQL when the database URL says `postgres://`. Both schemas live in
//! `migrations/<backend>/`, are embedded in the binary and are applied at start.
//!
//! Queries use `$N` placeholders and SQL both databases read. Where they differ
//! (locking, claiming outbox rows) a function asks [`Store::backend`].
//!
//! With SQLite, writes go through a pool of one connection, so write transactions
//! run one after another. With PostgreSQL, several server processes may write at
//! once; the few read-then-write steps that must not interleave take a
//! transaction-scoped advisory lock ([`lock`]).

pub mod breaches;
pub mod contacts;
pub mod events;
pub mod outbox;
pub mod privacy;
pub mod salts;
pub mod settings;
pub mod submissions;
pub mod users;
pub mod visitors;
pub mod workbench;

use std::time::Duration;

use anyhow::Context;
use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Transaction};

/// Readers beyond this wait; SQLite in WAL mode reads in parallel but the machine
/// has few cores.
const READ_CONNECTIONS: u32 = 4;
/// PostgreSQL writers per process: enough to overlap network round trips.
const POSTGRES_WRITE_CONNECTIONS: u32 = 8;
/// Keys locked in one statement by [`lock_all`]: one parameter each, well within
/// PostgreSQL's limit on bound parameters.
const MAX_LOCKS_PER_STATEMENT: usize = 1000;
/// How long to wait for a free connection before failing the request.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// WAL with synchronous=NORMAL: a commit survives the process being killed at any
/// moment; only a power cut can lose the last few commits. The busy timeout covers
/// a second process (a backup, the CLI) holding the lock briefly.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                              PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

/// Which database is behind the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database.
#[derive(Clone, Debug)]
pub struct Store {
    writer: AnyPool,
    reader: AnyPool,
    backend: Backend,
}

/// A write transaction.
pub type Tx = Transaction<'static, Any>;

impl Store {
    /// Opens the database at `url` (`sqlite://file.db` or `postgres://...`),
    /// creating a SQLite file if needed, and brings its schema up to date.
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!("`{url}` is neither a sqlite:// nor a postgres:// URL");
        };

        let store = match backend {
            Backend::Sqlite => {
                let url = sqlite_url(url)?;
                let writer = sqlite_pool(1).connect(&url).await;
                let writer = writer.with_context(|| format!("cannot open {url}"))?;
                SQLITE_MIGRATIONS
                    .run(&writer)
                    .await
                    .context("cannot migrate the database")?;
                let reader = sqlite_pool(READ_CONNECTIONS).connect(&url).await?;
                Store {
                    writer,
                    reader,
                    backend,
                }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(POSTGRES_WRITE_CONNECTIONS)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect(url)
                    .await
                    .context("cannot connect to PostgreSQL")?;
                POSTGRES_MIGRATIONS
                    .run(&pool)
                    .await
                    .context("cannot migrate the database")?;
                Store {
                    writer: pool.clone(),
                    reader: pool,
                    backend,
                }
            }
        };
        Ok(store)
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        self.writer.begin().await
    }

    /// Starts a write transaction that holds SQLite's write lock from its first
    /// statement. The collector reads its visitors before it writes: in a deferred
    /// transaction another process (the CLI, a backup) committing in between would
    /// make the first write fail at once instead of waiting its turn.
    pub async fn begin_write_first(&self) -> sqlx::Result<Tx> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
    }

    /// The pool for reads.
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes both pools, waiting for transactions in progress.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// Serialises the rest of the transaction with every other transaction that locks
/// the same key, across processes. SQLite transactions are serialised already.
pub async fn lock(connection: &mut AnyConnection, key: &str) -> sqlx::Result<()> {
    if backend_of(connection) == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// [`lock`] for several keys in one statement (one round trip instead of one
/// per key), taken in the order given.
pub async fn lock_all(connection: &mut AnyConnection, keys: &[String]) -> sqlx::Result<()> {
    if backend_of(connection) != Backend::Postgres {
        return Ok(());
    }
    for chunk in keys.chunks(MAX_LOCKS_PER_STATEMENT) {
        let positions: Vec<String> = (0..chunk.len())
            .map(|position| format!("(${}, {position})", position + 1))
            .collect();
        // PostgreSQL evaluates a volatile function in the select list after the
        // sort, so the locks are taken in the order of `position`.
        let sql = format!(
            "SELECT pg_advisory_xact_lock(hashtextextended(keys.key, 0))
             FROM (VALUES {}) AS keys (key, position)
             ORDER BY keys.position",
            positions.join(", ")
        );
        let mut query = sqlx::query(&sql).persistent(false);
        for key in chunk {
            query = query.bind(key.as_str());
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// The placeholders of a multi-row `VALUES` list: `rows` groups of `columns`,
/// numbered from `first`. PostgreSQL reads `$N`; SQLite gets plain `?`, because
/// sqlx looks each numbered SQLite parameter up by name, which costs time
/// quadratic in their number. A statement built with these must use them for
/// every parameter it has.
pub fn placeholders(backend: Backend, first: usize, rows: usize, columns: usize) -> String {
    let row = |index: usize| {
        let numbers: Vec<String> = (0..columns)
            .map(|column| placeholder(backend, first + index * columns + column))
            .collect();
        format!("({})", numbers.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// The placeholder of parameter `number`, in the style of [`placeholders`].
pub fn placeholder(backend: Backend, number: usize) -> String {
    match backend {
        Backend::Sqlite => "?".into(),
        Backend::Postgres => format!("${number}"),
    }
}

/// The backend of an open connection.
pub fn backend_of(connection: &AnyConnection) -> Backend {
    if connection
        .backend_name()
        .to_ascii_lowercase()
        .starts_with("postgres")
    {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

fn sqlite_pool(connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // An embedded database has no link to lose; the test would cost a trip to
        // sqlx's SQLite thread on every acquire (every group of the collector).
        .test_before_acquire(false)
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection.execute(SQLITE_PRAGMAS).await?;
                Ok(())
            })
        })
}

/// The URL with `mode=rwc`, so the file is created on first start, and its folder
/// created too.
fn sqlite_url(url: &str) -> anyhow::Result<String> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    let parent = std::path::Path::new(path).parent();
    if let Some(parent) = parent.filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the folder of {path}"))?;
    }
    Ok(if url.contains('?') {
        url.to_owned()
    } else {
        format!("{url}?mode=rwc")
    })
}
