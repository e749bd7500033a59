//! The identification form in each language and state (empty, with errors, sent),
//! in real Chromium against the real server: audited for accessibility with
//! axe-core (from npm), checked for labelled fields, errors tied to their fields
//! and focus moved to the first one, and photographed under
//! `target/screenshots/` for a person to look at.

mod support;

use std::time::Duration;

use fantoccini::Locator;
use support::{Browser, Receiver, Server, eventually, root};

const FORM: &str = "form[data-headwater-rendered]";

struct Language {
    code: &'static str,
    page: &'static str,
    required: &'static str,
    thank_you: &'static str,
}

const LANGUAGES: [Language; 2] = [
    Language {
        code: "en",
        page: "/www/demo.html",
        required: "Please fill in this field.",
        thank_you: "Thank you! We will be in touch shortly.",
    },
    Language {
        code: "ru",
        page: "/www/ru/demo.html",
        required: "Пожалуйста, заполните это поле.",
        thank_you: "Спасибо! Мы скоро свяжемся с вами.",
    },
];

#[tokio::test]
async fn the_form_is_accessible_in_every_language_and_state() -> anyhow::Result<()> {
    let receiver = Receiver::start(&[]).await?;
    let server = Server::start(&receiver.url).await?;
    let screenshots = root().join("target/screenshots");
    std::fs::create_dir_all(&screenshots)?;
    let axe = std::fs::read_to_string(root().join("node_modules/axe-core/axe.min.js"))
        .map_err(|error| anyhow::anyhow!("axe-core is needed: npm install ({error})"))?;

    for language in LANGUAGES {
        // A fresh browser each time: the second visit would be a known visitor.
        let browser = Browser::start().await?;
        let photograph =
            |state: &str| screenshots.join(format!("form-{}-{state}.png", language.code));
        browser
            .client
            .goto(&format!("{}{}", server.url, language.page))
            .await?;
        let email = format!("{FORM} input[name=email]");
        browser
            .client
            .wait()
            .for_element(Locator::Css(&email))
            .await?;
        every_field_has_a_label(&browser).await?;
        audit(&browser, &axe, "empty").await?;
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
        audit(&browser, &axe, "errors").await?;
        std::fs::write(photograph("errors"), browser.client.screenshot().await?)?;

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
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        browser
            .client
            .find(Locator::Css(&submit))
            .await?
            .click()
            .await?;
        let thanks = eventually("the thank-you text", || async {
            let text = browser
                .run("const t = document.querySelector('.hw-thanks'); return t && !t.hidden ? t.textContent : null")
                .await?;
            Ok(text.as_str().map(str::to_owned))
        })
        .await?;
        assert_eq!(thanks, language.thank_you);
        audit(&browser, &axe, "sent").await?;
        std::fs::write(photograph("sent"), browser.client.screenshot().await?)?;
        browser.close().await?;
    }

    for state in ["empty", "errors", "sent"] {
        for language in LANGUAGES {
            let picture = screenshots.join(format!("form-{}-{state}.png", language.code));
            let bytes = std::fs::read(&picture)?;
            assert!(
                bytes.starts_with(b"\x89PNG"),
                "{} is a picture",
                picture.display()
            );
        }
    }
    server.stop().await
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
async fn audit(browser: &Browser, axe: &str, state: &str) -> anyhow::Result<()> {
    browser.run(&format!("{axe}\nreturn true")).await?;
    let violations = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document.querySelector('[data-headwater-form]'))
               .then(result => done(result.violations.map(violation =>
                   violation.id + ': ' + violation.nodes.map(node => node.target.join(' ')).join(', '))))
               .catch(error => done(['axe failed: ' + error]));",
            vec![],
        )
        .await?;
    assert_eq!(violations, serde_json::json!([]), "axe-core, form {state}");
    Ok(())
}
