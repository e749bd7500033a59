//! The identification form in each language, display mode and state (empty, with
//! errors, sent), in real Chromium against the real server: audited for
//! accessibility with axe-core (from npm), checked for labelled fields, errors
//! tied to their fields and focus moved to the first one, and photographed under
//! `target/screenshots/` for a person to look at: `form-{en,ru}-{state}.png` for
//! the inline demo request, `overlay-{en,ru}-{state}.png` for the contact-sales
//! overlay.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use support::{Browser, Receiver, Server, eventually, root};

const FORM: &str = "form[data-headwater-rendered]";
/// The form's minimum fill time (two seconds by default) and a margin.
const MIN_FILL: Duration = Duration::from_millis(2_100);

struct Language {
    code: &'static str,
    /// A page with the demo request inline.
    inline_page: &'static str,
    /// A page where the contact-sales overlay opens.
    overlay_page: &'static str,
    required: &'static str,
    inline_thanks: &'static str,
    overlay_title: &'static str,
    overlay_thanks: &'static str,
}

const LANGUAGES: [Language; 2] = [
    Language {
        code: "en",
        inline_page: "/www/demo.html",
        overlay_page: "/www/pricing.html",
        required: "Please fill in this field.",
        inline_thanks: "Thank you! We will be in touch shortly.",
        overlay_title: "Talk to sales",
        overlay_thanks: "Thank you! A sales engineer will call you within one working day.",
    },
    Language {
        code: "ru",
        inline_page: "/www/ru/demo.html",
        overlay_page: "/www/ru/pricing.html",
        required: "Пожалуйста, заполните это поле.",
        inline_thanks: "Спасибо! Мы скоро свяжемся с вами.",
        overlay_title: "Связаться с отделом продаж",
        overlay_thanks: "Спасибо! Инженер по продажам позвонит вам в течение рабочего дня.",
    },
];

/// One display mode of one form: where it is, what to audit, and what to type.
struct Shown<'a> {
    /// `form` or `overlay`: names the screenshots.
    name: &'static str,
    /// What axe-core audits: the form's element, or the dialog.
    scope: &'static str,
    answers: &'a [(&'a str, &'a str)],
    thanks: &'static str,
}

const INLINE_ANSWERS: [(&str, &str); 4] = [
    ("name", "Ана Перес"),
    ("email", "ana.perez@northwind.example"),
    ("company", "Northwind Traders"),
    ("company_size", "250"),
];

const OVERLAY_ANSWERS: [(&str, &str); 3] = [
    ("name", "Борис Ельцов"),
    ("email", "boris@northwind.example"),
    ("phone", "+7 912 345-67-89"),
];

#[tokio::test]
async fn the_form_is_accessible_in_every_language_mode_and_state() -> anyhow::Result<()> {
    let receiver = Receiver::start(&[]).await?;
    let server = Server::start(&receiver.url).await?;
    let screenshots = root().join("target/screenshots");
    std::fs::create_dir_all(&screenshots)?;
    let axe = std::fs::read_to_string(root().join("node_modules/axe-core/axe.min.js"))
        .map_err(|error| anyhow::anyhow!("axe-core is needed: npm install ({error})"))?;

    // One browser; each form is shown to a new visitor, who is asked everything.
    let browser = Browser::start().await?;
    for language in LANGUAGES {
        new_visitor(&server, &browser).await?;
        browser
            .client
            .goto(&format!("{}{}", server.url, language.inline_page))
            .await?;
        let inline = Shown {
            name: "form",
            scope: "[data-headwater-form]",
            answers: &INLINE_ANSWERS,
            thanks: language.inline_thanks,
        };
        states(&browser, &axe, &screenshots, &language, &inline).await?;

        new_visitor(&server, &browser).await?;
        browser
            .client
            .goto(&format!("{}{}", server.url, language.overlay_page))
            .await?;
        browser.wait_for_tracker().await?;
        browser
            .click_for_overlay("[data-action=contact-sales]")
            .await?;
        let title = browser
            .run(
                "const dialog = document.querySelector('dialog[open]');
                 const title = dialog.getAttribute('aria-labelledby');
                 return document.getElementById(title).textContent",
            )
            .await?;
        assert_eq!(title, language.overlay_title, "{}", language.code);
        let overlay = Shown {
            name: "overlay",
            scope: "dialog",
            answers: &OVERLAY_ANSWERS,
            thanks: language.overlay_thanks,
        };
        states(&browser, &axe, &screenshots, &language, &overlay).await?;
    }
    browser.close().await?;

    for name in ["form", "overlay"] {
        for state in ["empty", "errors", "sent"] {
            for language in LANGUAGES {
                let picture = screenshots.join(format!("{name}-{}-{state}.png", language.code));
                let bytes = std::fs::read(&picture)?;
                assert!(
                    bytes.starts_with(b"\x89PNG"),
                    "{} is a picture",
                    picture.display()
                );
            }
        }
    }
    server.stop().await
}

