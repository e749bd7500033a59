//! The console without a socket: pages and form posts driven through
//! `tower::ServiceExt::oneshot`, on SQLite and again on PostgreSQL, as a browser
//! would send them (cookies, form bodies, the CSRF token read off the page).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use headwater_core::Role;
use headwater_server::{AppState, Config, accounts};
use serde_json::{Value, json};

#[macro_use]
mod common;

use common::{Backend, Bench, bench, bench_with};

const ORIGIN: &str = "http://127.0.0.1:8080";
const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";
const PASSWORD: &str = "a long enough password";

on_both_backends!(
    signing_in_sets_a_safe_cookie_and_repeated_failures_lock_the_account,
    each_role_reaches_only_its_own_pages_and_moves,
    posts_without_the_sessions_csrf_token_are_refused_and_change_nothing,
    markup_sent_by_visitors_renders_as_text_everywhere,
    a_lead_is_worked_through_the_console_like_through_the_api,
    settings_are_checked_previewed_versioned_live_and_rolled_back,
    the_report_agrees_with_the_stage_record_on_seeded_history,
);

/// A browser's session: its cookie and the CSRF token its pages carry.
#[derive(Clone, Debug)]
struct Session {
    cookie: String,
    csrf: String,
}

impl Bench {
    async fn send(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let (status, headers, bytes) = self.exchange(request).await;
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    async fn get(&self, path: &str, session: Option<&Session>) -> (StatusCode, String) {
        let mut request = Request::get(path);
        if let Some(session) = session {
            request = request.header(header::COOKIE, &session.cookie);
        }
        let (status, _, body) = self.send(request.body(Body::empty()).unwrap()).await;
        (status, body)
    }

    /// Posts a form as the browser would; `csrf` is added unless the fields have one.
    async fn post(
        &self,
        path: &str,
        session: &Session,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let mut pairs: Vec<(&str, &str)> = fields.to_vec();
        if !fields.iter().any(|(name, _)| *name == "csrf") {
            pairs.push(("csrf", &session.csrf));
        }
        self.post_raw(path, Some(&session.cookie), &pairs).await
    }

    async fn post_raw(
        &self,
        path: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let (status, headers, body) = self.send(request.body(Body::from(body)).unwrap()).await;
        let location = headers
            .get(header::LOCATION)
            .map(|value| value.to_str().unwrap().to_owned());
        (status, location.unwrap_or(body))
    }

    async fn user(&self, email: &str, role: Role) {
        accounts::add_user(self.state.store(), email, role, PASSWORD, now())
            .await
            .unwrap();
    }

    /// Signs in through the sign-in form and returns the session.
    async fn sign_in(&self, email: &str, password: &str) -> Result<Session, (StatusCode, String)> {
        let (_, headers, page) = self
            .send(
                Request::get("/console/sign-in")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        let sign_in_cookie = cookie_pair(&headers, "hw_sign_in").unwrap();
        let csrf = csrf_of(&page);
        let fields = [("email", email), ("password", password), ("csrf", &csrf)];
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = Request::post("/console/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &sign_in_cookie)
            .body(Body::from(body))
            .unwrap();
        let (status, headers, body) = self.send(request).await;
        if status != StatusCode::SEE_OTHER {
            return Err((status, body));
        }
        let cookie = cookie_pair(&headers, "hw_session").expect("a session cookie");
        let mut session = Session {
            cookie,
            csrf: String::new(),
        };
        let (_, page) = self.get("/console/leads", Some(&session)).await;
        session.csrf = csrf_of(&page);
        Ok(session)
    }

    async fn signed_in(&self, email: &str, role: Role) -> Session {
        self.user(email, role).await;
        self.sign_in(email, PASSWORD).await.unwrap()
    }

    async fn stage(&self, contact: &str) -> String {
        sqlx::query_scalar("SELECT stage FROM contacts WHERE id = $1")
            .bind(contact)
            .fetch_one(self.state.store().reader())
            .await
            .unwrap()
    }

    async fn collect(&self, path: &str, body: Value) -> StatusCode {
        let request = Request::post(path)
            .header("origin", ORIGIN)
            .header("user-agent", CHROME)
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await.0
    }

    /// A visitor who browses and identifies with a matching profile: an MQL.
    async fn mql(&self, email: &str) -> String {
        let visitor = new_id();
        let events = ["/", "/www/product.html", "/www/pricing.html"]
            .iter()
            .map(|page| event(&format!("{ORIGIN}{page}"), "", json!({"kind": "page_view"})))
            .chain([
                event(
                    &format!("{ORIGIN}/www/pricing.html"),
                    "",
                    json!({"kind": "engagement", "engaged_ms": 30000, "scroll_depth": 100}),
                ),
                event(
                    &format!("{ORIGIN}/www/demo.html"),
                    "",
                    json!({"kind": "click", "behaviour": "request_demo_click"}),
                ),
            ])
            .collect();
        assert_eq!(
            self.collect("/api/v1/events", batch(&visitor, events))
                .await,
            StatusCode::OK
        );
        let answers = json!({
            "name": "Ana Pérez", "email": email, "company": "Northwind", "company_size": "250",
        });
        assert_eq!(
            self.collect("/api/v1/identify", identification(&visitor, answers))
                .await,
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

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn new_id() -> String {
    uuid_v4()
}

fn uuid_v4() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "00000000-0000-4000-8000-{:012x}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn event(url: &str, referrer: &str, kind: Value) -> Value {
    let mut event = json!({
        "id": new_id(), "session_id": "0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70", "at": now(),
        "url": url, "referrer": referrer,
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

fn identification(visitor: &str, answers: Value) -> Value {
    json!({
        "site": "demo", "visitor_id": visitor, "form": "demo_request", "token": new_id(),
        "answers": answers, "fill_ms": 6_500,
    })
}

/// `name=value` of a cookie the response sets.
fn cookie_pair(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(|value| value.split(';').next().unwrap().to_owned())
}

fn set_cookie(headers: &axum::http::HeaderMap, name: &str) -> String {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .unwrap_or_default()
        .to_owned()
}

/// The CSRF token a page's forms carry.
fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).map(|at| at + marker.len());
    start
        .map(|start| page[start..].split('"').next().unwrap().to_owned())
        .unwrap_or_default()
}

async fn signing_in_sets_a_safe_cookie_and_repeated_failures_lock_the_account(backend: Backend) {
    let bench = bench(backend).await;
    bench.user("Olga@Acme.example", Role::Marketer).await;

    let (status, location) = {
        let (status, headers, _) = bench
            .send(Request::get("/console/report").body(Body::empty()).unwrap())
            .await;
        (
            status,
            headers[header::LOCATION].to_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/console/sign-in")
    );

    // The session cookie is HttpOnly, SameSite and scoped to the console.
    let (_, headers, page) = bench
        .send(
            Request::get("/console/sign-in")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let sign_in = cookie_pair(&headers, "hw_sign_in").unwrap();
    let fields = [
        ("email", "olga@acme.example"),
        ("password", PASSWORD),
        ("csrf", &csrf_of(&page)),
    ];
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let request = Request::post("/console/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &sign_in)
        .body(Body::from(body))
        .unwrap();
    let (status, headers, _) = bench.send(request).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = set_cookie(&headers, "hw_session");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/console", "Max-Age=43200"] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing from {cookie}"
        );
    }
    assert!(!cookie.contains("Secure"), "not Secure unless configured");
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );

    // Four failures, then the right password still works and clears them.
    for _ in 0..4 {
        let refused = bench
            .sign_in("olga@acme.example", "wrong password")
            .await
            .unwrap_err();
        assert_eq!(refused.0, StatusCode::UNAUTHORIZED);
        assert!(refused.1.contains("wrong e-mail or password"));
    }
    assert!(bench.sign_in("olga@acme.example", PASSWORD).await.is_ok());
    // Five failures lock the account, against the right password too.
    for attempt in 1..=5 {
        let refused = bench
            .sign_in("olga@acme.example", "wrong password")
            .await
            .unwrap_err();
        let expected = if attempt < 5 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(refused.0, expected, "attempt {attempt}");
    }
    let locked = bench
        .sign_in("olga@acme.example", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(locked.0, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        locked.1.contains("try again in 15 minute(s)"),
        "{}",
        locked.1
    );
    // An unknown e-mail gets the same answer as a wrong password.
    let unknown = bench
        .sign_in("nobody@acme.example", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    assert!(unknown.1.contains("wrong e-mail or password"));
    assert_eq!(
        bench.count("sessions").await,
        2,
        "only the successful sign-ins made sessions"
    );
}

async fn each_role_reaches_only_its_own_pages_and_moves(backend: Backend) {
    let bench = bench(backend).await;
    let contact = bench.mql("ana@northwind.example").await;
    let admin = bench.signed_in("admin@acme.example", Role::Admin).await;
    let marketer = bench.signed_in("mia@acme.example", Role::Marketer).await;
    let qualification = bench
        .signed_in("quinn@acme.example", Role::Qualification)
        .await;
    let sales = bench.signed_in("sam@acme.example", Role::Sales).await;
    let lead = format!("/console/leads/{contact}");

    use StatusCode as S;
    let pages = [
        (
            "/console/report",
            [S::OK, S::OK, S::FORBIDDEN, S::FORBIDDEN],
        ),
        (
            "/console/report.csv",
            [S::OK, S::OK, S::FORBIDDEN, S::FORBIDDEN],
        ),
        (
            "/console/settings",
            [S::OK, S::OK, S::FORBIDDEN, S::FORBIDDEN],
        ),
        (
            "/console/settings/export",
            [S::OK, S::OK, S::FORBIDDEN, S::FORBIDDEN],
        ),
        (
            "/console/settings/versions/1",
            [S::OK, S::OK, S::FORBIDDEN, S::FORBIDDEN],
        ),
        ("/console/queue", [S::OK, S::FORBIDDEN, S::OK, S::OK]),
        ("/console/leads", [S::OK, S::OK, S::OK, S::OK]),
        (lead.as_str(), [S::OK, S::OK, S::OK, S::OK]),
        (
            "/console/users",
            [S::OK, S::FORBIDDEN, S::FORBIDDEN, S::FORBIDDEN],
        ),
    ];
    let sessions = [&admin, &marketer, &qualification, &sales];
    for (path, expected) in pages {
        for (session, expected) in sessions.iter().zip(expected) {
            let (status, _) = bench.get(path, Some(session)).await;
            assert_eq!(status, expected, "{path} as {}", session.cookie);
        }
    }

    // The queue shows each role its own stages, and only the moves it may make.
    let (_, queue) = bench.get("/console/queue", Some(&qualification)).await;
    assert!(queue.contains("New MQLs to qualify") && queue.contains("ana@northwind.example"));
    assert!(queue.contains("value=\"sal\"") && !queue.contains("value=\"customer\""));
    let (_, queue) = bench.get("/console/queue", Some(&sales)).await;
    assert!(!queue.contains("New MQLs") && queue.contains("Accepted leads (SAL)"));
    let (_, page) = bench.get(&lead, Some(&marketer)).await;
    assert!(!page.contains("/move\""), "a marketer sees no move buttons");

    // A role reaching for another role's move or page changes nothing.
    let moves_before = bench.count("stage_changes").await;
    let refused = [
        (&marketer, "sal"),
        (&sales, "sal"),
        (&sales, "recycled"),
        (&qualification, "customer"),
    ];
    for (session, to) in refused {
        let (status, body) = bench
            .post(
                &format!("{lead}/move"),
                session,
                &[("to", to), ("note", "trying")],
            )
            .await;
        assert!(
            status == S::FORBIDDEN || status == S::CONFLICT,
            "{to}: {status} {body}"
        );
    }
    let (status, _) = bench
        .post(
            "/console/settings/rescore",
            &qualification,
            &[("site", "demo")],
        )
        .await;
    assert_eq!(status, S::FORBIDDEN);
    let (status, _) = bench
        .post(
            "/console/users",
            &sales,
            &[
                ("email", "x@acme.example"),
                ("role", "admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, S::FORBIDDEN);
    assert_eq!(bench.stage(&contact).await, "mql");
    assert_eq!(bench.count("stage_changes").await, moves_before);
    assert_eq!(bench.count("users").await, 4);
}

async fn posts_without_the_sessions_csrf_token_are_refused_and_change_nothing(backend: Backend) {
    let bench = bench(backend).await;
    let contact = bench.mql("ana@northwind.example").await;
    let quinn = bench
        .signed_in("quinn@acme.example", Role::Qualification)
        .await;
    let other = bench
        .signed_in("theo@acme.example", Role::Qualification)
        .await;
    let marketer = bench.signed_in("mia@acme.example", Role::Marketer).await;
    let path = format!("/console/leads/{contact}/move");
    let moves_before = bench.count("stage_changes").await;

    let attempts: [(&str, Vec<(&str, &str)>); 4] = [
        ("no token", vec![("to", "sal")]),
        ("an empty token", vec![("to", "sal"), ("csrf", "")]),
        (
            "another session's token",
            vec![("to", "sal"), ("csrf", &other.csrf)],
        ),
        (
            "a made-up token",
            vec![("to", "sal"), ("csrf", "0123456789abcdef")],
        ),
    ];
    for (what, fields) in attempts {
        let (status, body) = bench.post_raw(&path, Some(&quinn.cookie), &fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
        assert!(
            body.contains("did not come from this console"),
            "{what}: {body}"
        );
    }
    let versions = bench.count("site_settings").await;
    let (status, _) = bench
        .post_raw(
            "/console/settings",
            Some(&marketer.cookie),
            &[("site", "demo"), ("action", "save"), ("text", "")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = bench
        .post_raw("/console/sign-out", Some(&quinn.cookie), &[])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Signing in needs the sign-in form's token too.
    let (status, _) = bench
        .post_raw(
            "/console/sign-in",
            None,
            &[("email", "quinn@acme.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    assert_eq!(bench.stage(&contact).await, "mql");
    assert_eq!(bench.count("stage_changes").await, moves_before);
    assert_eq!(bench.count("site_settings").await, versions);
    assert_eq!(
        bench.get("/console/queue", Some(&quinn)).await.0,
        StatusCode::OK,
        "still signed in"
    );

    // With its own token, the same session's move goes through; signing out ends it.
    let (status, _) = bench
        .post(&path, &quinn, &[("to", "sal"), ("note", "called")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(bench.stage(&contact).await, "sal");
    assert_eq!(
        bench.post("/console/sign-out", &quinn, &[]).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        bench.get("/console/queue", Some(&quinn)).await.0,
        StatusCode::SEE_OTHER
    );
}

async fn markup_sent_by_visitors_renders_as_text_everywhere(backend: Backend) {
    // The role is free text here, so that it can carry markup too.
    let bench = bench_with(backend, |config| {
        let form = &mut config.sites[0].forms[0];
        let role = form
            .fields
            .iter_mut()
            .find(|field| field.name == "role")
            .unwrap();
        role.kind = headwater_core::FieldKind::Text;
        role.options.clear();
    })
    .await;
    let script = "<script>alert(1)</script>";
    let image = "<img src=x onerror=alert(2)>";
    let visitor = new_id();
    let page = format!(
        "{ORIGIN}/www/pricing.html?q=<script>alert(3)</script>\
         &utm_campaign=%3Csvg%20onload%3Dalert(4)%3E"
    );
    let events = vec![
        event(
            &page,
            "https://evil.example/<img src=x onerror=alert(5)>",
            json!({"kind": "page_view"}),
        ),
        event(
            &page,
            "",
            json!({"kind": "click", "behaviour": "<script>alert(6)</script>"}),
        ),
        event(
            &page,
            "",
            json!({"kind": "custom", "name": "<img src=x onerror=alert(7)>",
                "properties": {"plan": "<script>alert(10)</script>"}}),
        ),
        event(
            &page,
            "",
            json!({"kind": "page_view", "title": "<script>alert(11)</script>"}),
        ),
        event(
            &page,
            "",
            json!({
                "kind": "outbound",
                "target": "https://evil.example/<script>alert(12)</script>",
            }),
        ),
    ];
    assert_eq!(
        bench
            .collect("/api/v1/events", batch(&visitor, events))
            .await,
        StatusCode::OK
    );
    let answers = json!({
        "name": script, "email": "mallory@evil.example", "company": image,
        "role": "<b onmouseover=alert(8)>CTO</b>", "company_size": "5000",
    });
    assert_eq!(
        bench
            .collect("/api/v1/identify", identification(&visitor, answers))
            .await,
        StatusCode::OK
    );
    let contact: String = sqlx::query_scalar("SELECT id FROM contacts WHERE email IS NOT NULL")
        .fetch_one(bench.state.store().reader())
        .await
        .unwrap();
    // Its reason for going back to marketing is typed by a person, and shown too.
    sqlx::query("UPDATE contacts SET stage = 'mql' WHERE id = $1")
        .bind(&contact)
        .execute(bench.state.store().reader())
        .await
        .unwrap();
    let admin = bench.signed_in("admin@acme.example", Role::Admin).await;
    let (status, _) = bench
        .post(
            &format!("/console/leads/{contact}/move"),
            &admin,
            &[("to", "recycled"), ("note", "<script>alert(9)</script>")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let pages = [
        format!("/console/leads/{contact}"),
        "/console/leads?q=evil".to_owned(),
        "/console/report".to_owned(),
    ];
    for path in &pages {
        let (status, body) = bench.get(path, Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        for live in [
            "<script>alert",
            "<img src=x",
            "<svg onload",
            "<b onmouseover",
        ] {
            assert!(!body.contains(live), "{path} holds live markup {live}");
        }
    }
    let (_, lead) = bench.get(&pages[0], Some(&admin)).await;
    for shown in [
        "&#60;script&#62;alert(1)&#60;/script&#62;",
        "&#60;img src=x onerror=alert(2)&#62;",
        "&#60;b onmouseover=alert(8)&#62;CTO&#60;/b&#62;",
        "alert(3)",
        "&#60;svg onload=alert(4)&#62;",
        "onerror=alert(5)",
        "&#60;script&#62;alert(6)&#60;/script&#62;",
        "&#60;img src=x onerror=alert(7)&#62;",
        "&#60;script&#62;alert(9)&#60;/script&#62;",
        "plan=&#60;script&#62;alert(10)&#60;/script&#62;",
        "&#60;script&#62;alert(11)&#60;/script&#62;",
        "alert(12)",
    ] {
        assert!(
            lead.contains(shown),
            "the lead page does not show {shown} as text"
        );
    }
    let (_, report) = bench.get("/console/report", Some(&admin)).await;
    assert!(
        report.contains("alert(9)") && report.contains("alert(4)"),
        "reasons and campaigns are shown"
    );
}

async fn a_lead_is_worked_through_the_console_like_through_the_api(backend: Backend) {
    let bench = bench(backend).await;
    let won = bench.mql("ana@northwind.example").await;
    let returned = bench.mql("ben@globex.example").await;
    let quinn = bench
        .signed_in("quinn@acme.example", Role::Qualification)
        .await;
    let sam = bench.signed_in("sam@acme.example", Role::Sales).await;
    let back = "/console/queue?site=demo";

    let steps = [
        (&quinn, &won, "sal", "", "budget confirmed"),
        (&sam, &won, "sql", "", "discovery call done"),
        (&sam, &won, "customer", "", "signed the annual plan"),
        (
            &quinn,
            &returned,
            "recycled",
            "no budget",
            "spoke to the CFO",
        ),
    ];
    for (session, contact, to, reason, note) in steps {
        let (status, location) = bench
            .post(
                &format!("/console/leads/{contact}/move"),
                session,
                &[
                    ("to", to),
                    ("reason", reason),
                    ("note", note),
                    ("return_to", back),
                ],
            )
            .await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, back),
            "{to}"
        );
    }
    // A return needs a reason; a made-up return address goes to the lead instead.
    let third = bench.mql("chen@initech.example").await;
    let (status, body) = bench
        .post(
            &format!("/console/leads/{third}/move"),
            &quinn,
            &[("to", "recycled")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("needs a reason"), "{body}");
    let (_, location) = bench
        .post(
            &format!("/console/leads/{third}/move"),
            &quinn,
            &[("to", "sal"), ("return_to", "https://evil.example/")],
        )
        .await;
    assert_eq!(location, format!("/console/leads/{third}"));

    let history: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT to_stage, actor, reason FROM stage_changes WHERE contact_id = $1 ORDER BY id",
    )
    .bind(&won)
    .fetch_all(bench.state.store().reader())
    .await
    .unwrap();
    let people: Vec<(String, String, String)> = history[3..].to_vec();
    assert_eq!(
        people,
        [
            (
                "sal".into(),
                "person:quinn@acme.example".into(),
                "budget confirmed".into()
            ),
            (
                "sql".into(),
                "person:sam@acme.example".into(),
                "discovery call done".into()
            ),
            (
                "customer".into(),
                "person:sam@acme.example".into(),
                "signed the annual plan".into()
            ),
        ]
    );
    let reason: String = sqlx::query_scalar(
        "SELECT reason FROM stage_changes WHERE contact_id = $1 AND to_stage = 'recycled'",
    )
    .bind(&returned)
    .fetch_one(bench.state.store().reader())
    .await
    .unwrap();
    assert_eq!(reason, "no budget: spoke to the CFO");
    let owners: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT stage, owner FROM contacts WHERE id IN ($1, $2) ORDER BY stage")
            .bind(&won)
            .bind(&returned)
            .fetch_all(bench.state.store().reader())
            .await
            .unwrap();
    assert_eq!(
        owners,
        [
            ("customer".into(), Some("sam@acme.example".into())),
            ("recycled".into(), None)
        ]
    );

    // The same handoffs as the API's moves: one per stage after MQL, per listening webhook.
    let mut kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM outbox WHERE contact_id = $1")
            .bind(&won)
            .fetch_all(bench.state.store().reader())
            .await
            .unwrap();
    kinds.sort();
    assert_eq!(kinds, ["customer", "mql", "sal", "sql"]);

    // The lead page tells the story.
    let (_, page) = bench
        .get(&format!("/console/leads/{won}"), Some(&sam))
        .await;
    for shown in [
        "signed the annual plan",
        "person:quinn@acme.example",
        "MQL: fit 20/20",
        "request_demo_click",
        "/www/pricing.html",
    ] {
        assert!(page.contains(shown), "the lead page lacks {shown}");
    }
    let (_, found) = bench
        .get(
            "/console/leads?stage=customer&owner=sam%40acme.example",
            Some(&sam),
        )
        .await;
    assert!(found.contains(&won) && !found.contains(&returned));
    let (_, found) = bench
        .get("/console/leads?q=GLOBEX&min_score=10", Some(&sam))
        .await;
    assert!(found.contains(&returned) && !found.contains(&won));
}

async fn settings_are_checked_previewed_versioned_live_and_rolled_back(backend: Backend) {
    let bench = bench(backend).await;
    let mia = bench.signed_in("mia@acme.example", Role::Marketer).await;
    bench.mql("ana@northwind.example").await;
    let (_, page) = bench.get("/console/settings", Some(&mia)).await;
    let live = textarea_of(&page);
    assert!(live.starts_with("[[sites]]\nid = \"demo\"\n"), "{live}");
    let points = |text: &str| text.replacen("points = 10", "points = 35", 1);

    // Refused text names the key and saves nothing.
    let refusals = [
        (
            live.replacen(
                "name = \"pricing_viewed\"",
                "name = \"request_demo_click\"",
                1,
            ),
            "sites[0].behaviours[1].name: must be present and unique",
        ),
        (
            live.replacen("time_zone = \"Europe/Berlin\"", "time_zone = \"Berlin\"", 1),
            "sites[0].time_zone",
        ),
        (
            live.replacen("threshold = 20", "threshold = \"high\"", 1),
            "invalid type",
        ),
        (
            "[[sites]]\nid = \"demo\"\n".to_owned(),
            "missing field `lead_definition`",
        ),
    ];
    for (text, expected) in refusals {
        let (status, body) = bench
            .post(
                "/console/settings",
                &mia,
                &[("site", "demo"), ("action", "save"), ("text", &text)],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{expected}");
        assert!(
            body.contains(&expected.replace('"', "&#34;")),
            "{expected} not in the page"
        );
    }
    assert_eq!(bench.count("site_settings").await, 1);

    // A preview counts without writing.
    let everyone = live
        .replacen("threshold = 20", "threshold = -100", 1)
        .replacen("threshold = 40", "threshold = -100", 1);
    let (status, body) = bench
        .post(
            "/console/settings",
            &mia,
            &[("site", "demo"), ("action", "preview"), ("text", &everyone)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<strong>1</strong> of 1 identified contacts would be MQL (now: 1)"),
        "{body}"
    );
    assert_eq!(bench.count("site_settings").await, 1);

    // Saved, it is live at once for the collector's public configuration.
    let (status, location) = bench
        .post(
            "/console/settings",
            &mia,
            &[
                ("site", "demo"),
                ("action", "save"),
                ("text", &points(&live)),
                ("note", "pricing matters more"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/console/settings?site=demo&saved=2")
    );
    assert_eq!(pricing_points(&bench).await, 35);
    let (_, version) = bench
        .get("/console/settings/versions/2?site=demo", Some(&mia))
        .await;
    assert!(version.contains("-points = 10\n+points = 35"), "{version}");
    assert!(version.contains("mia@acme.example") && version.contains("pricing matters more"));

    // Another process on the same database sees it when it reloads.
    {
        let example = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../headwater.example.toml"
        ))
        .unwrap();
        let mut config = Config::parse(&example).unwrap();
        config.server.database = bench.database.clone();
        config.server.pkg_dir = bench.folder.path().join("pkg");
        let other = AppState::new(config).await.unwrap();
        let pricing = |state: &AppState| state.site("demo").unwrap().behaviours[1].points;
        assert_eq!(
            pricing(&other),
            35,
            "a process starting later reads the live version"
        );
        let (status, _) = bench
            .post(
                "/console/settings",
                &mia,
                &[
                    ("site", "demo"),
                    ("action", "save"),
                    ("text", &live.replacen("points = 10", "points = 12", 1)),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(pricing(&other), 35, "until it reloads");
        other.live_sites().reload(other.store()).await.unwrap();
        assert_eq!(pricing(&other), 12);
        other.store().close().await;
    }

    // Saving the same text again makes no version; rolling back makes a new one.
    let versions = bench.count("site_settings").await;
    let (_, body) = bench
        .post(
            "/console/settings",
            &mia,
            &[
                ("site", "demo"),
                ("action", "save"),
                ("text", &live.replacen("points = 10", "points = 12", 1)),
            ],
        )
        .await;
    assert!(body.contains("nothing saved"));
    assert_eq!(bench.count("site_settings").await, versions);
    let (status, _) = bench
        .post(
            "/console/settings/versions/1/rollback",
            &mia,
            &[("site", "demo")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(pricing_points(&bench).await, 10);
    let (_, page) = bench.get("/console/settings", Some(&mia)).await;
    assert_eq!(textarea_of(&page), live);
    assert!(page.contains("rollback to version 1"));

    // Export gives the file format back; a whole configuration file imports.
    let (status, exported) = bench
        .get("/console/settings/export?site=demo", Some(&mia))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(exported.contains(&live));
    let whole_file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../headwater.example.toml"
    ))
    .unwrap();
    let (status, body) = bench
        .post(
            "/console/settings",
            &mia,
            &[
                ("site", "demo"),
                ("action", "preview"),
                ("text", &points(&whole_file)),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("sites[0].webhooks"),
        "file-owned keys are named as left alone"
    );
}

/// The points of the pricing behaviour as the collector serves them to browsers.
async fn pricing_points(bench: &Bench) -> i64 {
    let (_, _, body) = bench
        .send(
            Request::get("/api/v1/sites/demo/config")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let config: Value = serde_json::from_str(&body).unwrap();
    config["behaviours"]
        .as_array()
        .unwrap()
        .iter()
        .find(|behaviour| behaviour["name"] == "pricing_viewed")
        .unwrap()["points"]
        .as_i64()
        .unwrap()
}

fn textarea_of(page: &str) -> String {
    let start = page.find("<textarea").unwrap();
    let start = start + page[start..].find('>').unwrap() + 1;
    let end = start + page[start..].find("</textarea>").unwrap();
    page[start..end]
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

async fn the_report_agrees_with_the_stage_record_on_seeded_history(backend: Backend) {
    let bench = bench(backend).await;
    let options = headwater_server::seed::SeedOptions {
        visitors: 260,
        days: 45,
        site: None,
        seed: 11,
        until_ms: now(),
    };
    let summary = headwater_server::seed::seed(&bench.state, &options)
        .await
        .unwrap();
    assert!(summary.sla_breaches > 0, "{summary:?}");
    let admin = bench
        .sign_in("admin@acme.example", &summary.accounts[0].2)
        .await
        .unwrap();

    // Every stage is reached, through people's moves with reasons.
    let reached: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT to_stage FROM stage_changes ORDER BY to_stage")
            .fetch_all(bench.state.store().reader())
            .await
            .unwrap();
    assert_eq!(
        reached,
        [
            "customer", "inquiry", "known", "mql", "recycled", "sal", "sql"
        ]
    );
    let campaigns: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT first_campaign) FROM contacts")
        .fetch_one(bench.state.store().reader())
        .await
        .unwrap();
    assert!(campaigns >= 3, "{campaigns} campaigns");

    let zone = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
    let today = headwater_server::report::day_of(now(), &zone);
    let from = today.checked_sub(jiff::Span::new().days(29)).unwrap();
    let period = headwater_server::report::Period::new(from, today, &zone).unwrap();
    for source in ["", "channel:paid", "campaign:spring-launch"] {
        let path = format!(
            "/console/report.csv?site=demo&from={from}&to={today}&source={}",
            source.replace(':', "%3A")
        );
        let (status, csv) = bench.get(&path, Some(&admin)).await;
        assert_eq!(status, StatusCode::OK);
        let rows: Vec<Vec<String>> = csv::Reader::from_reader(csv.as_bytes())
            .records()
            .map(|record| record.unwrap().iter().map(str::to_owned).collect())
            .collect();

        let (column, value) = source
            .split_once(':')
            .map_or(("''", ""), |(dimension, value)| match dimension {
                "channel" => ("c.first_channel", value),
                _ => ("c.first_campaign", value),
            });
        let counted: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT sc.to_stage, COUNT(*) FROM stage_changes sc
             JOIN contacts c ON c.id = sc.contact_id
             WHERE sc.at >= $1 AND sc.at < $2 AND {column} = $3 GROUP BY sc.to_stage"
        ))
        .bind(period.start_ms)
        .bind(period.end_ms)
        .bind(value)
        .fetch_all(bench.state.store().reader())
        .await
        .unwrap();
        let mut total = 0;
        for stage in [
            "inquiry", "known", "mql", "sal", "sql", "customer", "recycled",
        ] {
            let expected = counted
                .iter()
                .find(|(name, _)| name == stage)
                .map_or(0, |(_, count)| *count);
            total += expected;
            let reported = rows
                .iter()
                .find(|row| row[0] == "waterfall" && row[1] == stage && row[2] == "entered")
                .unwrap();
            assert_eq!(
                reported[4],
                expected.to_string(),
                "{stage} entered, source {source:?}"
            );
            let by_day: i64 = rows
                .iter()
                .filter(|row| row[0] == "day" && row[1] == stage)
                .map(|row| row[4].parse::<i64>().unwrap())
                .sum();
            assert_eq!(
                by_day, expected,
                "{stage} summed over the days, source {source:?}"
            );
        }
        assert!(total > 0, "source {source:?} has moves");

        let recycled: Vec<(String, String, i64)> = sqlx::query_as(&format!(
            "SELECT sc.from_stage, sc.reason, COUNT(*) FROM stage_changes sc
             JOIN contacts c ON c.id = sc.contact_id
             WHERE sc.to_stage = 'recycled' AND sc.at >= $1 AND sc.at < $2 AND {column} = $3
             GROUP BY sc.from_stage, sc.reason"
        ))
        .bind(period.start_ms)
        .bind(period.end_ms)
        .bind(value)
        .fetch_all(bench.state.store().reader())
        .await
        .unwrap();
        for (from, reason, count) in recycled {
            let row = rows
                .iter()
                .find(|row| row[0] == "recycled" && row[1] == from && row[3] == reason)
                .unwrap_or_else(|| panic!("no row for {from} {reason}"));
            assert_eq!(row[4], count.to_string(), "{from}: {reason}");
        }
    }
}

#[tokio::test]
async fn a_day_with_a_daylight_saving_change_counts_each_move_once() {
    let bench = bench_with(Backend::Sqlite, |config| {
        config.sites[0].time_zone = "America/New_York".into()
    })
    .await;
    let admin = bench.signed_in("admin@acme.example", Role::Admin).await;
    // New York falls back on 2025-11-02: 01:00 to 02:00 happens twice; the day has 25 hours.
    let moments = [
        "2025-11-01T23:59:59-04:00",
        "2025-11-02T00:00:00-04:00",
        "2025-11-02T01:30:00-04:00",
        "2025-11-02T01:30:00-05:00",
        "2025-11-02T23:59:59-05:00",
        "2025-11-03T00:00:00-05:00",
    ];
    for (index, moment) in moments.iter().enumerate() {
        let at: jiff::Timestamp = moment.parse().unwrap();
        let at = at.as_millisecond();
        let id = format!("contact-{index}");
        sqlx::query(
            "INSERT INTO contacts (id, site_id, stage, created_at, updated_at, stage_changed_at)
             VALUES ($1, 'demo', 'inquiry', $2, $2, $2)",
        )
        .bind(&id)
        .bind(at)
        .execute(bench.state.store().reader())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO stage_changes (contact_id, from_stage, to_stage, actor, reason, at)
             VALUES ($1, NULL, 'inquiry', 'visitor', 'first visit', $2)",
        )
        .bind(&id)
        .bind(at)
        .execute(bench.state.store().reader())
        .await
        .unwrap();
    }
    let entered = |csv: &str, day: &str| -> String {
        csv.lines()
            .find(|line| line.starts_with(&format!("day,inquiry,entered,{day},")))
            .unwrap_or_else(|| panic!("no row for {day}"))
            .split(',')
            .nth(4)
            .unwrap()
            .to_owned()
    };
    let (_, csv) = bench
        .get(
            "/console/report.csv?from=2025-11-01&to=2025-11-03",
            Some(&admin),
        )
        .await;
    assert_eq!(
        ["2025-11-01", "2025-11-02", "2025-11-03"].map(|day| entered(&csv, day)),
        ["1", "4", "1"]
    );
    let (_, csv) = bench
        .get(
            "/console/report.csv?from=2025-11-02&to=2025-11-02",
            Some(&admin),
        )
        .await;
    assert!(csv.contains("waterfall,inquiry,entered,,4,1"), "{csv}");
}

#[tokio::test]
async fn the_csv_export_neutralises_formulas() {
    let bench = bench(Backend::Sqlite).await;
    let admin = bench.signed_in("admin@acme.example", Role::Admin).await;
    let quinn = bench
        .signed_in("quinn@acme.example", Role::Qualification)
        .await;
    let formulas = [
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        " =1+2",
    ];
    for (index, formula) in formulas.iter().enumerate() {
        let contact = bench.mql(&format!("lead{index}@northwind.example")).await;
        let (status, _) = bench
            .post(
                &format!("/console/leads/{contact}/move"),
                &quinn,
                &[("to", "recycled"), ("note", formula)],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (status, csv) = bench.get("/console/report.csv", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let reasons: Vec<String> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|record| record.unwrap())
        .filter(|record| &record[0] == "recycled")
        .map(|record| record[3].to_owned())
        .collect();
    assert_eq!(reasons.len(), formulas.len(), "{csv}");
    for formula in formulas {
        let stored = formula.trim();
        assert!(
            reasons.contains(&format!("'{stored}")),
            "{formula:?} not neutralised in {reasons:?}"
        );
    }
}

#[tokio::test]
async fn headwater_user_add_makes_an_account_that_signs_in() {
    use std::io::Write;
    let bench = bench(Backend::Sqlite).await;
    let config = bench.folder.path().join("headwater.toml");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../headwater.example.toml"
    ))
    .unwrap();
    std::fs::write(&config, example).unwrap();
    let add = |password: &str, email: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_headwater"))
            .args(["user", "add", "--config"])
            .arg(&config)
            .args([
                "--database",
                &bench.database,
                "--email",
                email,
                "--role",
                "admin",
                "--password-stdin",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };

    let short = add("short", "olga@acme.example");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"));
    let added = add(PASSWORD, "Olga@Acme.example");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&added.stdout),
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(!output.contains(PASSWORD), "the password is never printed");
    let again = add(PASSWORD, "olga@acme.example");
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    assert_eq!(bench.count("users").await, 1);

    let session = bench.sign_in("olga@acme.example", PASSWORD).await.unwrap();
    assert_eq!(
        bench.get("/console/users", Some(&session)).await.0,
        StatusCode::OK
    );
}
