//! The forms of the demo site in real Chromium against the real server, one
//! browser for every journey: the contact-sales overlay, opened by the tracker on
//! a click of its button (focus moved in, kept in and given back, dismissal by
//! Escape, backdrop and close button remembered, one request however often the
//! button is clicked), the white paper form with the keyboard only, and the demo
//! request pre-filled from a campaign link, each checked in the database
//! afterwards.

mod support;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::{Value, json};
use support::{Browser, Receiver, Server, eventually};

/// The form's minimum fill time (two seconds by default) and a margin.
const MIN_FILL: Duration = Duration::from_millis(2_100);
const DIALOG: &str = "dialog.hw-overlay";

#[tokio::test]
async fn every_form_of_the_demo_in_each_display_mode() -> anyhow::Result<()> {
    let receiver = Receiver::start(&[]).await?;
    let server = Server::start_with(&receiver.url, |config| {
        // POSIX classes: the server's regex crate reads them, the browser's RegExp
        // does not, so the browser leaves this pattern to the server.
        let sales = config.sites[0]
            .forms
            .iter_mut()
            .find(|form| form.id == "contact_sales");
        let vat =
            sales.and_then(|form| form.fields.iter_mut().find(|field| field.name == "vat_id"));
        vat.expect("the contact-sales form asks for a VAT number")
            .pattern = Some("[[:upper:]]{2}[[:alnum:]]{2,12}".into());
    })
    .await?;
    let browser = Browser::start().await?;

    the_contact_sales_overlay(&server, &browser).await?;
    new_visitor(&server, &browser).await?;
    the_white_paper_with_the_keyboard_only(&server, &browser).await?;
    new_visitor(&server, &browser).await?;
    a_demo_request_from_a_campaign_link(&server, &browser).await?;

    browser.close().await?;
    server.stop().await
}

