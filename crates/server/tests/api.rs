//! The HTTP API without a socket: the application driven through
//! `tower::ServiceExt::oneshot`, each test on a fresh SQLite file and again on a
//! fresh PostgreSQL database (`HEADWATER_TEST_POSTGRES`, by default the local
//! server's `test` database, is where the fresh databases are created from).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

#[macro_use]
mod common;

use common::{Backend, Bench, bench, bench_with};

const ORIGIN: &str = "http://127.0.0.1:8080";
const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";
const SITE_KEY: &str = "demo-site-secret-key-change-me";
const VISITOR: &str = "6f1c2a34-9b8e-4d7a-a1c3-0e5f6a7b8c9d";
const SESSION: &str = "0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70";

on_both_backends!(
    bad_batches_get_a_clear_error_and_change_nothing,
    a_foreign_origin_is_refused,
    a_resent_batch_is_stored_once,
    refused_answers_name_each_field_and_store_nothing,
    a_double_submit_is_processed_once,
    a_second_device_is_stitched_to_the_existing_contact,
    the_public_site_configuration_holds_no_secrets,
    a_lead_goes_down_the_whole_waterfall,
    moves_outside_the_model_or_the_role_are_refused_and_leave_no_trace,
    a_recycled_lead_must_earn_the_threshold_again,
    a_contact_can_be_exported_and_erased,
    handoffs_can_be_listed_and_replayed,
    incremental_and_full_scoring_agree,
    a_returning_contact_on_a_new_device_keeps_its_id_and_earns_points_once,
    a_lead_left_too_long_in_a_stage_breaches_its_service_level_once,
    a_lead_that_drops_below_and_climbs_back_is_not_handed_over_again,
    hostile_bodies_are_refused_while_reading_and_store_nothing,
    bots_are_answered_but_leave_no_trace,
    a_server_without_an_origin_needs_the_site_key,
    batches_arriving_together_count_each_event_once,
    control_characters_are_refused_on_every_path,
    spam_gets_the_thank_you_and_is_kept_apart,
    a_known_visitor_is_not_asked_again,
);

