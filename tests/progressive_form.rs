//! Progressive profiling in real Chromium against the real server: a visitor who
//! identified once is not asked again for what the server knows, and "Not you?"
//! starts afresh as a new anonymous visitor with every question asked.

mod support;

use std::time::Duration;

use fantoccini::Locator;
use support::{Browser, Receiver, Server, eventually};

const FORM: &str = "form[data-headwater-rendered]";

#[tokio::test]
async fn a_returning_visitor_is_asked_only_what_is_missing() -> anyhow::Result<()> {
    let receiver = Receiver::start(&[]).await?;
    let server = Server::start(&receiver.url).await?;
    let browser = Browser::start().await?;
    let demo = format!("{}/www/demo.html", server.url);

    // First visit: every question, role and phone left out.
    browser.client.goto(&demo).await?;
    assert_eq!(
        asked(&browser).await?,
        ["name", "email", "company", "role", "company_size", "phone"]
    );
    for (name, value) in [
        ("name", "Ана Перес"),
        ("email", "ana.perez@northwind.example"),
        ("company", "Northwind Traders"),
        ("company_size", "250"),
    ] {
        let field = format!("{FORM} [name={name}]");
        browser
            .client
            .find(Locator::Css(&field))
            .await?
            .send_keys(value)
            .await?;
    }
    send(&browser).await?;

    // Second visit: only the questions not answered yet, and a way out.
    browser.client.goto(&demo).await?;
    assert_eq!(asked(&browser).await?, ["role", "phone"]);
    let not_you = browser
        .run("const p = document.querySelector('.hw-not-you'); return !!p && !p.hidden")
        .await?;
    assert_eq!(
        not_you.as_bool(),
        Some(true),
        "the \"Not you?\" link is shown"
    );
    let field = format!("{FORM} [name=role]");
    browser
        .client
        .find(Locator::Css(&field))
        .await?
        .select_by_value("CTO")
        .await?;
    send(&browser).await?;
    let answers: String =
        sqlx::query_scalar("SELECT answers FROM contacts WHERE email IS NOT NULL")
            .fetch_one(&server.database)
            .await?;
    let answers: serde_json::Value = serde_json::from_str(&answers)?;
    assert_eq!(
        (answers["role"].as_str(), answers["name"].as_str()),
        (Some("CTO"), Some("Ана Перес"))
    );

    // Somebody else at the same computer.
    browser.client.goto(&demo).await?;
    let before = browser
        .run("return localStorage.getItem('hw.visitor')")
        .await?;
    eventually("the \"Not you?\" link", || async {
        // Not there yet is not a failure: the form renders once the server has said
        // what it knows.
        let Ok(link) = browser.client.find(Locator::Css(".hw-not-you a")).await else {
            return Ok(None);
        };
        Ok(link.is_displayed().await?.then_some(link))
    })
    .await?
    .click()
    .await?;
    assert_eq!(
        asked(&browser).await?,
        ["name", "email", "company", "role", "company_size", "phone"]
    );
    let after = browser
        .run("return localStorage.getItem('hw.visitor')")
        .await?;
    assert_ne!(before, after, "a new anonymous visitor");

    browser.close().await?;
    server.stop().await
}

/// The names of the questions the rendered form asks, once it has asked the server
/// what is known.
async fn asked(browser: &Browser) -> anyhow::Result<Vec<String>> {
    eventually("the form's questions", || async {
        let names = browser
            .run(&format!(
                "const names = [...document.querySelectorAll('{FORM} .hw-field [name]')]
                   .map(field => field.name);
                 return names.length ? names : null"
            ))
            .await?;
        Ok(serde_json::from_value::<Option<Vec<String>>>(names)?)
    })
    .await
}

/// Sends the form after the minimum fill time and waits for the thank-you text.
async fn send(browser: &Browser) -> anyhow::Result<()> {
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let button = format!("{FORM} button[type=submit]");
    browser
        .client
        .find(Locator::Css(&button))
        .await?
        .click()
        .await?;
    eventually("the thank-you text", || async {
        let shown = browser
            .run("const t = document.querySelector('.hw-thanks'); return !!t && !t.hidden")
            .await?;
        Ok(shown.as_bool().unwrap_or(false).then_some(()))
    })
    .await
}