async fn the_contact_sales_overlay(server: &Server, browser: &Browser) -> anyhow::Result<()> {
    // Opened: a labelled modal dialog, the focus on its first question.
    open(server, browser).await?;
    let dialog = browser
        .run(&format!(
            "const dialog = document.querySelector('{DIALOG}');
             const title = document.getElementById(dialog.getAttribute('aria-labelledby'));
             return [dialog.getAttribute('role'), dialog.getAttribute('aria-modal'),
                     title.textContent, dialog.open, dialog.matches(':modal')]"
        ))
        .await?;
    assert_eq!(
        dialog,
        json!(["dialog", "true", "Talk to sales", true, true])
    );

    // The focus stays inside: Shift+Tab from the first question goes to the last
    // control (the close button), Tab from there back to the first question.
    browser.tab(true).await?;
    assert_eq!(browser.focused().await?, "hw-close");
    browser.tab(false).await?;
    assert_eq!(browser.focused().await?, "name");

    // Escape dismisses it, remembers that, and gives the focus back.
    browser.press([char::from(Key::Escape)]).await?;
    dismissed(browser, true).await?;

    // A click on the backdrop, then the close button, do the same.
    open(server, browser).await?;
    browser.click_at(5.0, 5.0).await?;
    dismissed(browser, true).await?;
    open(server, browser).await?;
    browser
        .client
        .find(Locator::Css(".hw-close"))
        .await?
        .click()
        .await?;
    dismissed(browser, true).await?;

    // Sent empty: each required question says what it needs, and the focus goes
    // to the first.
    open(server, browser).await?;
    let opened_at = Instant::now();
    submit(browser).await?;
    expect_errors(
        browser,
        json!({
            "name": "Please fill in this field.",
            "email": "Please fill in this field.",
            "phone": "Please fill in this field.",
            "consent": "Please tick this box to continue.",
        }),
    )
    .await?;
    assert_eq!(browser.focused().await?, "name");

    // Answers in any script; a pattern only the server can read, so the visitor
    // sees the server's refusal next to the field.
    browser
        .run(
            "window.identifyCalls = 0;
             const fetch = window.fetch;
             window.fetch = (url, init) => {
               if (!String(url).endsWith('/api/v1/identify')) return fetch(url, init);
               window.identifyCalls += 1;
               return new Promise(resolve => setTimeout(resolve, window.holdBack || 0))
                 .then(() => fetch(url, init));
             };",
        )
        .await?;
    fill(browser, "name", "王小明").await?;
    fill(browser, "email", "用户@例子.广告").await?;
    fill(browser, "phone", "+7 912 345-67-89").await?;
    fill(browser, "vat_id", "de123").await?;
    browser
        .client
        .find(Locator::Css("[name=seats]"))
        .await?
        .select_by_value("51-200")
        .await?;
    browser
        .client
        .find(Locator::Css("[name=consent]"))
        .await?
        .click()
        .await?;
    submit(browser).await?;
    expect_errors(
        browser,
        json!({"vat_id": "Please enter this in the format asked for."}),
    )
    .await?;
    assert_eq!(browser.focused().await?, "vat_id");
    let refused = browser
        .run("const calls = window.identifyCalls; window.identifyCalls = 0; return calls")
        .await?;
    assert_eq!(refused, 1, "the server refused it");
    replace(browser, "vat_id", "DE123456789").await?;

    // Two clicks in a row: the button is disabled from the first until the
    // server answers (held back here for half a second), and one request leaves.
    tokio::time::sleep(MIN_FILL.saturating_sub(opened_at.elapsed())).await;
    browser
        .run(
            "window.holdBack = 500;
             localStorage.removeItem('hw.dismissed.contact_sales');
             const button = document.querySelector('dialog button[type=submit]');
             button.click();
             button.click();",
        )
        .await?;
    eventually("the button to be disabled", || async {
        let disabled = browser
            .run("return document.querySelector('dialog button[type=submit]').disabled")
            .await?;
        Ok(disabled.as_bool().unwrap_or(false).then_some(()))
    })
    .await?;
    eventually("the thank-you text and its close button", || async {
        Ok((browser.focused().await?.ends_with("-done")).then_some(()))
    })
    .await?;
    let thanks = browser
        .run(
            "return [document.querySelector('dialog .hw-thanks').textContent, \
             window.identifyCalls]",
        )
        .await?;
    assert_eq!(
        thanks,
        json!([
            "Thank you! A sales engineer will call you within one working day.",
            1
        ])
    );
    browser
        .client
        .find(Locator::Css(".hw-done"))
        .await?
        .click()
        .await?;
    dismissed(browser, false).await?;

    let answers = answers_of(server, "用户@例子.广告").await?;
    assert_eq!(
        answers,
        json!({
            "name": "王小明", "email": "用户@例子.广告", "phone": "+7 912 345-67-89",
            "seats": "51-200", "vat_id": "DE123456789", "consent": "true",
        })
    );
    assert_eq!(
        form_points(server, "用户@例子.广告").await?,
        json!({"form:contact_sales": 25})
    );
    Ok(())
}

async fn the_white_paper_with_the_keyboard_only(
    server: &Server,
    browser: &Browser,
) -> anyhow::Result<()> {
    browser
        .client
        .goto(&format!("{}/www/whitepaper.html", server.url))
        .await?;
    browser
        .client
        .wait()
        .for_element(Locator::Css("form[data-headwater-rendered] [name=email]"))
        .await?;
    let shown_at = Instant::now();

    // Tab through the page's links to the form's first question.
    let mut presses = 0;
    while browser.focused().await? != "email" {
        anyhow::ensure!(presses < 20, "Tab never reached the form");
        browser.tab(false).await?;
        presses += 1;
    }
    let outline = browser
        .run(
            "const style = getComputedStyle(document.activeElement);
             return [style.outlineStyle, style.outlineWidth]",
        )
        .await?;
    assert_eq!(outline, json!(["solid", "3px"]), "the focus is visible");

    // Enter sends the form; what is missing is said next to each field.
    browser.press([char::from(Key::Enter)]).await?;
    expect_errors(
        browser,
        json!({
            "email": "Please fill in this field.",
            "consent": "Please tick this box to continue.",
        }),
    )
    .await?;
    assert_eq!(browser.focused().await?, "email");
    let described = browser
        .run(
            "const email = document.activeElement;
             const error = document.getElementById(email.getAttribute('aria-describedby'));
             return [email.getAttribute('aria-invalid'), error.getAttribute('aria-live'),
                     error.textContent]",
        )
        .await?;
    assert_eq!(
        described,
        json!(["true", "polite", "Please fill in this field."])
    );

    browser.type_text("keyboard.user@northwind.example").await?;
    browser.tab(false).await?;
    assert_eq!(browser.focused().await?, "name");
    browser.type_text("Kim Keyboard").await?;
    browser.tab(false).await?;
    assert_eq!(browser.focused().await?, "newsletter");
    browser.tab(false).await?;
    assert_eq!(browser.focused().await?, "consent");
    browser.press([' ']).await?;
    browser.tab(false).await?;
    tokio::time::sleep(MIN_FILL.saturating_sub(shown_at.elapsed())).await;
    browser.press([char::from(Key::Enter)]).await?;
    eventually("the thank-you text, focused", || async {
        Ok((browser.focused().await?.ends_with("-thanks")).then_some(()))
    })
    .await?;

    let email = "keyboard.user@northwind.example";
    assert_eq!(
        answers_of(server, email).await?,
        json!({
            "email": email, "name": "Kim Keyboard", "consent": "true",
            "lead_source": "whitepaper",
        })
    );
    assert_eq!(
        form_points(server, email).await?,
        json!({"form:whitepaper": 15})
    );
    Ok(())
}