#[tokio::test]
async fn clients_and_sites_over_their_rate_limit_get_429_with_retry_after() {
    let proxy: std::net::IpAddr = "10.0.0.1".parse().unwrap();
    let bench = bench_with(Backend::Sqlite, |config| {
        config.server.rate_limit_per_ip = 3;
        config.server.rate_limit_per_site = 8;
        config.server.trusted_proxies = vec![proxy];
    })
    .await;
    let send = |peer: &str, forwarded_for: Option<&str>| {
        let mut request = Request::post("/api/v1/events")
            .header("origin", ORIGIN)
            .header("user-agent", CHROME);
        if let Some(client) = forwarded_for {
            request = request.header("x-forwarded-for", client);
        }
        let body = batch(VISITOR, vec![page_view(&new_id())]).to_string();
        let mut request = request.body(Body::from(body)).unwrap();
        let peer: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        bench.app.clone().oneshot(request)
    };

    for _ in 0..3 {
        assert_eq!(
            send("192.0.2.1", None).await.unwrap().status(),
            StatusCode::OK
        );
    }
    let refused = send("192.0.2.1", None).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");

    // Behind a trusted proxy each client has its own allowance; an untrusted peer's
    // X-Forwarded-For is ignored.
    assert_eq!(
        send("10.0.0.1", Some("198.51.100.7"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        send("10.0.0.1", Some("198.51.100.8"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        send("192.0.2.1", Some("198.51.100.9"))
            .await
            .unwrap()
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // The site as a whole: 8 a second, whoever sends.
    let statuses: Vec<StatusCode> = {
        let mut statuses = Vec::new();
        for client in 0..6 {
            statuses.push(
                send(&format!("203.0.113.{client}"), None)
                    .await
                    .unwrap()
                    .status(),
            );
        }
        statuses
    };
    assert_eq!(
        statuses
            .iter()
            .filter(|status| **status == StatusCode::OK)
            .count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        bench.count("events").await,
        8,
        "refused requests stored nothing"
    );
}

#[tokio::test]
async fn an_overloaded_collector_sheds_with_503_and_retry_after() {
    let bench = bench_with(Backend::Sqlite, |config| {
        config.server.max_waiting_writes = 0
    })
    .await;
    let body = batch(VISITOR, vec![page_view(&new_id())]).to_string();
    let request = Request::post("/api/v1/events")
        .header("origin", ORIGIN)
        .header("user-agent", CHROME)
        .body(Body::from(body))
        .unwrap();
    let response = bench.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(bench.count("events").await, 0);
}

#[tokio::test]
async fn operators_see_readiness_and_metrics() {
    let bench = bench(Backend::Sqlite).await;
    let body = batch(VISITOR, vec![page_view(&new_id())]).to_string();
    assert_eq!(bench.post("/api/v1/events", body).await.0, StatusCode::OK);
    bench.post("/api/v1/events", "not json").await;

    let request = Request::get("/readyz").body(Body::empty()).unwrap();
    assert_eq!(
        bench.app.clone().oneshot(request).await.unwrap().status(),
        StatusCode::OK
    );
    let request = Request::get("/metrics").body(Body::empty()).unwrap();
    let response = bench.app.clone().oneshot(request).await.unwrap();
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    for metric in [
        "headwater_events_accepted_total",
        "headwater_requests_refused_total{reason=\"bad_request\"}",
        "headwater_batch_seconds",
    ] {
        assert!(text.contains(metric), "no {metric} in:\n{text}");
    }
}

/// Every operation the OpenAPI document names is served: the router answers it
/// with something other than its "no such route" 404 or "method not allowed" 405.
#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let bench = bench(Backend::Sqlite).await;
    let (status, document) = bench
        .call("GET", "/api/v1/openapi.json", None, Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 14, "{} paths", paths.len());
    for (path, operations) in paths {
        let concrete = path
            .replace("{site}", "demo")
            .replace("{id}", "no-such-id")
            .replace("{visitor}", VISITOR);
        for method in operations
            .as_object()
            .unwrap()
            .keys()
            .filter(|key| *key != "parameters")
        {
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .header("authorization", format!("Bearer {ADMIN}"))
                .body(Body::empty())
                .unwrap();
            let response = bench.app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let unrouted = (status == StatusCode::NOT_FOUND && body.is_empty())
                || status == StatusCode::METHOD_NOT_ALLOWED;
            assert!(
                !unrouted,
                "{method} {path} is documented but not routed ({status})"
            );
        }
    }
}

impl Bench {
    async fn post(&self, path: &str, body: impl Into<Body>) -> (StatusCode, Value) {
        let request = Request::post(path)
            .header("origin", ORIGIN)
            .header("user-agent", CHROME)
            .body(body.into())
            .unwrap();
        self.send(request).await
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let (status, _, bytes) = self.exchange(request).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn event(id: &str, kind: Value) -> Value {
    let mut event = json!({
        "id": id, "session_id": SESSION, "at": now(),
        "url": format!("{ORIGIN}/www/pricing.html"), "referrer": "",
    });
    event
        .as_object_mut()
        .unwrap()
        .extend(kind.as_object().unwrap().clone());
    event
}

fn batch(visitor: &str, events: Vec<Value>) -> Value {
    json!({ "site": "demo", "visitor_id": visitor, "sent_at": now(), "events": events })
}

fn page_view(id: &str) -> Value {
    event(id, json!({ "kind": "page_view" }))
}

fn identification(visitor: &str, token: &str, email: &str) -> Value {
    json!({
        "site": "demo", "visitor_id": visitor, "form": "demo_request", "token": token,
        "answers": {
            "name": "Ana Pérez", "email": email, "company": "Northwind", "company_size": "250",
        },
        "fill_ms": 6_500,
    })
}

async fn bad_batches_get_a_clear_error_and_change_nothing(backend: Backend) {
    let bench = bench(backend).await;
    let id = "11111111-1111-4111-8111-111111111111";
    let mut foreign_url = page_view(id);
    foreign_url["url"] = json!("https://evil.example/");
    let mut unknown_site = batch(VISITOR, vec![page_view(id)]);
    unknown_site["site"] = json!("nope");
    let cases: Vec<(String, StatusCode, &str)> = vec![
        (
            "{\"site\": \"demo\", \"events\": [".into(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        ("not json".into(), StatusCode::BAD_REQUEST, "bad_request"),
        (
            json!({"site": 1}).to_string(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            batch(VISITOR, vec![event(id, json!({"kind": "teleport"}))]).to_string(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            batch("visitor-1", vec![page_view(id)]).to_string(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            batch(VISITOR, vec![]).to_string(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            batch(VISITOR, (0..101).map(|_| page_view(id)).collect()).to_string(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            batch(VISITOR, vec![foreign_url]).to_string(),
            StatusCode::FORBIDDEN,
            "foreign_origin",
        ),
        (
            unknown_site.to_string(),
            StatusCode::NOT_FOUND,
            "unknown_site",
        ),
    ];
    for (body, status, code) in cases {
        let (actual, reply) = bench.post("/api/v1/events", body.clone()).await;
        assert_eq!(
            (actual, reply["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(!reply["error"]["message"].as_str().unwrap().is_empty());
    }
    let oversized = "x".repeat(100 * 1024);
    assert_eq!(
        bench.post("/api/v1/events", oversized).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    assert_eq!(bench.count("events").await, 0);
    assert_eq!(bench.count("contacts").await, 0);
    assert_eq!(bench.count("visitors").await, 0);
}

async fn a_foreign_origin_is_refused(backend: Backend) {
    let bench = bench(backend).await;
    let body = batch(
        VISITOR,
        vec![page_view("22222222-2222-4222-8222-222222222222")],
    )
    .to_string();
    let request = Request::post("/api/v1/events")
        .header("origin", "https://evil.example")
        .body(Body::from(body))
        .unwrap();
    let (status, reply) = bench.send(request).await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("foreign_origin"))
    );
    assert_eq!(bench.count("events").await, 0);
}

async fn a_resent_batch_is_stored_once(backend: Backend) {
    let bench = bench(backend).await;
    let body = batch(
        VISITOR,
        vec![
            page_view("33333333-3333-4333-8333-333333333333"),
            page_view("44444444-4444-4444-8444-444444444444"),
        ],
    )
    .to_string();
    let (status, first) = bench.post("/api/v1/events", body.clone()).await;
    assert_eq!(
        (status, first),
        (StatusCode::OK, json!({"accepted": 2, "duplicates": 0}))
    );
    let (status, again) = bench.post("/api/v1/events", body).await;
    assert_eq!(
        (status, again),
        (StatusCode::OK, json!({"accepted": 0, "duplicates": 2}))
    );

    // A batch holding a stored id among new ones: only the new ones are stored,
    // and the reply says so.
    let mixed = batch(
        VISITOR,
        vec![
            page_view("55555555-5555-4555-8555-555555555555"),
            page_view("44444444-4444-4444-8444-444444444444"),
            page_view("66666666-6666-4666-8666-666666666666"),
        ],
    )
    .to_string();
    let (status, mixed) = bench.post("/api/v1/events", mixed).await;
    assert_eq!(
        (status, mixed),
        (StatusCode::OK, json!({"accepted": 2, "duplicates": 1}))
    );
    assert_eq!(bench.count("events").await, 4);
    assert_eq!(bench.count("contacts").await, 1);
}

async fn refused_answers_name_each_field_and_store_nothing(backend: Backend) {
    let bench = bench(backend).await;
    let mut body = identification(
        VISITOR,
        "55555555-5555-4555-8555-555555555555",
        "not an address",
    );
    body["answers"]["company_size"] = json!("lots");
    body["answers"]["name"] = json!("я".repeat(201));
    let (status, reply) = bench.post("/api/v1/identify", body.to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<(&str, &str)> = reply["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| {
            (
                field["field"].as_str().unwrap(),
                field["problem"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("name", "too_long"),
            ("email", "invalid_email"),
            ("company_size", "not_a_number")
        ]
    );
    assert_eq!(bench.count("contacts").await, 0);
    assert_eq!(bench.count("submissions").await, 0);
}

async fn a_double_submit_is_processed_once(backend: Backend) {
    let bench = bench(backend).await;
    let body = identification(
        VISITOR,
        "66666666-6666-4666-8666-666666666666",
        "ana@northwind.example",
    )
    .to_string();
    let (first, second) = tokio::join!(
        bench.post("/api/v1/identify", body.clone()),
        bench.post("/api/v1/identify", body)
    );
    assert_eq!(first, (StatusCode::OK, json!({"status": "identified"})));
    assert_eq!(second, first);
    assert_eq!(bench.count("contacts").await, 1);
    assert_eq!(bench.count("submissions").await, 1);
    let stages: Vec<String> = sqlx::query_scalar("SELECT to_stage FROM stage_changes ORDER BY id")
        .fetch_all(bench.state.store().reader())
        .await
        .unwrap();
    assert_eq!(stages, ["inquiry", "known"]);

    // The same again 80 ms apart, with a form whose points make the lead an MQL:
    // the points count once and the lead is handed over once.
    let pages = ["/", "/www/product.html", "/www/pricing.html"];
    let views = pages
        .iter()
        .map(|page| {
            let mut view = page_view(&new_id());
            view["url"] = json!(format!("{ORIGIN}{page}"));
            view
        })
        .collect();
    bench
        .post("/api/v1/events", batch(VISITOR, views).to_string())
        .await;
    let contact_sales = json!({
        "site": "demo", "visitor_id": VISITOR, "form": "contact_sales",
        "token": "67676767-6767-4767-8767-676767676767",
        "answers": {"phone": "+44 20 7946 0958", "consent": "true"}, "fill_ms": 9_000,
    })
    .to_string();
    let later = async {
        tokio::time::sleep(std::time::Duration::from_millis(80)).await;
        bench.post("/api/v1/identify", contact_sales.clone()).await
    };
    let (first, second) =
        tokio::join!(bench.post("/api/v1/identify", contact_sales.clone()), later);
    assert_eq!(first, (StatusCode::OK, json!({"status": "identified"})));
    assert_eq!(second, first, "the second gets the first one's result");
    assert_eq!(bench.count("contacts").await, 1);
    assert_eq!(bench.count("submissions").await, 2, "one per token");
    let (stage, engagement, profile): (String, i64, String) =
        sqlx::query_as("SELECT stage, engagement_score, profile FROM contacts")
            .fetch_one(bench.state.store().reader())
            .await
            .unwrap();
    let profile: Value = serde_json::from_str(&profile).unwrap();
    assert_eq!(
        profile["behaviours"]["form:contact_sales"]["points"], 25,
        "{profile}"
    );
    assert_eq!(
        (stage.as_str(), engagement),
        ("mql", 45),
        "pricing 10, three pages 10, the form 25, once"
    );
    let handoffs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'mql'")
        .fetch_one(bench.state.store().reader())
        .await
        .unwrap();
    assert_eq!(handoffs, 1, "one handoff");
}

async fn a_second_device_is_stitched_to_the_existing_contact(backend: Backend) {
    let bench = bench(backend).await;
    let laptop = VISITOR;
    let phone = "77777777-7777-4777-8777-777777777777";
    bench
        .post(
            "/api/v1/events",
            batch(
                laptop,
                vec![page_view("88888888-8888-4888-8888-888888888888")],
            )
            .to_string(),
        )
        .await;
    bench
        .post(
            "/api/v1/identify",
            identification(
                laptop,
                "99999999-9999-4999-8999-999999999999",
                "ana.perez@northwind.example",
            )
            .to_string(),
        )
        .await;
    let contact: String = sqlx::query_scalar("SELECT id FROM contacts WHERE email IS NOT NULL")
        .fetch_one(bench.state.store().reader())
        .await
        .unwrap();

    bench
        .post(
            "/api/v1/events",
            batch(
                phone,
                vec![page_view("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")],
            )
            .to_string(),
        )
        .await;
    let (status, _) = bench
        .post(
            "/api/v1/identify",
            identification(
                phone,
                "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
                " ANA.Perez@Northwind.example ",
            )
            .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let contacts: Vec<(String, String)> = sqlx::query_as("SELECT id, email FROM contacts")
        .fetch_all(bench.state.store().reader())
        .await
        .unwrap();
    assert_eq!(
        contacts,
        [(contact.clone(), "ANA.Perez@northwind.example".to_string())],
        "old id kept, anonymous phone contact absorbed"
    );
    let visitors: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM visitors WHERE contact_id = $1")
        .bind(&contact)
        .fetch_one(bench.state.store().reader())
        .await
        .unwrap();
    assert_eq!(visitors, 2);
}

async fn the_public_site_configuration_holds_no_secrets(backend: Backend) {
    let bench = bench(backend).await;
    let request = Request::get("/api/v1/sites/demo/config")
        .body(Body::empty())
        .unwrap();
    let (status, config) = bench.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["site"], "demo");
    assert!(config["behaviours"].as_array().unwrap().len() >= 2);
    assert_eq!(config["forms"][0]["id"], "demo_request");
    assert!(config.get("lead_definition").is_none());
    assert!(config.get("handoff").is_none());
}

const ADMIN: &str = "demo-admin-token-change-me-0001";
const QUALIFICATION: &str = "demo-qualification-token-change-me";
const SALES: &str = "demo-sales-token-change-me-000001";

impl Bench {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        };
        self.send(request.body(body).unwrap()).await
    }

    async fn move_lead(
        &self,
        contact: &str,
        token: &str,
        to: &str,
        reason: &str,
    ) -> (StatusCode, Value) {
        let body = json!({ "to": to, "reason": reason });
        self.call(
            "POST",
            &format!("/api/v1/contacts/{contact}/stage"),
            Some(token),
            body,
        )
        .await
    }

    async fn stages(&self, contact: &str) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT to_stage, actor FROM stage_changes WHERE contact_id = $1 ORDER BY id",
        )
        .bind(contact)
        .fetch_all(self.state.store().reader())
        .await
        .unwrap()
    }

    /// A visitor who browses enough and identifies with a matching profile: an MQL.
    async fn mql(&self, visitor: &str, email: &str) -> String {
        let pages = ["/", "/www/product.html", "/www/pricing.html"];
        let mut events: Vec<Value> = pages
            .iter()
            .map(|page| {
                let mut event = page_view(&new_id());
                event["url"] = json!(format!("{ORIGIN}{page}"));
                event
            })
            .collect();
        events.push(event(
            &new_id(),
            json!({"kind": "engagement", "engaged_ms": 30000, "scroll_depth": 100}),
        ));
        events.push(event(
            &new_id(),
            json!({"kind": "click", "behaviour": "request_demo_click"}),
        ));
        assert_eq!(
            self.post("/api/v1/events", batch(visitor, events).to_string())
                .await
                .0,
            StatusCode::OK
        );
        let identify = identification(visitor, &new_id(), email).to_string();
        assert_eq!(
            self.post("/api/v1/identify", identify).await.0,
            StatusCode::OK
        );
        let (id, stage): (String, String) =
            sqlx::query_as("SELECT id, stage FROM contacts WHERE email = $1")
                .bind(email)
                .fetch_one(self.state.store().reader())
                .await
                .unwrap();
        assert_eq!(stage, "mql");
        id
    }
}

fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "00000000-0000-4000-8000-{:012x}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn a_lead_goes_down_the_whole_waterfall(backend: Backend) {
    let bench = bench(backend).await;
    let contact = bench.mql(VISITOR, "ana@northwind.example").await;

    let accepted = bench
        .move_lead(
            &contact,
            QUALIFICATION,
            "sal",
            "budget and timing confirmed",
        )
        .await;
    assert_eq!(
        accepted,
        (
            StatusCode::OK,
            json!({"contact_id": contact, "stage": "sal", "changed": true})
        )
    );
    let again = bench
        .move_lead(&contact, QUALIFICATION, "sal", "clicked twice")
        .await;
    assert_eq!(again.1["changed"], false, "a repeated move is a no-op");
    assert_eq!(
        bench
            .move_lead(&contact, SALES, "sql", "demo went well")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        bench
            .move_lead(&contact, SALES, "customer", "signed")
            .await
            .0,
        StatusCode::OK
    );

    let expected = [
        ("inquiry", "visitor"),
        ("known", "visitor"),
        ("mql", "lead-definition"),
        ("sal", "person:call-centre"),
        ("sql", "person:sales-team"),
        ("customer", "person:sales-team"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(s, a)| (s.to_string(), a.to_string()))
        .collect();
    assert_eq!(bench.stages(&contact).await, expected);

    let (status, page) = bench
        .call(
            "GET",
            "/api/v1/contacts?site=demo&stage=customer",
            Some(SALES),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["leads"][0]["id"], contact.as_str());
    let (status, shown) = bench
        .call(
            "GET",
            &format!("/api/v1/contacts/{contact}"),
            Some(SALES),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["stage_history"].as_array().unwrap().len(), 6);
    assert_eq!(shown["contact"]["verdict"]["mql"], true);

    // Each stage after MQL was announced to the webhook that listens for it.
    // Moves within one millisecond share a timestamp: compare as a set.
    let mut kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM outbox")
        .fetch_all(bench.state.store().reader())
        .await
        .unwrap();
    kinds.sort();
    assert_eq!(kinds, ["customer", "mql", "sal", "sql"]);
}

async fn moves_outside_the_model_or_the_role_are_refused_and_leave_no_trace(backend: Backend) {
    let bench = bench(backend).await;
    let contact = bench.mql(VISITOR, "ana@northwind.example").await;
    let before = bench.stages(&contact).await;

    let cases = [
        (
            Some(ADMIN),
            "customer",
            "skip ahead",
            StatusCode::CONFLICT,
            "refused_move",
        ),
        (
            Some(ADMIN),
            "known",
            "",
            StatusCode::CONFLICT,
            "refused_move",
        ),
        (
            Some(SALES),
            "sal",
            "not mine to accept",
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            Some(QUALIFICATION),
            "recycled",
            "  ",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Some("not-a-token-of-ours-at-all"),
            "sal",
            "",
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (None, "sal", "", StatusCode::UNAUTHORIZED, "unauthorized"),
    ];
    for (token, to, reason, status, code) in cases {
        let body = json!({ "to": to, "reason": reason });
        let (actual, reply) = bench
            .call(
                "POST",
                &format!("/api/v1/contacts/{contact}/stage"),
                token,
                body,
            )
            .await;
        assert_eq!(
            (actual, reply["error"]["code"].as_str()),
            (status, Some(code)),
            "{to} with {token:?}"
        );
    }
    let (status, _) = bench.move_lead("no-such-contact", ADMIN, "sal", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = bench
        .call(
            "POST",
            &format!("/api/v1/contacts/{contact}/stage"),
            Some(ADMIN),
            json!({"to": "lead"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an unknown stage is refused"
    );

    assert_eq!(
        bench.stages(&contact).await,
        before,
        "refused moves record nothing"
    );
    let stage: String = sqlx::query_scalar("SELECT stage FROM contacts WHERE id = $1")
        .bind(&contact)
        .fetch_one(bench.state.store().reader())
        .await
        .unwrap();
    assert_eq!(stage, "mql");
}

async fn a_recycled_lead_must_earn_the_threshold_again(backend: Backend) {
    let bench = bench(backend).await;
    let contact = bench.mql(VISITOR, "ana@northwind.example").await;
    let (status, _) = bench
        .move_lead(&contact, QUALIFICATION, "recycled", "no budget this year")
        .await;
    assert_eq!(status, StatusCode::OK);

    // Old engagement no longer counts: one new page view is not enough.
    bench
        .post(
            "/api/v1/events",
            batch(VISITOR, vec![page_view(&new_id())]).to_string(),
        )
        .await;
    let stage = |bench: &Bench| {
        let contact = contact.clone();
        let pool = bench.state.store().reader().clone();
        async move {
            let stage: String = sqlx::query_scalar("SELECT stage FROM contacts WHERE id = $1")
                .bind(&contact)
                .fetch_one(&pool)
                .await
                .unwrap();
            stage
        }
    };
    assert_eq!(stage(&bench).await, "recycled");

    let mut pricing = page_view(&new_id());
    pricing["url"] = json!(format!("{ORIGIN}/www/pricing.html"));
    let events = vec![
        pricing,
        page_view(&new_id()),
        event(
            &new_id(),
            json!({"kind": "engagement", "engaged_ms": 30000, "scroll_depth": 100}),
        ),
        event(
            &new_id(),
            json!({"kind": "click", "behaviour": "request_demo_click"}),
        ),
    ];
    bench
        .post("/api/v1/events", batch(VISITOR, events).to_string())
        .await;
    assert_eq!(
        stage(&bench).await,
        "mql",
        "new engagement crossed the threshold again"
    );
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM stage_changes WHERE contact_id = $1 ORDER BY id")
            .bind(&contact)
            .fetch_all(bench.state.store().reader())
            .await
            .unwrap();
    assert_eq!(reasons[3], "no budget this year");
    assert_eq!(reasons.len(), 5);
}

async fn a_contact_can_be_exported_and_erased(backend: Backend) {
    let bench = bench(backend).await;
    let contact = bench.mql(VISITOR, "ana@northwind.example").await;
    let other = bench
        .mql(
            "12121212-1212-4212-8212-121212121212",
            "bob@contoso.example",
        )
        .await;

    let path = format!("/api/v1/contacts/{contact}/export");
    assert_eq!(
        bench.call("GET", &path, Some(SALES), Value::Null).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, export) = bench.call("GET", &path, Some(ADMIN), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(export["contact"]["email"], "ana@northwind.example");
    assert_eq!(export["events"].as_array().unwrap().len(), 5);
    assert_eq!(export["visitors"][0]["id"], VISITOR);
    assert_eq!(export["submissions"][0]["answers"]["name"], "Ana Pérez");
    assert_eq!(export["stage_history"].as_array().unwrap().len(), 3);
    assert_eq!(export["handoffs"][0]["event"], "mql");
    // Spam from each contact's browser: only the erased one's goes with it.
    for visitor in [VISITOR, "12121212-1212-4212-8212-121212121212"] {
        let mut spam = identification(visitor, &new_id(), "ana@northwind.example");
        spam["trap"] = json!("x");
        bench.post("/api/v1/identify", spam.to_string()).await;
    }
    assert_eq!(bench.count("spam_submissions").await, 2);

    let erase = format!("/api/v1/contacts/{contact}");
    assert_eq!(
        bench
            .call("DELETE", &erase, Some(QUALIFICATION), Value::Null)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        bench
            .call("DELETE", &erase, Some(ADMIN), Value::Null)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        bench.call("GET", &path, Some(ADMIN), Value::Null).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bench
            .call("DELETE", &erase, Some(ADMIN), Value::Null)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    for table in ["contacts", "visitors", "submissions", "spam_submissions"] {
        assert_eq!(
            bench.count(table).await,
            1,
            "only the other contact's {table} remain"
        );
    }
    assert_eq!(bench.count("events").await, 5);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stage_changes WHERE contact_id <> $1")
        .bind(&other)
        .fetch_one(bench.state.store().reader())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

async fn handoffs_can_be_listed_and_replayed(backend: Backend) {
    let bench = bench(backend).await;
    bench.mql(VISITOR, "ana@northwind.example").await;
    let id: String = sqlx::query_scalar("SELECT id FROM outbox")
        .fetch_one(bench.state.store().reader())
        .await
        .unwrap();
    sqlx::query("UPDATE outbox SET state = 'dead', attempts = 12 WHERE id = $1")
        .bind(&id)
        .execute(bench.state.store().reader())
        .await
        .unwrap();

    let (status, dead) = bench
        .call(
            "GET",
            "/api/v1/handoffs?state=dead",
            Some(ADMIN),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dead["handoffs"][0]["id"], id.as_str());
    let replay = format!("/api/v1/handoffs/{id}/replay");
    assert_eq!(
        bench
            .call("POST", &replay, Some(SALES), Value::Null)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        bench
            .call("POST", &replay, Some(ADMIN), Value::Null)
            .await
            .0,
        StatusCode::ACCEPTED
    );
    let (state, attempts): (String, i64) =
        sqlx::query_as("SELECT state, attempts FROM outbox WHERE id = $1")
            .bind(&id)
            .fetch_one(bench.state.store().reader())
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("pending", 0));
    let missing = "/api/v1/handoffs/no-such-handoff/replay";
    assert_eq!(
        bench
            .call("POST", missing, Some(ADMIN), Value::Null)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

/// The profile and verdict kept on each identified contact.
async fn kept_scores(bench: &Bench) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT id, profile, verdict FROM contacts WHERE email IS NOT NULL ORDER BY id")
        .fetch_all(bench.state.store().reader())
        .await
        .unwrap()
}

async fn incremental_and_full_scoring_agree(backend: Backend) {
    let bench = bench(backend).await;
    let visitors = [
        "13131313-1313-4313-8313-131313131313",
        "14141414-1414-4414-8414-141414141414",
    ];
    for (index, visitor) in visitors.iter().enumerate() {
        let email = format!("person{index}@northwind.example");
        let identify = identification(visitor, &new_id(), &email).to_string();
        assert_eq!(
            bench.post("/api/v1/identify", identify).await.0,
            StatusCode::OK
        );
    }
    // The first also asks for the white paper (15 points), twice: counted once,
    // on the incremental path as on the full one.
    for _ in 0..2 {
        let whitepaper = json!({
            "site": "demo", "visitor_id": visitors[0], "form": "whitepaper", "token": new_id(),
            "answers": {"consent": "true"}, "fill_ms": 5_000,
        });
        let reply = bench.post("/api/v1/identify", whitepaper.to_string()).await;
        assert_eq!(reply.0, StatusCode::OK, "{}", reply.1);
    }
    // Many small batches, each evaluated incrementally.
    let pages = [
        "/",
        "/www/pricing.html",
        "/www/careers.html",
        "/www/product.html",
    ];
    for round in 0..12 {
        for visitor in visitors {
            let mut view = page_view(&new_id());
            view["url"] = json!(format!("{ORIGIN}{}", pages[round % pages.len()]));
            let engaged = event(
                &new_id(),
                json!({
                    "kind": "engagement", "engaged_ms": 1500 * round, "scroll_depth": 7 * round,
                }),
            );
            let events = if round % 3 == 0 {
                vec![view]
            } else {
                vec![view, engaged]
            };
            bench
                .post("/api/v1/events", batch(visitor, events).to_string())
                .await;
        }
    }
    let incremental = kept_scores(&bench).await;
    let mut form_points: Vec<Value> = incremental
        .iter()
        .map(|(_, profile, _)| {
            let profile: Value = serde_json::from_str(profile).unwrap();
            profile["behaviours"]["form:whitepaper"]["points"].clone()
        })
        .collect();
    form_points.sort_by_key(Value::to_string);
    assert_eq!(
        form_points,
        [json!(15), Value::Null],
        "the white paper's points, for its sender only"
    );

    let (status, reply) = bench
        .call(
            "POST",
            "/api/v1/sites/demo/rescore",
            Some(ADMIN),
            Value::Null,
        )
        .await;
    assert_eq!(
        (status, reply["evaluated"].as_i64()),
        (StatusCode::OK, Some(2))
    );
    assert_eq!(
        kept_scores(&bench).await,
        incremental,
        "a full re-score changes nothing"
    );
    let (status, _) = bench
        .call(
            "POST",
            "/api/v1/sites/demo/rescore",
            Some(SALES),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Batches that arrive at once are committed together; each event still counts
/// once, in the store and in the kept profiles, wherever its repeats landed.
async fn batches_arriving_together_count_each_event_once(backend: Backend) {
    let bench = bench(backend).await;
    let identified = [
        "15151515-1515-4515-8515-151515151515",
        "16161616-1616-4616-8616-161616161616",
    ];
    for (index, visitor) in identified.iter().enumerate() {
        let email = format!("buyer{index}@northwind.example");
        let identify = identification(visitor, &new_id(), &email).to_string();
        assert_eq!(
            bench.post("/api/v1/identify", identify).await.0,
            StatusCode::OK
        );
    }
    let anonymous: Vec<String> = (0..10)
        .map(|n| format!("17171717-1717-4717-8717-{n:012x}"))
        .collect();
    let visitors: Vec<&str> = identified
        .into_iter()
        .chain(anonymous.iter().map(String::as_str))
        .collect();

    // Sixty batches of one to three page views; every fifth one is sent twice.
    let mut bodies = Vec::new();
    for n in 0..60 {
        let events = (0..=n % 3).map(|_| page_view(&new_id())).collect();
        let body = batch(visitors[n % visitors.len()], events).to_string();
        if n % 5 == 0 {
            bodies.push(body.clone());
        }
        bodies.push(body);
    }
    let replies = futures_util::future::join_all(
        bodies
            .iter()
            .map(|body| bench.post("/api/v1/events", body.clone())),
    )
    .await;

    let distinct: i64 = (0..60).map(|n| n % 3 + 1).sum();
    let repeated: i64 = (0..60).filter(|n| n % 5 == 0).map(|n| n % 3 + 1).sum();
    let mut totals = (0, 0);
    for (status, reply) in &replies {
        assert_eq!(*status, StatusCode::OK, "{reply}");
        totals.0 += reply["accepted"].as_i64().unwrap();
        totals.1 += reply["duplicates"].as_i64().unwrap();
    }
    assert_eq!(totals, (distinct, repeated));
    assert_eq!(bench.count("events").await, distinct);
    assert_eq!(bench.count("contacts").await, 12);

    let incremental = kept_scores(&bench).await;
    let (status, _) = bench
        .call(
            "POST",
            "/api/v1/sites/demo/rescore",
            Some(ADMIN),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        kept_scores(&bench).await,
        incremental,
        "each event counted once"
    );
}

/// Regression: a NUL character in a URL reached PostgreSQL, which cannot store
/// one in text, and the batch failed with a server error instead of a 400.
async fn control_characters_are_refused_on_every_path(backend: Backend) {
    let bench = bench(backend).await;
    let id = "18181818-1818-4818-8818-181818181818";
    let mut in_url = page_view(id);
    in_url["url"] = json!(format!("{ORIGIN}/pricing\u{0}"));
    let mut in_referrer = page_view(id);
    in_referrer["referrer"] = json!("https://search.example/?q=\u{1b}[31m");
    let in_behaviour = event(id, json!({"kind": "click", "behaviour": "demo\u{0}"}));
    let in_name = event(id, json!({"kind": "custom", "name": "signup\u{7f}"}));
    for event in [in_url, in_referrer, in_behaviour, in_name] {
        let body = batch(VISITOR, vec![event]).to_string();
        let (status, reply) = bench.post("/api/v1/events", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
    }

    let mut identify = identification(VISITOR, &new_id(), "ana@northwind.example");
    identify["answers"]["name"] = json!("Ana\u{0}Pérez");
    identify["answers"]["company"] = json!("North\u{8}wind");
    let (status, reply) = bench.post("/api/v1/identify", identify.to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    let problems: Vec<(&str, &str)> = reply["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| {
            (
                field["field"].as_str().unwrap(),
                field["problem"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            ("name", "invalid_characters"),
            ("company", "invalid_characters")
        ]
    );

    for path in [
        "/api/v1/contacts/%00",
        "/api/v1/contacts?site=demo%00&stage=mql",
        "/api/v1/sla/breaches?site=%1b",
    ] {
        let (status, reply) = bench.call("GET", path, Some(ADMIN), Value::Null).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {reply}");
    }
    let recycle = json!({"to": "recycled", "reason": "no budget\u{0}"});
    let path = format!("/api/v1/contacts/{}/stage", new_id());
    let (status, reply) = bench.call("POST", &path, Some(ADMIN), recycle).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");

    assert_eq!(bench.count("events").await, 0);
    assert_eq!(bench.count("contacts").await, 0);
}

/// A filled honeypot or a form sent faster than a person types is answered like
/// any submission and kept as spam: no contact, no stage, no handoff.
async fn spam_gets_the_thank_you_and_is_kept_apart(backend: Backend) {
    let bench = bench(backend).await;
    let identified = json!({"status": "identified"});
    let honeypot = {
        let mut body = identification(VISITOR, &new_id(), "ana@northwind.example");
        body["trap"] = json!("https://cheap-pills.example");
        body
    };
    let too_fast = {
        let mut body = identification(VISITOR, &new_id(), "ana@northwind.example");
        body["fill_ms"] = json!(350);
        body
    };
    let untimed = {
        let mut body = identification(VISITOR, &new_id(), "ana@northwind.example");
        body.as_object_mut().unwrap().remove("fill_ms");
        body
    };
    for body in [&honeypot, &too_fast, &untimed, &honeypot] {
        let reply = bench.post("/api/v1/identify", body.to_string()).await;
        assert_eq!(reply, (StatusCode::OK, identified.clone()), "{body}");
    }
    assert_eq!(
        bench.count("spam_submissions").await,
        3,
        "a repeat is kept once"
    );
    assert_eq!(bench.count("submissions").await, 0);
    assert_eq!(bench.count("contacts").await, 0);
    assert_eq!(bench.count("outbox").await, 0);

    // A server has no form on screen: its submissions are not timed.
    let request = Request::post("/api/v1/identify")
        .header("authorization", format!("Bearer {SITE_KEY}"))
        .body(Body::from(untimed.to_string()))
        .unwrap();
    assert_eq!(
        bench.send(request).await,
        (StatusCode::OK, identified.clone())
    );
    let person = identification(VISITOR, &new_id(), "ana@northwind.example");
    let reply = bench.post("/api/v1/identify", person.to_string()).await;
    assert_eq!(reply, (StatusCode::OK, identified));
    assert_eq!(bench.count("submissions").await, 2);
    assert_eq!(bench.count("contacts").await, 1);
}

/// Progressive profiling: the form learns which fields are known (names, never
/// values) and a returning visitor answers only the new questions.
async fn a_known_visitor_is_not_asked_again(backend: Backend) {
    let bench = bench(backend).await;
    let known = |visitor: &str, origin: &str| {
        Request::get(format!("/api/v1/sites/demo/visitors/{visitor}/known"))
            .header("origin", origin)
            .body(Body::empty())
            .unwrap()
    };
    let first = identification(VISITOR, &new_id(), "ana@northwind.example");
    assert_eq!(
        bench.post("/api/v1/identify", first.to_string()).await.0,
        StatusCode::OK
    );

    let fields = json!({"known": ["company", "company_size", "email", "name"]});
    assert_eq!(
        bench.send(known(VISITOR, ORIGIN)).await,
        (StatusCode::OK, fields)
    );
    let stranger = "19191919-1919-4919-8919-191919191919";
    let nothing = (StatusCode::OK, json!({"known": []}));
    assert_eq!(bench.send(known(stranger, ORIGIN)).await, nothing);
    assert_eq!(
        bench.send(known("visitor-1", ORIGIN)).await.0,
        StatusCode::BAD_REQUEST
    );
    let foreign = bench.send(known(VISITOR, "https://evil.example")).await;
    assert_eq!(foreign.0, StatusCode::FORBIDDEN);

    // The next visit asks only what is missing.
    let mut second = identification(VISITOR, &new_id(), "");
    second["answers"] = json!({"role": "CTO"});
    let reply = bench.post("/api/v1/identify", second.to_string()).await;
    assert_eq!(reply.0, StatusCode::OK, "{}", reply.1);
    let answers: Vec<String> = sqlx::query_scalar("SELECT answers FROM contacts")
        .fetch_all(bench.state.store().reader())
        .await
        .unwrap();
    let answers: Vec<Value> = answers
        .iter()
        .map(|text| serde_json::from_str(text).unwrap())
        .collect();
    assert_eq!(answers.len(), 1, "still one contact");
    assert_eq!(
        (answers[0]["role"].as_str(), answers[0]["name"].as_str()),
        (Some("CTO"), Some("Ana Pérez"))
    );
    assert_eq!(bench.count("submissions").await, 2);

    // Somebody unknown must answer everything the form requires.
    let mut unknown = identification(stranger, &new_id(), "");
    unknown["answers"] = json!({"role": "CTO"});
    let (status, reply) = bench.post("/api/v1/identify", unknown.to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing: Vec<&str> = reply["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| field["field"].as_str().unwrap())
        .collect();
    assert_eq!(missing, ["name", "email", "company", "company_size"]);
}

async fn a_returning_contact_on_a_new_device_keeps_its_id_and_earns_points_once(backend: Backend) {
    let bench = bench(backend).await;
    let laptop = "15151515-1515-4515-8515-151515151515";
    let private_window = "16161616-1616-4616-8616-161616161616";
    let mut history = Vec::new();
    for index in 0..12 {
        let mut view = page_view(&new_id());
        if index == 0 {
            view["url"] = json!(format!("{ORIGIN}/www/pricing.html"));
        }
        history.push(view);
    }
    bench
        .post("/api/v1/events", batch(laptop, history).to_string())
        .await;
    let identify = identification(laptop, &new_id(), "ana.perez@example.org").to_string();
    bench.post("/api/v1/identify", identify).await;
    let (contact, score_before): (String, i64) =
        sqlx::query_as("SELECT id, engagement_score FROM contacts WHERE email IS NOT NULL")
            .fetch_one(bench.state.store().reader())
            .await
            .unwrap();
    assert_eq!(score_before, 20, "pricing (10) and three pages (10)");

    let mut pricing_again = page_view(&new_id());
    pricing_again["url"] = json!(format!("{ORIGIN}/www/pricing.html"));
    let visit = vec![
        pricing_again,
        event(
            &new_id(),
            json!({"kind": "engagement", "engaged_ms": 4000, "scroll_depth": 40}),
        ),
        page_view(&new_id()),
        event(
            &new_id(),
            json!({"kind": "engagement", "engaged_ms": 2000, "scroll_depth": 60}),
        ),
    ];
    bench
        .post("/api/v1/events", batch(private_window, visit).to_string())
        .await;
    for _ in 0..2 {
        let identify =
            identification(private_window, &new_id(), " ANA.Perez@example.org ").to_string();
        assert_eq!(
            bench.post("/api/v1/identify", identify).await.0,
            StatusCode::OK
        );
    }

    let contacts: Vec<(String, i64)> = sqlx::query_as("SELECT id, engagement_score FROM contacts")
        .fetch_all(bench.state.store().reader())
        .await
        .unwrap();
    assert_eq!(
        contacts,
        [(contact.clone(), 20)],
        "one contact, old id, pricing counted once"
    );
    let events: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events e
         JOIN visitors v ON v.id = e.visitor_id WHERE v.contact_id = $1",
    )
    .bind(&contact)
    .fetch_one(bench.state.store().reader())
    .await
    .unwrap();
    assert_eq!(events, 16);
    let stages: Vec<(String, String)> = bench.stages(&contact).await;
    assert_eq!(
        stages.len(),
        2,
        "inquiry and known, once: the merge moved nobody twice"
    );
}

async fn a_lead_left_too_long_in_a_stage_breaches_its_service_level_once(backend: Backend) {
    const MINUTE: i64 = 60_000;
    let bench = bench(backend).await;
    let contact = bench.mql(VISITOR, "ana@northwind.example").await;
    let check = |at: i64| headwater_server::sla::check(&bench.state, at);

    assert_eq!(
        check(now() + 1_439 * MINUTE).await.unwrap(),
        0,
        "within the 1440 minutes"
    );
    assert_eq!(check(now() + 1_441 * MINUTE).await.unwrap(), 1);
    assert_eq!(
        check(now() + 1_500 * MINUTE).await.unwrap(),
        0,
        "a breach is recorded once"
    );

    bench
        .move_lead(&contact, QUALIFICATION, "sal", "late, but accepted")
        .await;
    assert_eq!(
        check(now() + 2_000 * MINUTE).await.unwrap(),
        0,
        "sales has 2880 minutes"
    );
    assert_eq!(check(now() + 2_881 * MINUTE).await.unwrap(), 1);

    let (status, page) = bench
        .call(
            "GET",
            "/api/v1/sla/breaches?site=demo",
            Some(SALES),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let stages: Vec<&str> = page["breaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["mql", "sal"]);
    let (_, shown) = bench
        .call(
            "GET",
            &format!("/api/v1/contacts/{contact}"),
            Some(SALES),
            Value::Null,
        )
        .await;
    assert_eq!(shown["sla_breaches"].as_array().unwrap().len(), 2);
    let announced: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'sla_breach'")
            .fetch_one(bench.state.store().reader())
            .await
            .unwrap();
    assert_eq!(announced, 2, "each breach was announced to the webhook");
}

async fn a_lead_that_drops_below_and_climbs_back_is_not_handed_over_again(backend: Backend) {
    let bench = bench(backend).await;
    let contact = bench.mql(VISITOR, "ana@northwind.example").await;
    let score = || async {
        let score: i64 = sqlx::query_scalar("SELECT engagement_score FROM contacts WHERE id = $1")
            .bind(&contact)
            .fetch_one(bench.state.store().reader())
            .await
            .unwrap();
        score
    };
    assert_eq!(score().await, 50);

    let mut careers = page_view(&new_id());
    careers["url"] = json!(format!("{ORIGIN}/www/careers.html"));
    bench
        .post("/api/v1/events", batch(VISITOR, vec![careers]).to_string())
        .await;
    assert_eq!(score().await, 30, "below the threshold of 40");
    let whitepaper = event(
        &new_id(),
        json!({"kind": "click", "behaviour": "whitepaper_download"}),
    );
    bench
        .post(
            "/api/v1/events",
            batch(VISITOR, vec![whitepaper]).to_string(),
        )
        .await;
    assert_eq!(score().await, 45, "over it again");

    let handoffs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'mql'")
        .fetch_one(bench.state.store().reader())
        .await
        .unwrap();
    assert_eq!(handoffs, 1, "promotion fired once");
    assert_eq!(
        bench.stages(&contact).await.len(),
        3,
        "inquiry, known, mql: nothing more"
    );
}

async fn hostile_bodies_are_refused_while_reading_and_store_nothing(backend: Backend) {
    let bench = bench(backend).await;
    let two_megabytes = vec![b'['; 2 * 1024 * 1024];

    let with_length = Request::post("/api/v1/events")
        .header("origin", ORIGIN)
        .header("content-length", two_megabytes.len())
        .body(Body::from(two_megabytes.clone()))
        .unwrap();
    assert_eq!(
        bench.send(with_length).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    // Chunked, no Content-Length: refused once the limit is crossed, not at the end.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = two_megabytes
        .chunks(8 * 1024)
        .map(|chunk| Ok(chunk.to_vec()))
        .collect();
    let chunked = Request::post("/api/v1/events")
        .header("origin", ORIGIN)
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    assert_eq!(bench.send(chunked).await.0, StatusCode::PAYLOAD_TOO_LARGE);

    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let mut invalid_utf8 = batch(VISITOR, vec![page_view(&new_id())])
        .to_string()
        .into_bytes();
    invalid_utf8.splice(10..10, [0xff, 0xfe]);
    let long_ago = event(&new_id(), json!({"kind": "page_view"}));
    let mut long_ago_batch = batch(VISITOR, vec![long_ago]);
    long_ago_batch["events"][0]["at"] = json!(now() - 400 * 24 * 3600 * 1000);
    long_ago_batch["sent_at"] = json!(now());
    let mut wrong_type = batch(VISITOR, vec![page_view(&new_id())]);
    wrong_type["events"][0]["at"] = json!("yesterday");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("10,000 nested arrays", nested.into_bytes()),
        ("invalid UTF-8", invalid_utf8),
        (
            "an event from more than a year ago",
            long_ago_batch.to_string().into_bytes(),
        ),
        ("a time that is text", wrong_type.to_string().into_bytes()),
        (
            "truncated JSON",
            b"{\"site\": \"demo\", \"visitor_id\": \"6f1c".to_vec(),
        ),
    ];
    for (what, body) in cases {
        let (status, reply) = bench.post("/api/v1/events", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(reply["error"]["code"], "bad_request", "{what}");
    }
    // The server keeps serving.
    let good = batch(VISITOR, vec![page_view(&new_id())]).to_string();
    assert_eq!(bench.post("/api/v1/events", good).await.0, StatusCode::OK);
    assert_eq!(bench.count("events").await, 1);
}

async fn bots_are_answered_but_leave_no_trace(backend: Backend) {
    let bench = bench(backend).await;
    let crawlers = [
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", false),
        (
            "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156.0.0.0 Safari/537.36",
            false,
        ),
        ("", false),
        (CHROME, true),
    ];
    for (user_agent, automation) in crawlers {
        let mut body = batch(VISITOR, vec![page_view(&new_id()), page_view(&new_id())]);
        body["automation"] = json!(automation);
        let request = Request::post("/api/v1/events")
            .header("origin", ORIGIN)
            .header("user-agent", user_agent)
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, reply) = bench.send(request).await;
        assert_eq!(
            (status, reply),
            (StatusCode::OK, json!({"accepted": 2, "duplicates": 0})),
            "{user_agent}"
        );

        let mut identify = identification(VISITOR, &new_id(), "bot@northwind.example");
        identify["automation"] = json!(automation);
        let identify = identify.to_string();
        let request = Request::post("/api/v1/identify")
            .header("origin", ORIGIN)
            .header("user-agent", user_agent)
            .body(Body::from(identify))
            .unwrap();
        assert_eq!(bench.send(request).await.0, StatusCode::OK);
    }
    for table in [
        "events",
        "contacts",
        "visitors",
        "submissions",
        "stage_changes",
        "outbox",
    ] {
        assert_eq!(bench.count(table).await, 0, "{table}");
    }
}

async fn a_server_without_an_origin_needs_the_site_key(backend: Backend) {
    let bench = bench(backend).await;
    let send = |key: Option<&'static str>| {
        let body = batch(VISITOR, vec![page_view(&new_id())]).to_string();
        let mut request = Request::post("/api/v1/events");
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        bench.send(request.body(Body::from(body)).unwrap())
    };
    assert_eq!(send(None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        send(Some("demo-site-secret-key-guess-me")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(bench.count("events").await, 0);
    assert_eq!(
        send(Some(SITE_KEY)).await.0,
        StatusCode::OK,
        "no user agent needed with the key"
    );
    assert_eq!(bench.count("events").await, 1);
}
