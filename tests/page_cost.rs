//! What Headwater costs a page: a benchmark, not a test (`cargo test` does not
//! build it; run it with `bench/page_cost.sh`). A customer's page is served from its own origin,
//! once with Headwater's script tag and once without; headless Chromium loads each
//! with a fresh profile, five times, and Chromium's own counters say how much
//! script ran, how much JavaScript heap is in use, and how long the longest task
//! on the main thread took. The medians are printed; nothing is asserted, since
//! timings belong in a report and not in a test that could flake.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{Value, json};
use support::{Browser, Server};

const RUNS: usize = 5;
/// After load, the page is left alone this long: the tracker's start, its
/// configuration request and its first ticks happen in it.
const SETTLE: Duration = Duration::from_millis(3_000);

/// The customer's page; `{tag}` is Headwater's script tag or nothing.
const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A customer's page</title>{tag}</head>
<body><h1>Pricing</h1><p>Plans that grow with you.</p>
<a href="/other" data-action="request-demo">Request a demo</a>
<div style="height: 3000px"></div></body></html>"#;

/// The page's cost with and without Headwater, printed as medians.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let site = CustomerSite::start().await?;
    let server = Server::start_with("http://127.0.0.1:9/never", |config| {
        config.sites[0].origins.push(site.url.clone());
    })
    .await?;
    site.embed(&format!(
        r#"<script async src="{}/hw.js" data-site="demo"></script>"#,
        server.url
    ));

    let without = measure(&format!("{}/without", site.url), false).await?;
    let with = measure(&format!("{}/with", site.url), true).await?;

    println!("median of {RUNS} runs, headless Chromium, fresh profile each run");
    println!(
        "{:<28} {:>12} {:>12} {:>12}",
        "", "without", "with", "added"
    );
    for (name, unit, pick) in [
        (
            "script time",
            "ms",
            (|m: &Metrics| m.script_ms) as fn(&Metrics) -> f64,
        ),
        ("JS heap used", "KB", |m: &Metrics| m.heap_kb),
        ("longest main-thread task", "ms", |m: &Metrics| {
            m.longest_task_ms
        }),
        ("all main-thread tasks", "ms", |m: &Metrics| m.task_ms),
    ] {
        let (a, b) = (median(&without, pick), median(&with, pick));
        println!(
            "{:<28} {:>9.1} {unit} {:>9.1} {unit} {:>9.1} {unit}",
            name,
            a,
            b,
            b - a
        );
    }
    server.stop().await
}

struct Metrics {
    script_ms: f64,
    task_ms: f64,
    heap_kb: f64,
    longest_task_ms: f64,
}

async fn measure(url: &str, with_headwater: bool) -> anyhow::Result<Vec<Metrics>> {
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let counters = load(url, with_headwater, None).await?;
        let probed = load(url, with_headwater, Some(LONGEST_TASK_PROBE)).await?;
        runs.push(Metrics {
            longest_task_ms: probed.longest_task_ms,
            ..counters
        });
    }
    Ok(runs)
}

/// Measures the longest task on the main thread once the document is parsed
/// (Headwater's script is async and runs after): a message posted to itself over
/// and over runs between tasks, so the longest gap between two of its runs is the
/// longest task. (The Long Tasks API reports only tasks over 50 ms.) It keeps the
/// thread busy, so it runs in separate loads from the counters.
const LONGEST_TASK_PROBE: &str = "window.__longest = 0; \
  document.addEventListener('DOMContentLoaded', () => { \
    const channel = new MessageChannel(); let last = performance.now(); \
    const until = last + 3000; \
    channel.port1.onmessage = () => { const now = performance.now(); \
      window.__longest = Math.max(window.__longest, now - last); last = now; \
      if (now < until) channel.port2.postMessage(0); }; \
    channel.port2.postMessage(0); });";

/// Loads the page in a fresh browser and reads Chromium's counters after it has
/// settled; with a `probe`, runs it in the page from its first byte.
async fn load(url: &str, with_headwater: bool, probe: Option<&str>) -> anyhow::Result<Metrics> {
    let browser = Browser::start().await?;
    cdp(&browser, "Performance.enable", json!({})).await?;
    if let Some(probe) = probe {
        let source = json!({ "source": probe });
        cdp(&browser, "Page.addScriptToEvaluateOnNewDocument", source).await?;
    }
    browser.client.goto(url).await?;
    if with_headwater {
        browser.wait_for_tracker().await?;
    }
    tokio::time::sleep(SETTLE).await;
    // Collect garbage first, so that the heap is what the page keeps.
    cdp(&browser, "HeapProfiler.collectGarbage", json!({})).await?;
    let metrics = cdp(&browser, "Performance.getMetrics", json!({})).await?;
    let metric = |name: &str| {
        metrics["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|metric| metric["name"] == name)
            .and_then(|metric| metric["value"].as_f64())
            .unwrap_or(0.0)
    };
    let longest = browser.run("return window.__longest || 0").await?;
    let measured = Metrics {
        script_ms: metric("ScriptDuration") * 1000.0,
        task_ms: metric("TaskDuration") * 1000.0,
        heap_kb: metric("JSHeapUsedSize") / 1024.0,
        longest_task_ms: longest.as_f64().unwrap_or(0.0),
    };
    browser.close().await?;
    Ok(measured)
}

fn median(runs: &[Metrics], pick: fn(&Metrics) -> f64) -> f64 {
    let mut values: Vec<f64> = runs.iter().map(pick).collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A Chrome DevTools Protocol command, through chromedriver.
async fn cdp(browser: &Browser, command: &str, params: Value) -> anyhow::Result<Value> {
    let sent = browser
        .client
        .issue_cmd(DevTools {
            command: command.to_owned(),
            params,
        })
        .await?;
    Ok(sent)
}

#[derive(Debug)]
struct DevTools {
    command: String,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or("")
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.command, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// The customer's own site: the page with and without Headwater.
struct CustomerSite {
    url: String,
    tag: Arc<Mutex<String>>,
}

impl CustomerSite {
    async fn start() -> anyhow::Result<CustomerSite> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let tag = Arc::new(Mutex::new(String::new()));
        let pages = Router::new()
            .route(
                "/without",
                get(|| async { Html(PAGE.replace("{tag}", "")) }),
            )
            .route(
                "/with",
                get(|State(tag): State<Arc<Mutex<String>>>| async move {
                    let tag = tag.lock().expect("the tag").clone();
                    Html(PAGE.replace("{tag}", &tag))
                }),
            )
            .with_state(tag.clone());
        tokio::spawn(async move { axum::serve(listener, pages).await });
        Ok(CustomerSite { url, tag })
    }

    /// The script tag the page `/with` carries.
    fn embed(&self, tag: &str) {
        *self.tag.lock().expect("the tag") = tag.to_owned();
    }
}
