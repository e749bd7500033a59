//! The identify endpoint with each kind of form field, without a socket, on a
//! fresh SQLite file and again on a fresh PostgreSQL database: answers refused
//! with a reason per field and nothing stored, answers cleaned and stored as the
//! rules say (e-mail normalised, names in any script unchanged, hidden fields from
//! the address or fixed), and a form's points counted once per contact.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use headwater_server::{AppState, Config, app};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

mod common;

const ORIGIN: &str = "http://127.0.0.1:8080";
const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";
const ADMIN: &str = "demo-admin-token-change-me-0001";

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named test once per backend.
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

on_both_backends!(
    refused_answers_name_each_field_and_store_nothing,
    answers_of_every_kind_are_stored_as_the_rules_say,
    a_form_earns_its_points_once_per_contact,
    disposable_addresses_are_flagged_for_the_lead_definition,
);

struct Bench {
    app: Router,
    state: AppState,
    _folder: tempfile::TempDir,
}

async fn bench(backend: Backend) -> Bench {
    let folder = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../headwater.example.toml"
    ))
    .unwrap();
    let mut config = Config::parse(&example).unwrap();
    config.server.database = match backend {
        Backend::Sqlite => format!("sqlite://{}", folder.path().join("test.db").display()),
        Backend::Postgres => common::fresh_postgres().await,
    };
    config.server.demo_site = None;
    config.server.pkg_dir = folder.path().to_owned();
    // Nobody listens there; these tests look at the outbox, not at deliveries.
    config.sites[0].webhooks[0].url = "http://127.0.0.1:9/".into();
    let state = AppState::new(config).await.unwrap();
    Bench {
        app: app(state.clone()),
        state,
        _folder: folder,
    }
}

impl Bench {
    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }

    /// Sends a form as a person's browser does, well after the minimum fill time.
    async fn identify(&self, visitor: &str, form: &str, answers: Value) -> (StatusCode, Value) {
        let body = json!({
            "site": "demo", "visitor_id": visitor, "form": form, "token": new_id(),
            "answers": answers, "fill_ms": 8_000,
        });
        let request = Request::post("/api/v1/identify")
            .header("origin", ORIGIN)
            .header("user-agent", CHROME)
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.state.store().reader())
            .await
            .unwrap()
    }

    /// The stored answers of the contact with this e-mail.
    async fn answers(&self, email: &str) -> Value {
        let answers: String = sqlx::query_scalar("SELECT answers FROM contacts WHERE email = $1")
            .bind(email)
            .fetch_one(self.state.store().reader())
            .await
            .unwrap();
        serde_json::from_str(&answers).unwrap()
    }

    /// The contact's kept profile and verdict.
    async fn scores(&self, email: &str) -> (i64, Value, Value) {
        let (engagement, profile, verdict): (i64, String, String) = sqlx::query_as(
            "SELECT engagement_score, profile, verdict FROM contacts WHERE email = $1",
        )
        .bind(email)
        .fetch_one(self.state.store().reader())
        .await
        .unwrap();
        let parse = |text: &str| serde_json::from_str(text).unwrap();
        (engagement, parse(&profile), parse(&verdict))
    }
}

fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "00000000-0000-4000-9000-{:012x}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The `(field, problem)` pairs of a 422 answer.
fn problems(reply: &Value) -> Vec<(String, String)> {
    reply["error"]["fields"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|field| {
            let text = |key: &str| field[key].as_str().unwrap().to_owned();
            (text("field"), text("problem"))
        })
        .collect()
}

async fn refused_answers_name_each_field_and_store_nothing(backend: Backend) {
    let bench = bench(backend).await;
    let visitor = "21212121-2121-4121-8121-212121212121";
    let cases = [
        (
            "whitepaper",
            json!({"email": "ana@northwind.example", "newsletter": "yes"}),
            vec![("newsletter", "not_an_option"), ("consent", "not_ticked")],
        ),
        (
            "contact_sales",
            json!({
                "name": "Ä".repeat(101), "email": "a@b", "phone": "call me",
                "seats": "lots", "vat_id": "de123", "consent": "true",
            }),
            vec![
                ("name", "too_long"),
                ("email", "invalid_email"),
                ("phone", "invalid_phone"),
                ("seats", "not_an_option"),
                ("vat_id", "pattern_mismatch"),
            ],
        ),
        (
            "demo_request",
            json!({
                "name": "Ana", "email": "Ana <ana@northwind.example>", "company": "Northwind",
                "company_size": "0", "utm_campaign": "x".repeat(101),
            }),
            vec![
                ("email", "invalid_email"),
                ("company_size", "out_of_range"),
                ("utm_campaign", "too_long"),
            ],
        ),
        (
            "demo_request",
            json!({
                "name": "Ana", "email": "ana@northwind.example", "company": "Northwind",
                "company_size": "2.5", "phone": "12", "fax": "1",
            }),
            vec![
                ("fax", "unknown_field"),
                ("company_size", "not_a_number"),
                ("phone", "invalid_phone"),
            ],
        ),
    ];
    for (form, answers, expected) in cases {
        let (status, reply) = bench.identify(visitor, form, answers).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{form}: {reply}");
        let expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(field, problem)| (field.to_owned(), problem.to_owned()))
            .collect();
        assert_eq!(problems(&reply), expected, "{form}");
    }
    for table in [
        "contacts",
        "visitors",
        "submissions",
        "stage_changes",
        "outbox",
    ] {
        assert_eq!(bench.count(table).await, 0, "{table}");
    }
}

