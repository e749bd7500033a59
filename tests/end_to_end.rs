//! The whole path on the demo site, in real Chromium against the real server: a
//! visitor browses anonymously, asks for a demo, fills in the form, and is either
//! promoted to MQL and handed off as a signed webhook, or kept in nurture with an
//! explanation.

mod support;

use std::collections::BTreeSet;
use std::sync::LazyLock;
use std::time::Duration;

use fantoccini::Locator;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use support::{Browser, Receiver, Server, eventually};
use tokio::sync::Mutex;

/// One browser at a time: the machine running the tests has two cores.
static ONE_BROWSER_AT_A_TIME: LazyLock<Mutex<()>> = LazyLock::new(|| Mutex::new(()));

const SECRET: &str = "demo-handoff-secret-change-me";

struct Visit<'a> {
    name: &'a str,
    email: &'a str,
    company: &'a str,
    role: &'a str,
    company_size: &'a str,
}

const MATCHING: Visit<'static> = Visit {
    name: "Ана Перес",
    email: "ana.perez@northwind.example",
    company: "Northwind Traders",
    role: "CTO",
    company_size: "250",
};

const NOT_MATCHING: Visit<'static> = Visit {
    name: "Sam Small",
    email: "sam.small@gmail.com",
    company: "Sam's Shop",
    role: "CEO",
    company_size: "5",
};

#[tokio::test]
async fn a_matching_visitor_becomes_an_mql_and_is_handed_off_once() -> anyhow::Result<()> {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let receiver = Receiver::start(&[]).await?;
    let server = Server::start(&receiver.url).await?;

    let produced = browse_and_identify(&server, &MATCHING).await?;

    let contact = contact_by_email(&server, MATCHING.email).await?;
    let stored = wait_for_events(&server, &produced).await?;
    assert_eq!(
        stored, produced,
        "the database holds exactly the events the browser produced"
    );
    let history = events_of_contact(&server, &contact).await?;
    assert_eq!(
        history, produced,
        "the contact carries its whole anonymous history"
    );
    let kinds = kinds_of_contact(&server, &contact).await?;
    for kind in ["page_view", "engagement", "click"] {
        assert!(kinds.contains(kind), "no {kind} event among {kinds:?}");
    }

    let stages = wait_for_stages(&server, &contact, 3).await?;
    assert_eq!(stages, ["inquiry", "known", "mql"]);

    let delivery = eventually("the handoff", || async {
        Ok(receiver.deliveries().into_iter().next())
    })
    .await?;
    // Give a duplicate every chance to show up before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.deliveries().len(), 1, "exactly one handoff");
    let handoff = verified_handoff(&delivery)?;
    assert_eq!(handoff["event"], "mql");
    assert_eq!(handoff["contact"]["email"], MATCHING.email);
    assert_eq!(
        handoff["contact"]["name"], MATCHING.name,
        "Cyrillic names round-trip"
    );
    assert_eq!(handoff["company"]["name"], MATCHING.company);
    assert_eq!(
        handoff["explanation"]["summary"],
        "MQL: fit 30/20, engagement 55/40"
    );
    assert!(!handoff["recent_behaviour"].as_array().unwrap().is_empty());

    server.stop().await
}

#[tokio::test]
async fn a_free_mail_visitor_at_a_small_company_stays_known_with_an_explanation()
-> anyhow::Result<()> {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let receiver = Receiver::start(&[]).await?;
    let server = Server::start(&receiver.url).await?;

    let produced = browse_and_identify(&server, &NOT_MATCHING).await?;
    let contact = contact_by_email(&server, NOT_MATCHING.email).await?;
    assert_eq!(wait_for_events(&server, &produced).await?, produced);

    // The last batch has been evaluated once every event is stored.
    let verdict = eventually("a verdict on the full history", || async {
        let (verdict, engagement): (Option<String>, i64) =
            sqlx::query_as("SELECT verdict, engagement_score FROM contacts WHERE id = $1")
                .bind(&contact)
                .fetch_one(&server.database)
                .await?;
        Ok(verdict.filter(|_| engagement >= 40))
    })
    .await?;
    let verdict: Value = serde_json::from_str(&verdict)?;
    assert_eq!(verdict["mql"], false);
    let missed: Vec<&str> = verdict["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|reason| reason["half"] == "fit" && reason["matched"] == false)
        .map(|reason| reason["rule"].as_str().unwrap())
        .collect();
    assert_eq!(missed, ["business e-mail", "company of 50 or more"]);

    assert_eq!(stages_of(&server, &contact).await?, ["inquiry", "known"]);
    let outbox: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&server.database)
        .await?;
    assert_eq!(outbox, 0, "no handoff is queued");
    assert!(receiver.deliveries().is_empty());

    server.stop().await
}

