//! What the collector keeps and what it will not: Do Not Track and Global Privacy
//! Control, cookieless visitors, addresses as the site allows, the day's salt, and
//! the campaign touches kept on each visitor. On SQLite and again on PostgreSQL.

#[macro_use]
mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use common::{Backend, Bench, bench, bench_with};
use headwater_server::config::{ConsentMode, IpStorage};
use serde_json::{Value, json};
use tower::ServiceExt;

const ORIGIN: &str = "http://127.0.0.1:8080";
const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
const VISITOR: &str = "6f1c2a34-9b8e-4d7a-a1c3-0e5f6a7b8c9d";
const SESSION: &str = "0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70";

on_both_backends!(
    a_visitor_asking_not_to_be_tracked_is_answered_and_kept_nowhere,
    a_form_sent_asking_not_to_be_tracked_is_saved_unlinked,
    cookieless_visitors_are_a_hash_of_the_day,
    addresses_are_kept_only_as_the_site_allows,
    the_first_and_last_touch_are_kept_on_the_visitor,
    touches_of_batches_committed_together_are_merged,
    the_salt_of_a_day_is_shared_and_gone_with_the_day,
);

/// A request from a browser at `address` with `user_agent` and extra headers.
async fn post_from(
    bench: &Bench,
    address: &str,
    user_agent: &str,
    headers: &[(&str, &str)],
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let mut request = Request::post(path)
        .header("origin", ORIGIN)
        .header("user-agent", user_agent);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::from(body.to_string())).unwrap();
    let peer: SocketAddr = format!("{address}:40000").parse().unwrap();
    let app = bench.app.clone().layer(MockConnectInfo(peer));
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn page_view(url: &str, referrer: &str, at: i64) -> Value {
    json!({
        "id": new_id(), "session_id": SESSION, "at": at, "kind": "page_view",
        "url": format!("{ORIGIN}{url}"), "referrer": referrer,
    })
}

fn batch(visitor: &str, events: Vec<Value>) -> Value {
    json!({ "site": "demo", "visitor_id": visitor, "sent_at": now(), "events": events })
}

async fn column(bench: &Bench, sql: &str) -> Vec<Option<String>> {
    sqlx::query_scalar(sql)
        .fetch_all(bench.state.store().reader())
        .await
        .unwrap()
}

async fn a_visitor_asking_not_to_be_tracked_is_answered_and_kept_nowhere(backend: Backend) {
    let honouring = bench(backend).await;
    for signal in [("dnt", "1"), ("sec-gpc", "1")] {
        let body = batch(VISITOR, vec![page_view("/www/pricing.html", "", now())]);
        let (status, reply) = post_from(
            &honouring,
            "198.51.100.7",
            CHROME,
            &[signal],
            "/api/v1/events",
            &body,
        )
        .await;
        assert_eq!(
            (status, &reply["accepted"]),
            (StatusCode::OK, &json!(1)),
            "{signal:?}"
        );
    }
    assert_eq!(honouring.count("events").await, 0);
    assert_eq!(honouring.count("visitors").await, 0);

    // Where the law lets a site ignore the signals, it may say so.
    let ignoring = bench_with(backend, |config| {
        config.sites[0].privacy.respect_do_not_track = false;
    })
    .await;
    let body = batch(VISITOR, vec![page_view("/www/pricing.html", "", now())]);
    let (status, _) = post_from(
        &ignoring,
        "198.51.100.7",
        CHROME,
        &[("dnt", "1")],
        "/api/v1/events",
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ignoring.count("events").await, 1);
}

