//! The console in real Chromium against the real server: a marketer, the
//! qualification team and sales sign in, each sees only its own pages, two MQLs
//! are worked (one through to Customer, one back to marketing), and the waterfall
//! report moves. The report and a lead page are photographed under
//! `target/screenshots/`.

mod support;

use fantoccini::Locator;
use headwater_core::Role;
use headwater_server::accounts;
use headwater_server::store::Store;
use serde_json::json;
use support::{Browser, Receiver, Server, eventually, root};

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn each_role_works_its_part_of_the_waterfall_and_the_report_moves() -> anyhow::Result<()> {
    let receiver = Receiver::start(&[]).await?;
    let server = Server::start(&receiver.url).await?;
    let store = Store::open(&server.database_url).await?;
    let people = [
        ("mia@acme.example", Role::Marketer),
        ("quinn@acme.example", Role::Qualification),
        ("sam@acme.example", Role::Sales),
    ];
    for (email, role) in people {
        accounts::add_user(&store, email, role, PASSWORD, now()).await?;
    }
    store.close().await;
    let screenshots = root().join("target/screenshots");
    std::fs::create_dir_all(&screenshots)?;
    let browser = Browser::start().await?;

    let won = make_mql(
        &browser,
        &server,
        "ana.perez@northwind.example",
        "Ana Pérez",
    )
    .await?;
    let returned = make_mql(&browser, &server, "ben.okafor@globex.example", "Ben Okafor").await?;

    // The marketer reads the report and the settings, and has no queue.
    sign_in(&browser, &server, "mia@acme.example").await?;
    assert_eq!(nav(&browser).await?, ["Waterfall", "Leads", "Settings"]);
    assert_eq!(entered(&browser, "mql").await?, 2);
    assert_eq!(entered(&browser, "customer").await?, 0);
    let svg = browser.client.find(Locator::Css("svg#waterfall")).await?;
    assert!(svg.text().await?.contains("MQL"));
    browser
        .client
        .goto(&format!("{}/console/queue", server.url))
        .await?;
    assert!(page_text(&browser).await?.contains("Not possible (403)"));
    sign_out(&browser).await?;

    // The qualification team accepts one MQL and returns the other, with notes.
    sign_in(&browser, &server, "quinn@acme.example").await?;
    assert_eq!(nav(&browser).await?, ["Queue", "Leads"]);
    browser
        .client
        .goto(&format!("{}/console/report", server.url))
        .await?;
    assert!(page_text(&browser).await?.contains("Not possible (403)"));
    browser
        .client
        .goto(&format!("{}/console/queue", server.url))
        .await?;
    act(
        &browser,
        &server,
        &won,
        "sal",
        None,
        "budget and timing confirmed",
    )
    .await?;
    act(
        &browser,
        &server,
        &returned,
        "recycled",
        Some("no budget"),
        "call again in autumn",
    )
    .await?;
    assert!(
        !page_text(&browser).await?.contains("ben.okafor"),
        "the returned lead left the queue"
    );
    sign_out(&browser).await?;

    // Sales qualifies the accepted lead and closes it as won.
    sign_in(&browser, &server, "sam@acme.example").await?;
    assert_eq!(nav(&browser).await?, ["Queue", "Leads"]);
    act(&browser, &server, &won, "sql", None, "discovery call done").await?;
    act(
        &browser,
        &server,
        &won,
        "customer",
        None,
        "signed the annual plan",
    )
    .await?;
    browser
        .client
        .goto(&format!("{}/console/leads/{won}", server.url))
        .await?;
    let lead = page_text(&browser).await?;
    for shown in [
        "Ana Pérez",
        "customer",
        "signed the annual plan",
        "person:quinn@acme.example",
        "request_demo_click",
    ] {
        assert!(lead.contains(shown), "the lead page lacks {shown}");
    }
    std::fs::write(
        screenshots.join("console-lead.png"),
        browser.client.screenshot().await?,
    )?;
    sign_out(&browser).await?;

    // The report moved.
    sign_in(&browser, &server, "mia@acme.example").await?;
    assert_eq!(entered(&browser, "customer").await?, 1);
    assert_eq!(entered(&browser, "sal").await?, 1);
    assert_eq!(entered(&browser, "recycled").await?, 1);
    let reasons = browser
        .client
        .find(Locator::Css("table#reasons"))
        .await?
        .text()
        .await?;
    assert!(
        reasons.contains("no budget: call again in autumn"),
        "{reasons}"
    );
    std::fs::write(
        screenshots.join("console-report.png"),
        browser.client.screenshot().await?,
    )?;

    // Every handoff of the journey was delivered, signed, to the receiver.
    eventually("the handoffs", || async {
        let kinds: Vec<String> = receiver
            .deliveries()
            .iter()
            .filter_map(|delivery| {
                delivery
                    .headers
                    .get("headwater-event")?
                    .to_str()
                    .ok()
                    .map(str::to_owned)
            })
            .collect();
        let wanted = ["mql", "mql", "sal", "recycled", "sql", "customer"];
        Ok((kinds.len() >= wanted.len()).then_some(()))
    })
    .await?;

    browser.close().await?;
    server.stop().await
}

