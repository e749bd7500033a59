//! Helpers shared by the server's integration tests.

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