async fn a_form_sent_asking_not_to_be_tracked_is_saved_unlinked(backend: Backend) {
    let bench = bench(backend).await;
    let browsing = batch(VISITOR, vec![page_view("/www/pricing.html", "", now())]);
    post_from(
        &bench,
        "198.51.100.7",
        CHROME,
        &[],
        "/api/v1/events",
        &browsing,
    )
    .await;
    let form = json!({
        "site": "demo", "visitor_id": VISITOR, "form": "demo_request", "token": new_id(),
        "answers": {
            "name": "Pat Private", "email": "pat@northwind.example",
            "company": "Northwind", "company_size": "80",
        },
        "fill_ms": 9_000,
    });
    let (status, _) = post_from(
        &bench,
        "198.51.100.7",
        CHROME,
        &[("dnt", "1")],
        "/api/v1/identify",
        &form,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let submitted_by = column(&bench, "SELECT visitor_id FROM submissions").await;
    assert_eq!(submitted_by.len(), 1, "the form is saved");
    assert_ne!(submitted_by[0].as_deref(), Some(VISITOR));
    let stage_of_browsing = column(
        &bench,
        &format!(
            "SELECT c.stage FROM contacts c JOIN visitors v ON v.contact_id = c.id \
             WHERE v.id = '{VISITOR}'"
        ),
    )
    .await;
    assert_eq!(
        stage_of_browsing,
        [Some("inquiry".to_owned())],
        "the browsing stays apart"
    );
}

async fn cookieless_visitors_are_a_hash_of_the_day(backend: Backend) {
    let bench = bench_with(backend, |config| {
        config.sites[0].privacy.consent = ConsentMode::Cookieless;
    })
    .await;
    let visits = [
        ("198.51.100.7", CHROME),
        ("198.51.100.7", CHROME),
        ("198.51.100.7", FIREFOX),
        ("198.51.100.8", CHROME),
    ];
    for (address, user_agent) in visits {
        let body = batch("", vec![page_view("/www/pricing.html", "", now())]);
        let (status, _) =
            post_from(&bench, address, user_agent, &[], "/api/v1/events", &body).await;
        assert_eq!(status, StatusCode::OK);
    }
    let visitors = column(&bench, "SELECT visitor_id FROM events").await;
    let distinct: std::collections::BTreeSet<_> = visitors.iter().flatten().collect();
    assert_eq!(
        distinct.len(),
        3,
        "one visitor per address and browser: {visitors:?}"
    );
    assert!(distinct.iter().all(|id| uuid::Uuid::try_parse(id).is_ok()));

    // Without knowing the client, no stand-in id can be made: refused, nothing kept.
    let request = Request::post("/api/v1/events")
        .header("origin", ORIGIN)
        .header("user-agent", CHROME)
        .body(Body::from(
            batch("", vec![page_view("/", "", now())]).to_string(),
        ))
        .unwrap();
    let (status, _, _) = bench.exchange(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bench.count("events").await, 4);
}

async fn addresses_are_kept_only_as_the_site_allows(backend: Backend) {
    let cases = [
        (IpStorage::None, "203.0.113.77", None),
        (
            IpStorage::Truncated,
            "203.0.113.77",
            Some("203.0.113.0".to_owned()),
        ),
        (
            IpStorage::Truncated,
            "2001:db8:85a3:8d3:1319:8a2e:370:7348",
            Some("2001:db8:85a3::".to_owned()),
        ),
    ];
    for (policy, address, expected) in cases {
        let bench = bench_with(backend, |config| config.sites[0].privacy.store_ip = policy).await;
        let body = batch(VISITOR, vec![page_view("/", "", now())]);
        let peer = if address.contains(':') {
            format!("[{address}]")
        } else {
            address.to_owned()
        };
        post_from(&bench, &peer, CHROME, &[], "/api/v1/events", &body).await;
        let kept = column(&bench, "SELECT address FROM visitors").await;
        assert_eq!(kept, [expected], "{policy:?} {address}");
    }
    // The row is written only when what is kept changes: the same address again
    // leaves it, another one moves it.
    let moving = bench_with(backend, |config| {
        config.sites[0].privacy.store_ip = IpStorage::Truncated
    })
    .await;
    for (address, expected) in [
        ("203.0.113.77", "203.0.113.0"),
        ("203.0.113.78", "203.0.113.0"),
        ("198.51.100.9", "198.51.100.0"),
    ] {
        let body = batch(VISITOR, vec![page_view("/", "", now())]);
        post_from(&moving, address, CHROME, &[], "/api/v1/events", &body).await;
        let kept = column(&moving, "SELECT address FROM visitors").await;
        assert_eq!(kept, [Some(expected.to_owned())], "after {address}");
    }
    let hashing = bench_with(backend, |config| {
        config.sites[0].privacy.store_ip = IpStorage::Hashed
    })
    .await;
    let body = batch(VISITOR, vec![page_view("/", "", now())]);
    post_from(
        &hashing,
        "203.0.113.77",
        CHROME,
        &[],
        "/api/v1/events",
        &body,
    )
    .await;
    let kept = column(&hashing, "SELECT address FROM visitors").await;
    let kept = kept[0].clone().unwrap_or_default();
    assert_eq!(kept.len(), 32, "{kept}");
    assert!(!kept.contains("203.0.113"));
}

async fn the_first_and_last_touch_are_kept_on_the_visitor(backend: Backend) {
    check_touches(backend, false).await;
}

/// Batches sent at once are committed together (one group): the touches of
/// several batches of one visitor are merged in one update.
async fn touches_of_batches_committed_together_are_merged(backend: Backend) {
    check_touches(backend, true).await;
}

/// Sends one visitor's page views in an order other than they happened (one at a
/// time, or all at once), and checks its first and last touch.
async fn check_touches(backend: Backend, at_once: bool) {
    let bench = bench(backend).await;
    let start = now() - 60_000;
    // Sent in an order other than they happened: a retry arriving late.
    let visits = [
        (20, "/www/pricing.html", "https://www.linkedin.com/feed/"),
        (
            0,
            "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring+launch",
            "",
        ),
        (10, "/www/product.html", ""),
        (30, "/www/demo.html", ""),
        (
            25,
            "/www/product.html",
            "http://127.0.0.1:8080/www/pricing.html",
        ),
    ];
    let bodies: Vec<Value> = visits
        .iter()
        .map(|(seconds, url, referrer)| {
            batch(
                VISITOR,
                vec![page_view(url, referrer, start + seconds * 1000)],
            )
        })
        .collect();
    let statuses = if at_once {
        let sent = bodies
            .iter()
            .map(|body| post_from(&bench, "198.51.100.7", CHROME, &[], "/api/v1/events", body));
        futures_util::future::join_all(sent).await
    } else {
        let mut replies = Vec::new();
        for body in &bodies {
            replies
                .push(post_from(&bench, "198.51.100.7", CHROME, &[], "/api/v1/events", body).await);
        }
        replies
    };
    for (status, _) in statuses {
        assert_eq!(status, StatusCode::OK);
    }
    let touches = |column: &str| {
        let sql = format!("SELECT {column} FROM visitors WHERE id = '{VISITOR}'");
        let bench = &bench;
        async move {
            let text = self::column(bench, &sql)
                .await
                .remove(0)
                .unwrap_or_default();
            let touch: Value = serde_json::from_str(&text).unwrap();
            format!(
                "{} / {} / {}",
                touch["source"], touch["medium"], touch["campaign"]
            )
        }
    };
    assert_eq!(
        touches("first_touch").await,
        r#""newsletter" / "email" / "spring launch""#
    );
    assert_eq!(
        touches("last_touch").await,
        r#""linkedin.com" / "social" / null"#
    );
}

async fn the_salt_of_a_day_is_shared_and_gone_with_the_day(backend: Backend) {
    let bench = bench(backend).await;
    let day = 86_400_000;
    let monday = 20_000 * day;
    let mut tx = bench.state.store().begin().await.unwrap();
    let first = headwater_server::store::salts::of_day(&mut tx, monday / day)
        .await
        .unwrap();
    let again = headwater_server::store::salts::of_day(&mut tx, monday / day)
        .await
        .unwrap();
    assert_eq!(first, again, "one salt a day, whoever asks");
    let tuesday = headwater_server::store::salts::of_day(&mut tx, monday / day + 1)
        .await
        .unwrap();
    assert_ne!(first, tuesday);
    tx.commit().await.unwrap();
    assert_eq!(bench.count("daily_salts").await, 1, "Monday's salt is gone");
}
