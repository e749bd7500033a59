//! Headless Chromium through chromedriver, driven with fantoccini.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use super::{PATIENCE, eventually};

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session
    /// with a fresh profile.
    pub async fn start() -> anyhow::Result<Browser> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start chromedriver: install chromium-driver (cargo xtask setup)")?;
        let profile = tempfile::tempdir()?;
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1200,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
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

    pub async fn close(mut self) -> anyhow::Result<()> {
        let closed = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        closed?;
        Ok(())
    }
}