/// A visitor of the demo site who browses and identifies itself well enough to
/// become an MQL, sent from the site's own pages with fetch.
async fn make_mql(
    browser: &Browser,
    server: &Server,
    email: &str,
    name: &str,
) -> anyhow::Result<String> {
    browser
        .client
        .goto(&format!("{}/www/product.html", server.url))
        .await?;
    let visitor = uuid(email.len() as u64 * 7919 + 1);
    let event = |n: u64, path: &str, kind: serde_json::Value| {
        let mut event = json!({
            "id": uuid(email.len() as u64 * 1_000 + n), "session_id": uuid(42), "at": now(),
            "url": format!("{}{path}", server.url), "referrer": "",
        });
        event
            .as_object_mut()
            .unwrap()
            .extend(kind.as_object().unwrap().clone());
        event
    };
    let batch = json!({
        "site": "demo", "visitor_id": visitor, "sent_at": now(),
        "events": [
            event(1, "/", json!({"kind": "page_view"})),
            event(2, "/www/product.html", json!({"kind": "page_view"})),
            event(3, "/www/pricing.html", json!({"kind": "page_view"})),
            event(
                4,
                "/www/pricing.html",
                json!({"kind": "engagement", "engaged_ms": 30000, "scroll_depth": 100}),
            ),
            event(5, "/www/demo.html", json!({"kind": "click", "behaviour": "request_demo_click"})),
        ],
    });
    let identify = json!({
        "site": "demo", "visitor_id": visitor, "form": "demo_request",
        "token": uuid(email.len() as u64 * 31 + 5), "fill_ms": 7000,
        "answers": {
            "name": name, "email": email, "company": "Northwind", "role": "CTO",
            "company_size": "250",
        },
    });
    let script = r#"
        const [batch, identify, done] = arguments;
        const post = (path, body) =>
            fetch(path, {method: 'POST', body: JSON.stringify(body)}).then(r => r.status);
        post('/api/v1/events', batch)
            .then(a => post('/api/v1/identify', identify).then(b => done([a, b])));
    "#;
    let statuses = browser
        .client
        .execute_async(script, vec![batch, identify])
        .await?;
    assert_eq!(statuses, json!([200, 200]), "{email}");
    eventually("the MQL", || async {
        let found: Option<(String, String)> =
            sqlx::query_as("SELECT id, stage FROM contacts WHERE email = $1")
                .bind(email)
                .fetch_optional(&server.database)
                .await?;
        Ok(found.filter(|(_, stage)| stage == "mql").map(|(id, _)| id))
    })
    .await
}

async fn sign_in(browser: &Browser, server: &Server, email: &str) -> anyhow::Result<()> {
    browser
        .client
        .goto(&format!("{}/console/sign-in", server.url))
        .await?;
    browser
        .client
        .find(Locator::Css("input[name=email]"))
        .await?
        .send_keys(email)
        .await?;
    browser
        .client
        .find(Locator::Css("input[name=password]"))
        .await?
        .send_keys(PASSWORD)
        .await?;
    browser
        .client
        .find(Locator::Css("main form button[type=submit]"))
        .await?
        .click()
        .await?;
    eventually("the console after signing in", || async {
        let path = browser.client.current_url().await?.path().to_owned();
        Ok((path != "/console/sign-in").then_some(()))
    })
    .await
}

async fn sign_out(browser: &Browser) -> anyhow::Result<()> {
    browser
        .client
        .find(Locator::Css("form.who button"))
        .await?
        .click()
        .await?;
    eventually("the sign-in page", || async {
        let path = browser.client.current_url().await?.path().to_owned();
        Ok((path == "/console/sign-in").then_some(()))
    })
    .await
}

/// The labels of the console's navigation.
async fn nav(browser: &Browser) -> anyhow::Result<Vec<String>> {
    let mut labels = Vec::new();
    for link in browser
        .client
        .find_all(Locator::Css("header nav a"))
        .await?
    {
        labels.push(link.text().await?);
    }
    Ok(labels)
}

/// The report's "entered" figure for a stage, from the page on screen or the report.
async fn entered(browser: &Browser, stage: &str) -> anyhow::Result<u64> {
    if browser.client.current_url().await?.path() != "/console/report" {
        let url = browser
            .client
            .current_url()
            .await?
            .join("/console/report")?;
        browser.client.goto(url.as_str()).await?;
    }
    let cell = browser
        .client
        .find(Locator::Css(&format!("tr[data-stage={stage}] td.entered")))
        .await?;
    Ok(cell.text().await?.trim().parse()?)
}

/// Presses a move button in the queue row of a lead, with a reason and a note.
async fn act(
    browser: &Browser,
    server: &Server,
    lead: &str,
    to: &str,
    reason: Option<&str>,
    note: &str,
) -> anyhow::Result<()> {
    let row = format!("tr[data-lead=\"{lead}\"]");
    let client = &browser.client;
    if let Some(reason) = reason {
        client
            .find(Locator::Css(&format!("{row} select[name=reason]")))
            .await?
            .select_by_value(reason)
            .await?;
    }
    client
        .find(Locator::Css(&format!("{row} input[name=note]")))
        .await?
        .send_keys(note)
        .await?;
    client
        .find(Locator::Css(&format!("{row} button[value={to}]")))
        .await?
        .click()
        .await?;
    eventually("the move", || async {
        let stage: String = sqlx::query_scalar("SELECT stage FROM contacts WHERE id = $1")
            .bind(lead)
            .fetch_one(&server.database)
            .await?;
        Ok((stage == to).then_some(()))
    })
    .await?;
    eventually("the queue again", || async {
        let path = browser.client.current_url().await?.path().to_owned();
        Ok((path == "/console/queue").then_some(()))
    })
    .await
}

async fn page_text(browser: &Browser) -> anyhow::Result<String> {
    Ok(browser
        .client
        .find(Locator::Css("body"))
        .await?
        .text()
        .await?)
}

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