#[tokio::test]
async fn a_handoff_survives_a_failing_receiver_without_duplicates() -> anyhow::Result<()> {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let receiver = Receiver::start(&[500, 500]).await?;
    let server = Server::start(&receiver.url).await?;

    browse_and_identify(&server, &MATCHING).await?;

    let (state, attempts) = eventually("the handoff to be delivered", || async {
        let row: Option<(String, i64)> = sqlx::query_as("SELECT state, attempts FROM outbox")
            .fetch_optional(&server.database)
            .await?;
        Ok(row.filter(|(state, _)| state == "delivered"))
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let deliveries = receiver.deliveries();
    let answered: Vec<u16> = deliveries
        .iter()
        .map(|delivery| delivery.answered)
        .collect();
    assert_eq!(answered, [500, 500, 200]);
    assert_eq!((state.as_str(), attempts), ("delivered", 3));
    let keys: BTreeSet<&str> = deliveries
        .iter()
        .map(|delivery| delivery.headers["idempotency-key"].to_str().unwrap())
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "every retry carries the same idempotency key"
    );
    for delivery in &deliveries {
        verified_handoff(delivery)?;
    }
    let outbox: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&server.database)
        .await?;
    assert_eq!(outbox, 1, "one handoff, delivered once");

    server.stop().await
}

#[tokio::test]
async fn a_headless_browser_is_a_bot_and_leaves_no_trace() -> anyhow::Result<()> {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let receiver = Receiver::start(&[]).await?;
    let server = Server::start(&receiver.url).await?;
    let browser = Browser::start_as_bot().await?;
    let url = &server.url;

    browser.client.goto(&format!("{url}/healthz")).await?;
    browser.run("localStorage.setItem('hw.debug', '1')").await?;
    browser.client.goto(&format!("{url}/")).await?;
    browser.wait_for_tracker().await?;
    browser
        .click_through("#see-product", "/www/product.html")
        .await?;
    // The collector answers the bot as it answers anyone: its queue empties.
    eventually("the bot's events to be acknowledged", || async {
        let queued = browser
            .run("return Object.keys(localStorage).filter(k => k.startsWith('hw.q.')).length")
            .await?;
        Ok((queued.as_u64() == Some(0)).then_some(()))
    })
    .await?;
    let produced = browser.run("return JSON.parse(localStorage.getItem('hw.debug.produced'))");
    let produced = produced.await?;
    browser.close().await?;
    assert!(
        produced.as_array().is_some_and(|ids| ids.len() >= 2),
        "the bot sent events"
    );

    for table in ["events", "contacts", "visitors"] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&server.database)
            .await?;
        assert_eq!(count, 0, "{table}");
    }
    server.stop().await
}

/// Home, product, pricing (scrolled to the end), "request a demo", the form filled
/// and sent, then away from the site. Returns the ids of every event the tracker
/// produced, as its debug log recorded them.
async fn browse_and_identify(
    server: &Server,
    visit: &Visit<'_>,
) -> anyhow::Result<BTreeSet<String>> {
    let browser = Browser::start().await?;
    let url = &server.url;

    // A page without the tracker, to turn on the tracker's debug log first.
    browser.client.goto(&format!("{url}/healthz")).await?;
    browser.run("localStorage.setItem('hw.debug', '1')").await?;

    browser.client.goto(&format!("{url}/")).await?;
    browser.wait_for_tracker().await?;
    browser
        .click_through("#see-product", "/www/product.html")
        .await?;
    browser
        .click_through("#see-pricing", "/www/pricing.html")
        .await?;
    browser
        .run("window.scrollTo(0, document.documentElement.scrollHeight)")
        .await?;
    eventually("the scroll to be seen", || async {
        let bottom = browser
            .run(
                "const root = document.documentElement;
                 return window.scrollY + window.innerHeight >= root.scrollHeight - 2",
            )
            .await?;
        Ok(bottom.as_bool().unwrap_or(false).then_some(()))
    })
    .await?;
    // The tracker samples depth on scroll events and once a second.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    browser
        .click_through("[data-action=request-demo]", "/www/demo.html")
        .await?;

    let email = browser
        .client
        .wait()
        .for_element(Locator::Css(
            "form[data-headwater-rendered] input[name=email]",
        ))
        .await?;
    let form = |name: &str| format!("form[data-headwater-rendered] [name={name}]");
    // The honeypot is in the form but off the screen, out of the tab order.
    let trap_hidden = browser
        .run(
            "const trap = document.querySelector('.hw-trap input');
             return !!trap && trap.getBoundingClientRect().right < 0 && trap.tabIndex === -1",
        )
        .await?;
    anyhow::ensure!(
        trap_hidden.as_bool() == Some(true),
        "the honeypot is visible"
    );
    // A person takes longer than the form's minimum fill time (two seconds).
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    browser
        .client
        .find(Locator::Css(&form("name")))
        .await?
        .send_keys(visit.name)
        .await?;
    email.send_keys(visit.email).await?;
    browser
        .client
        .find(Locator::Css(&form("company")))
        .await?
        .send_keys(visit.company)
        .await?;
    browser
        .client
        .find(Locator::Css(&form("role")))
        .await?
        .select_by_value(visit.role)
        .await?;
    browser
        .client
        .find(Locator::Css(&form("company_size")))
        .await?
        .send_keys(visit.company_size)
        .await?;
    browser
        .client
        .find(Locator::Css(
            "form[data-headwater-rendered] button[type=submit]",
        ))
        .await?
        .click()
        .await?;
    eventually("the thank-you text", || async {
        let shown = browser
            .run("const t = document.querySelector('.hw-thanks'); return !!t && !t.hidden")
            .await?;
        Ok(shown.as_bool().unwrap_or(false).then_some(()))
    })
    .await?;

    // Leaving the page sends what is still queued.
    browser.client.goto(&format!("{url}/healthz")).await?;
    let produced = browser
        .run("return localStorage.getItem('hw.debug.produced')")
        .await?;
    browser.close().await?;
    let produced: Vec<String> = serde_json::from_str(produced.as_str().unwrap_or("[]"))?;
    let unique: BTreeSet<String> = produced.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        produced.len(),
        "the tracker made each id once"
    );
    Ok(unique)
}

