//! A benchmark, not a test (`cargo test` does not build it): the time from a trigger
//! firing to the overlay form on screen, in headless Chromium against the real
//! server, median of five, with the form bundle cold (a fresh browser profile
//! each time: fetched, compiled, instantiated) and cached (the same browser
//! reloading the page: from the HTTP cache). It starts the clock where the
//! tracker's loader starts importing the bundle and stops it after the first
//! frame painted with the dialog open, then again when the questions are there
//! (after the server said what is known of the visitor).
//!
//! ```sh
//! cargo xtask build-web
//! cargo bench -p headwater-tests --bench form_timing
//! ```

mod support;

use support::{Browser, Receiver, Server};

const SAMPLES: usize = 5;

/// Imports the bundle and mounts the overlay as hw.js's `loadForm(null, ...)`
/// does, and measures in the page with `performance.now()`.
const MEASURE: &str = "const done = arguments[arguments.length - 1];
(async () => {
  const config = await (await fetch('/api/v1/sites/demo/config')).json();
  const form = config.forms.find(form => form.id === 'contact_sales');
  const options = JSON.stringify({ site: 'demo', endpoint: location.origin,
                                   visitor_id: localStorage.getItem('hw.visitor'), form });
  const frame = () => new Promise(resolve => requestAnimationFrame(resolve));
  const started = performance.now();
  const pkg = new URL('/pkg/', location.href).href;
  const bundle = await import(pkg + 'headwater_form.js');
  await bundle.default({ module_or_path: pkg + 'headwater_form_bg.wasm' });
  bundle.mount(null, options);
  await frame();
  await frame();
  const visible = performance.now() - started;
  while (!document.querySelector('dialog[open] input[name=name]')) await frame();
  const questions = performance.now() - started;
  return [visible, questions];
})().then(done, error => done(String(error)));";

/// The time from a trigger to the overlay on screen, cold and cached.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let receiver = Receiver::start(&[]).await?;
    let server = Server::start(&receiver.url).await?;
    let page = format!("{}/www/pricing.html", server.url);

    let mut cold = Vec::new();
    for _ in 0..SAMPLES {
        let browser = Browser::start().await?;
        cold.push(measure(&browser, &page).await?);
        browser.close().await?;
    }

    let browser = Browser::start().await?;
    measure(&browser, &page).await?;
    let mut cached = Vec::new();
    for _ in 0..SAMPLES {
        cached.push(measure(&browser, &page).await?);
    }
    browser.close().await?;

    println!("trigger to visible overlay, median of {SAMPLES} (ms):");
    println!(
        "{:<8} {:>16} {:>16}",
        "bundle", "dialog visible", "questions shown"
    );
    for (name, samples) in [("cold", cold), ("cached", cached)] {
        let visible = median(samples.iter().map(|sample| sample.0).collect());
        let questions = median(samples.iter().map(|sample| sample.1).collect());
        println!("{name:<8} {visible:>16.1} {questions:>16.1}");
    }
    server.stop().await
}

/// Loads the page afresh, waits for the tracker, and times one overlay.
async fn measure(browser: &Browser, page: &str) -> anyhow::Result<(f64, f64)> {
    browser.client.goto(page).await?;
    browser.wait_for_tracker().await?;
    let result = browser.client.execute_async(MEASURE, vec![]).await?;
    let times: Option<(f64, f64)> = result
        .as_array()
        .and_then(|times| Some((times.first()?.as_f64()?, times.get(1)?.as_f64()?)));
    times.ok_or_else(|| anyhow::anyhow!("the measurement failed: {result}"))
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