async fn answers_of_every_kind_are_stored_as_the_rules_say(backend: Backend) {
    let bench = bench(backend).await;
    let identified = (StatusCode::OK, json!({"status": "identified"}));
    let cases = [
        (
            "22222222-2222-4222-8222-222222222222",
            "demo_request",
            json!({
                "name": "  Ana Pérez ", "email": " Ana.Perez+x@Example.ORG ",
                "company": "Northwind Traders", "role": "Engineer", "company_size": " 250 ",
                "phone": "+44 20 7946 0958", "utm_campaign": "spring-26",
            }),
            "Ana.Perez+x@example.org",
            json!({
                "name": "Ana Pérez", "email": "Ana.Perez+x@example.org",
                "company": "Northwind Traders", "role": "Engineer", "company_size": "250",
                "phone": "+44 20 7946 0958", "utm_campaign": "spring-26",
            }),
        ),
        (
            "23232323-2323-4323-8323-232323232323",
            "whitepaper",
            json!({
                "email": "用户@例子.广告", "name": "王小明", "newsletter": "false",
                "consent": "true", "lead_source": "forged",
            }),
            "用户@例子.广告",
            json!({
                "email": "用户@例子.广告", "name": "王小明", "consent": "true",
                "lead_source": "whitepaper",
            }),
        ),
        (
            "24242424-2424-4424-8424-242424242424",
            "contact_sales",
            json!({
                "name": "Борис Ельцов-Иванов", "email": "Jose\u{301}@MÜNCHEN.example",
                "phone": "+7 (912) 345-67-89", "seats": "51-200", "vat_id": "DE123456789",
                "consent": "true",
            }),
            "Jos\u{e9}@münchen.example",
            json!({
                "name": "Борис Ельцов-Иванов", "email": "Jos\u{e9}@münchen.example",
                "phone": "+7 (912) 345-67-89", "seats": "51-200", "vat_id": "DE123456789",
                "consent": "true",
            }),
        ),
    ];
    for (visitor, form, answers, email, stored) in cases {
        assert_eq!(
            bench.identify(visitor, form, answers).await,
            identified,
            "{form}"
        );
        assert_eq!(bench.answers(email).await, stored, "{form}");
    }
    assert_eq!(bench.count("contacts").await, 3);
    assert_eq!(bench.count("submissions").await, 3);
}

async fn a_form_earns_its_points_once_per_contact(backend: Backend) {
    let bench = bench(backend).await;
    let laptop = "25252525-2525-4525-8525-252525252525";
    let phone = "26262626-2626-4626-8626-262626262626";
    let email = "ana@northwind.example";
    let whitepaper = json!({"email": email, "consent": "true"});
    let sales =
        json!({"name": "Ana", "email": email, "phone": "+44 20 7946 0958", "consent": "true"});
    // The white paper from two devices and twice from one, then a call request.
    for (visitor, form, answers) in [
        (laptop, "whitepaper", &whitepaper),
        (laptop, "whitepaper", &whitepaper),
        (phone, "whitepaper", &whitepaper),
        (phone, "contact_sales", &sales),
    ] {
        let (status, reply) = bench.identify(visitor, form, answers.clone()).await;
        assert_eq!(status, StatusCode::OK, "{form}: {reply}");
    }

    let (engagement, profile, verdict) = bench.scores(email).await;
    assert_eq!(
        engagement, 40,
        "the white paper's 15 and the call request's 25, once each"
    );
    let tallies = &profile["behaviours"];
    assert_eq!(
        (
            &tallies["form:whitepaper"]["count"],
            &tallies["form:whitepaper"]["points"]
        ),
        (&json!(1), &json!(15))
    );
    let explained: Vec<(&str, i64)> = verdict["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|reason| reason["rule"].as_str().unwrap().starts_with("form:"))
        .map(|reason| {
            (
                reason["rule"].as_str().unwrap(),
                reason["points"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        explained,
        [("form:contact_sales", 25), ("form:whitepaper", 15)]
    );
    assert_eq!(bench.count("submissions").await, 4);

    // A full re-score from stored events and submissions agrees.
    let request = Request::post("/api/v1/sites/demo/rescore")
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(bench.send(request).await.0, StatusCode::OK);
    assert_eq!(bench.scores(email).await, (engagement, profile, verdict));
}

async fn disposable_addresses_are_flagged_for_the_lead_definition(backend: Backend) {
    let bench = bench(backend).await;
    let cases = [
        (
            "27272727-2727-4727-8727-272727272727",
            "ana@mailinator.com",
            false,
        ),
        (
            "28282828-2828-4828-8828-282828282828",
            "ana@northwind.example",
            true,
        ),
    ];
    for (visitor, email, matched) in cases {
        let answers = json!({
            "name": "Ana", "email": email, "company": "Northwind", "company_size": "250",
        });
        assert_eq!(
            bench.identify(visitor, "demo_request", answers).await.0,
            StatusCode::OK
        );
        let (_, _, verdict) = bench.scores(email).await;
        let rule = verdict["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|reason| reason["rule"] == "not a throw-away address")
            .cloned()
            .unwrap();
        assert_eq!(rule["matched"], matched, "{email}");
        assert_eq!(rule["required"], true);
        assert_eq!(verdict["fit"]["passed"], matched, "{email}");
    }
}