async fn a_demo_request_from_a_campaign_link(
    server: &Server,
    browser: &Browser,
) -> anyhow::Result<()> {
    // A mail tool's link: the + of the address left unescaped.
    let link = "/www/demo.html?utm_campaign=spring-26&email=ana+news@northwind.example";
    browser
        .client
        .goto(&format!("{}{link}", server.url))
        .await?;
    let email = browser
        .client
        .wait()
        .for_element(Locator::Css("form[data-headwater-rendered] [name=email]"))
        .await?;
    let shown_at = Instant::now();
    assert_eq!(
        email.prop("value").await?.as_deref(),
        Some("ana+news@northwind.example")
    );
    let hidden = browser
        .run("return document.querySelectorAll('[name=utm_campaign]').length")
        .await?;
    assert_eq!(hidden, 0, "a hidden field is never on the page");

    // Too long, out of range, not a phone number: refused with the field's limits.
    fill(browser, "name", &"Я".repeat(101)).await?;
    fill(browser, "company", "Ünïcödé GmbH").await?;
    fill(browser, "company_size", "0").await?;
    fill(browser, "phone", "12").await?;
    submit(browser).await?;
    expect_errors(
        browser,
        json!({
            "name": "This answer is too long: at most 100 characters.",
            "company_size": "Please enter a number from 1 to 10000000.",
            "phone": "Please enter a phone number: digits, spaces, brackets and dashes, \
                      with + only at the start.",
        }),
    )
    .await?;
    for (name, value) in [
        ("name", "José Müller-Łukasz"),
        ("company_size", "250"),
        ("phone", ""),
    ] {
        replace(browser, name, value).await?;
    }
    tokio::time::sleep(MIN_FILL.saturating_sub(shown_at.elapsed())).await;
    submit(browser).await?;
    eventually("the thank-you text", || async {
        let shown = browser
            .run("const t = document.querySelector('.hw-thanks'); return !!t && !t.hidden")
            .await?;
        Ok(shown.as_bool().unwrap_or(false).then_some(()))
    })
    .await?;

    assert_eq!(
        answers_of(server, "ana+news@northwind.example").await?,
        json!({
            "name": "José Müller-Łukasz", "email": "ana+news@northwind.example",
            "company": "Ünïcödé GmbH", "company_size": "250", "utm_campaign": "spring-26",
        })
    );
    Ok(())
}

/// Opens the contact-sales overlay with a click on its button on a freshly
/// loaded pricing page, and waits until its first question has the focus. The
/// tracker opens an overlay once a visit and never after a dismissal: its marks
/// are taken away first, so that the visitor gets another chance.
async fn open(server: &Server, browser: &Browser) -> anyhow::Result<()> {
    browser
        .client
        .goto(&format!("{}/www/pricing.html", server.url))
        .await?;
    browser
        .run(
            "localStorage.removeItem('hw.dismissed.contact_sales');
             localStorage.removeItem('hw.shown.contact_sales');",
        )
        .await?;
    browser
        .client
        .goto(&format!("{}/www/pricing.html", server.url))
        .await?;
    browser.wait_for_tracker().await?;
    browser
        .click_for_overlay("[data-action=contact-sales]")
        .await?;
    eventually("the first question to take the focus", || async {
        Ok((browser.focused().await? == "name").then_some(()))
    })
    .await?;
    Ok(())
}

