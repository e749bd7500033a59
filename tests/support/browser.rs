//! Headless Chromium through chromedriver, driven with fantoccini.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use super::{PATIENCE, eventually};

/// The user agent of Chromium 156 on Linux, as a person's browser sends it.
const PERSON: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session
    /// with a fresh profile, passing for a person's browser.
    pub async fn start() -> anyhow::Result<Browser> {
        Self::launch(true, false).await
    }

    /// The same, but as headless Chromium shows itself by default: a bot.
    pub async fn start_as_bot() -> anyhow::Result<Browser> {
        Self::launch(false, false).await
    }

    /// A person's browser with Do Not Track turned on: `navigator.doNotTrack` is
    /// "1" and every request carries `DNT: 1`.
    pub async fn start_asking_not_to_be_tracked() -> anyhow::Result<Browser> {
        Self::launch(true, true).await
    }

    async fn launch(as_person: bool, do_not_track: bool) -> anyhow::Result<Browser> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start chromedriver: install chromium-driver (cargo xtask setup)")?;
        let profile = tempfile::tempdir()?;
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--window-size=1200,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if as_person {
            // No HeadlessChrome in the user agent and no navigator.webdriver, or the
            // collector (rightly) keeps nothing of the visit.
            args.push("--disable-blink-features=AutomationControlled".into());
            args.push(format!("--user-agent={PERSON}"));
        }
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": args,
                "prefs": { "enable_do_not_track": do_not_track },
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };

        let address = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + PATIENCE;
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&address)
                .await
            {
                Ok(client) => break client,
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => bail!("cannot open a Chromium session: {error}"),
            }
        };
        Ok(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Runs a script in the page and returns its result.
    pub async fn run(&self, script: &str) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    /// Waits until Headwater's tracker has started on the current page.
    pub async fn wait_for_tracker(&self) -> anyhow::Result<()> {
        eventually("the tracker to start", || async {
            let ready = self
                .run("return !!(window.headwater && window.headwater.ready)")
                .await?;
            Ok(ready.as_bool().unwrap_or(false).then_some(()))
        })
        .await
    }

    /// Clicks the element matching `selector` and waits for the next page's tracker.
    pub async fn click_through(&self, selector: &str, expected_path: &str) -> anyhow::Result<()> {
        self.client
            .find(Locator::Css(selector))
            .await?
            .click()
            .await?;
        eventually("the next page", || async {
            let url = self.client.current_url().await?;
            Ok((url.path() == expected_path).then_some(()))
        })
        .await?;
        self.wait_for_tracker().await
    }

    /// Clicks the element matching `selector` until the overlay its click opens
    /// is there: the tracker opens overlays once it has the site's configuration,
    /// which it fetches after starting, so a click before then opens nothing.
    pub async fn click_for_overlay(&self, selector: &str) -> anyhow::Result<()> {
        eventually("the overlay to open", || async {
            let open = self
                .run("return !!document.querySelector('dialog[open]')")
                .await?;
            if open.as_bool() == Some(true) {
                return Ok(Some(()));
            }
            self.client
                .find(Locator::Css(selector))
                .await?
                .click()
                .await?;
            Ok(None)
        })
        .await
    }

    /// Presses each key in turn, as a keyboard does: down, then up.
    pub async fn press(&self, keys: impl IntoIterator<Item = char>) -> anyhow::Result<()> {
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys {
            actions = actions
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        self.client.perform_actions(actions).await?;
        Ok(())
    }

    /// Types text on the keyboard, one key at a time.
    pub async fn type_text(&self, text: &str) -> anyhow::Result<()> {
        self.press(text.chars()).await
    }

    /// Presses Tab, or Shift+Tab when `backwards`.
    pub async fn tab(&self, backwards: bool) -> anyhow::Result<()> {
        let tab = char::from(Key::Tab);
        let mut actions = KeyActions::new("keyboard".into());
        if backwards {
            actions = actions.then(KeyAction::Down {
                value: char::from(Key::Shift),
            });
        }
        actions = actions
            .then(KeyAction::Down { value: tab })
            .then(KeyAction::Up { value: tab });
        if backwards {
            actions = actions.then(KeyAction::Up {
                value: char::from(Key::Shift),
            });
        }
        self.client.perform_actions(actions).await?;
        Ok(())
    }

    /// Clicks at a point of the viewport, whatever is there.
    pub async fn click_at(&self, x: f64, y: f64) -> anyhow::Result<()> {
        let actions = MouseActions::new("mouse".into())
            .then(PointerAction::MoveTo {
                duration: None,
                x,
                y,
            })
            .then(PointerAction::Down {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            });
        self.client.perform_actions(actions).await?;
        Ok(())
    }

    /// What has the focus: the `name`, else the `id`, else the class of the
    /// focused element, or `body`.
    pub async fn focused(&self) -> anyhow::Result<String> {
        let focused = self
            .run(
                "const element = document.activeElement;
                 if (!element || element === document.body) return 'body';
                 return element.getAttribute('name') || element.id || element.className",
            )
            .await?;
        Ok(focused.as_str().unwrap_or_default().to_owned())
    }

    pub async fn close(mut self) -> anyhow::Result<()> {
        let closed = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        closed?;
        Ok(())
    }
}