/// Takes a shown form through its three states, auditing and photographing each.
async fn states(
    browser: &Browser,
    axe: &str,
    screenshots: &Path,
    language: &Language,
    shown: &Shown<'_>,
) -> anyhow::Result<()> {
    let photograph =
        |state: &str| screenshots.join(format!("{}-{}-{state}.png", shown.name, language.code));
    let email = format!("{FORM} input[name=email]");
    browser
        .client
        .wait()
        .for_element(Locator::Css(&email))
        .await?;
    let shown_at = Instant::now();
    every_field_has_a_label(browser).await?;
    audit(browser, axe, shown, "empty").await?;
    std::fs::write(photograph("empty"), browser.client.screenshot().await?)?;

    // Sent empty: every required field says so, in the page's language.
    let submit = format!("{FORM} button[type=submit]");
    browser
        .client
        .find(Locator::Css(&submit))
        .await?
        .click()
        .await?;
    let error = eventually("the errors", || async {
        let error = browser
            .run(
                "const name = document.querySelector('form [name=name]');
                 if (name.getAttribute('aria-invalid') !== 'true') return null;
                 const error = document.getElementById(name.getAttribute('aria-describedby'));
                 return { text: error.textContent, focused: document.activeElement === name };",
            )
            .await?;
        Ok((!error.is_null()).then_some(error))
    })
    .await?;
    assert_eq!(error["text"], language.required, "{}", language.code);
    assert_eq!(error["focused"], true, "focus moves to the first error");
    audit(browser, axe, shown, "errors").await?;
    std::fs::write(photograph("errors"), browser.client.screenshot().await?)?;

    for (name, value) in shown.answers {
        let field = format!("{FORM} [name={name}]");
        browser
            .client
            .find(Locator::Css(&field))
            .await?
            .send_keys(value)
            .await?;
    }
    let consent = browser.client.find(Locator::Css("[name=consent]")).await;
    if let Ok(consent) = consent {
        consent.click().await?;
    }
    tokio::time::sleep(MIN_FILL.saturating_sub(shown_at.elapsed())).await;
    browser
        .client
        .find(Locator::Css(&submit))
        .await?
        .click()
        .await?;
    let thanks = eventually("the thank-you text", || async {
        let text = browser
            .run(
                "const t = document.querySelector('.hw-thanks');
                 return t && !t.hidden ? t.textContent : null",
            )
            .await?;
        Ok(text.as_str().map(str::to_owned))
    })
    .await?;
    assert_eq!(thanks, shown.thanks);
    audit(browser, axe, shown, "sent").await?;
    std::fs::write(photograph("sent"), browser.client.screenshot().await?)?;
    Ok(())
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

/// Every visible control of the form is named by a `<label for>`.
async fn every_field_has_a_label(browser: &Browser) -> anyhow::Result<()> {
    let unlabelled = browser
        .run(&format!(
            "return [...document.querySelectorAll('{FORM} .hw-field [name]')]
               .filter(field => !document.querySelector(`label[for='${{field.id}}']`))
               .map(field => field.name)"
        ))
        .await?;
    assert_eq!(unlabelled, serde_json::json!([]), "fields without a label");
    Ok(())
}

/// Runs axe-core over the form and fails on any violation, naming each one.
async fn audit(browser: &Browser, axe: &str, shown: &Shown<'_>, state: &str) -> anyhow::Result<()> {
    browser.run(&format!("{axe}\nreturn true")).await?;
    let violations = browser
        .client
        .execute_async(
            "const [scope, done] = [arguments[0], arguments[arguments.length - 1]];
             axe.run(document.querySelector(scope))
               .then(result => done(result.violations.map(violation =>
                   violation.id + ': ' +
                   violation.nodes.map(node => node.target.join(' ')).join(', '))))
               .catch(error => done(['axe failed: ' + error]));",
            vec![serde_json::Value::from(shown.scope)],
        )
        .await?;
    assert_eq!(
        violations,
        serde_json::json!([]),
        "axe-core, {} {state}",
        shown.name
    );
    Ok(())
}