/// Waits for the overlay to be gone, and checks that the focus went back to the
/// button that had it and whether the dismissal was remembered.
async fn dismissed(browser: &Browser, remembered: bool) -> anyhow::Result<()> {
    eventually("the overlay to close", || async {
        let gone = browser
            .run(&format!("return !document.querySelector('{DIALOG}')"))
            .await?;
        Ok(gone.as_bool().unwrap_or(false).then_some(()))
    })
    .await?;
    let state = browser
        .run(
            "const remembered = localStorage.getItem('hw.dismissed.contact_sales');
             localStorage.removeItem('hw.dismissed.contact_sales');
             return [remembered, document.activeElement.dataset.action || null]",
        )
        .await?;
    let expected = if remembered { json!("1") } else { Value::Null };
    assert_eq!(state, json!([expected, "contact-sales"]));
    Ok(())
}

async fn fill(browser: &Browser, name: &str, value: &str) -> anyhow::Result<()> {
    let selector = format!("form[data-headwater-rendered] [name={name}]");
    browser
        .client
        .find(Locator::Css(&selector))
        .await?
        .send_keys(value)
        .await?;
    Ok(())
}

async fn submit(browser: &Browser) -> anyhow::Result<()> {
    browser
        .client
        .find(Locator::Css(
            "form[data-headwater-rendered] button[type=submit]",
        ))
        .await?
        .click()
        .await?;
    Ok(())
}

/// Waits until the fields marked invalid, and the messages their
/// `aria-describedby` points at, are these (by field name).
async fn expect_errors(browser: &Browser, expected: Value) -> anyhow::Result<()> {
    let last_shown = std::cell::RefCell::new(Value::Null);
    let (last_shown_ref, expected_ref) = (&last_shown, &expected);
    let seen = eventually("the errors", || async move {
        let shown = browser
            .run(
                "const errors = {};
                 for (const field of document.querySelectorAll('.hw-field [aria-invalid=true]')) {
                   const ids = field.getAttribute('aria-describedby').split(' ');
                   errors[field.name] = document.getElementById(ids[ids.length - 1]).textContent;
                 }
                 return errors",
            )
            .await?;
        let matches = shown == *expected_ref;
        *last_shown_ref.borrow_mut() = shown;
        Ok(matches.then_some(()))
    })
    .await;
    anyhow::ensure!(
        seen.is_ok(),
        "expected errors {expected}, shown {}",
        last_shown.borrow()
    );
    Ok(())
}

/// Replaces a field's answer: emptied as a person selecting it all and deleting
/// would, then typed.
async fn replace(browser: &Browser, name: &str, value: &str) -> anyhow::Result<()> {
    browser
        .run(&format!(
            "const field = document.querySelector('form[data-headwater-rendered] [name={name}]');
             field.value = '';
             field.dispatchEvent(new Event('input', {{ bubbles: true }}));"
        ))
        .await?;
    fill(browser, name, value).await
}

/// A new anonymous visitor: what the tracker keeps is forgotten.
async fn new_visitor(server: &Server, browser: &Browser) -> anyhow::Result<()> {
    browser
        .client
        .goto(&format!("{}/healthz", server.url))
        .await?;
    browser.run("localStorage.clear()").await?;
    Ok(())
}

async fn answers_of(server: &Server, email: &str) -> anyhow::Result<Value> {
    let answers: String = eventually("the contact", || async {
        Ok(
            sqlx::query_scalar("SELECT answers FROM contacts WHERE email = $1")
                .bind(email)
                .fetch_optional(&server.database)
                .await?,
        )
    })
    .await?;
    Ok(serde_json::from_str(&answers)?)
}

/// The points each sent form earned the contact, from its kept profile.
async fn form_points(server: &Server, email: &str) -> anyhow::Result<Value> {
    let profile: String = sqlx::query_scalar("SELECT profile FROM contacts WHERE email = $1")
        .bind(email)
        .fetch_one(&server.database)
        .await?;
    let profile: Value = serde_json::from_str(&profile)?;
    let points = profile["behaviours"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| name.starts_with("form:"))
        .map(|(name, tally)| (name.clone(), tally["points"].clone()))
        .collect();
    Ok(Value::Object(points))
}