async fn contact_by_email(server: &Server, email: &str) -> anyhow::Result<String> {
    eventually("the contact", || async {
        Ok(
            sqlx::query_scalar("SELECT id FROM contacts WHERE email = $1")
                .bind(email)
                .fetch_optional(&server.database)
                .await?,
        )
    })
    .await
}

/// Waits until every produced event is stored, then returns all stored ids.
async fn wait_for_events(
    server: &Server,
    produced: &BTreeSet<String>,
) -> anyhow::Result<BTreeSet<String>> {
    eventually("every produced event to be stored", || async {
        let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM events")
            .fetch_all(&server.database)
            .await?;
        let stored: BTreeSet<String> = stored.into_iter().collect();
        Ok(produced.is_subset(&stored).then_some(stored))
    })
    .await
}

async fn events_of_contact(server: &Server, contact: &str) -> anyhow::Result<BTreeSet<String>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT e.id FROM events e JOIN visitors v ON v.id = e.visitor_id WHERE v.contact_id = $1",
    )
    .bind(contact)
    .fetch_all(&server.database)
    .await?;
    Ok(ids.into_iter().collect())
}

async fn kinds_of_contact(server: &Server, contact: &str) -> anyhow::Result<BTreeSet<String>> {
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT e.kind FROM events e
         JOIN visitors v ON v.id = e.visitor_id WHERE v.contact_id = $1",
    )
    .bind(contact)
    .fetch_all(&server.database)
    .await?;
    Ok(kinds.into_iter().collect())
}

async fn stages_of(server: &Server, contact: &str) -> anyhow::Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT to_stage FROM stage_changes WHERE contact_id = $1 ORDER BY id")
            .bind(contact)
            .fetch_all(&server.database)
            .await?,
    )
}

async fn wait_for_stages(
    server: &Server,
    contact: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    eventually("the stage history", || async {
        let stages = stages_of(server, contact).await?;
        Ok((stages.len() >= count).then_some(stages))
    })
    .await
}

/// Checks the delivery's signature and idempotency key the way a receiver would,
/// and returns the handoff it carried.
fn verified_handoff(delivery: &support::receiver::Delivery) -> anyhow::Result<Value> {
    let header = delivery.headers["headwater-signature"].to_str()?;
    let (timestamp, signature) = header
        .split_once(',')
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1.strip_prefix("v1=")?)))
        .ok_or_else(|| anyhow::anyhow!("malformed signature header {header}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes())?;
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&delivery.body);
    mac.verify_slice(&hex::decode(signature)?)
        .map_err(|_| anyhow::anyhow!("the signature does not verify"))?;

    let handoff: Value = serde_json::from_slice(&delivery.body)?;
    assert_eq!(
        delivery.headers["idempotency-key"].to_str()?,
        handoff["id"].as_str().unwrap()
    );
    Ok(handoff)
}
