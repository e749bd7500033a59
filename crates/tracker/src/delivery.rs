//! Delivery: every event is written to a queue in `localStorage` before anything is
//! sent, and leaves the queue only when the collector has acknowledged it. Batches
//! go out on a timer and when the page is hidden or left, in a `fetch` with
//! `keepalive` that outlives the page. A batch sent as the page went away is not
//! acknowledged to this page, so the next page sends it again; the collector stores
//! each event id once, so the retry is harmless.

use std::cell::RefCell;
use std::collections::HashSet;

use headwater_core::wire::MAX_EVENTS_PER_BATCH;
use headwater_core::{EngagementProfile, Event, EventBatch};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{RequestCredentials, RequestInit, RequestMode, Response};

use crate::browser;

const QUEUE_KEY: &str = "hw.queue";
/// Deliver at least this often while events wait.
const FLUSH_INTERVAL_MS: i64 = 5_000;
/// A queue this long is sent at once rather than at the next interval.
const EAGER_BATCH: usize = 20;
/// Retries wait 2 s, 4 s, 8 s ... up to this.
const MAX_RETRY_DELAY_MS: i64 = 60_000;
/// Beyond this the oldest events give way; months offline should not fill storage.
// FIXME: dropping is a loss; a smarter bound (by age, merging engagement events)
// belongs with the offline work of the tracker issue.
const MAX_QUEUED_EVENTS: usize = 1_000;

/// Where and as whom to deliver.
pub struct Target {
    pub endpoint: String,
    pub site: String,
    pub visitor_id: String,
    pub profile: EngagementProfile,
}

struct Schedule {
    /// Ids sent and not yet answered, so the timer does not send them twice.
    in_flight: HashSet<String>,
    last_flush: i64,
    failures: u32,
    retry_at: i64,
    /// Used only when the browser refuses `localStorage`.
    memory_queue: Vec<Event>,
}

thread_local! {
    static SCHEDULE: RefCell<Schedule> = RefCell::new(Schedule {
        in_flight: HashSet::new(),
        last_flush: 0,
        failures: 0,
        retry_at: 0,
        memory_queue: Vec::new(),
    });
}

/// Adds an event to the persistent queue.
pub fn enqueue(event: &Event) {
    let mut queue = load_queue();
    queue.push(event.clone());
    if queue.len() > MAX_QUEUED_EVENTS {
        queue.drain(..queue.len() - MAX_QUEUED_EVENTS);
    }
    save_queue(queue);
}

/// Sends queued events if it is time. When `leaving`, everything queued goes now,
/// including events already in flight: a duplicate is harmless, a loss is not.
pub fn flush(target: &Target, leaving: bool) {
    let now = browser::now();
    let queue = load_queue();
    let batch: Vec<Event> = SCHEDULE.with(|cell| {
        let schedule = cell.borrow();
        let waiting: Vec<&Event> = queue
            .iter()
            .filter(|event| leaving || !schedule.in_flight.contains(&event.id))
            .collect();
        let due = leaving
            || waiting.len() >= EAGER_BATCH
            || (now >= schedule.retry_at && now - schedule.last_flush >= FLUSH_INTERVAL_MS)
            || schedule.last_flush == 0;
        if !due || waiting.is_empty() {
            return Vec::new();
        }
        waiting
            .into_iter()
            .take(MAX_EVENTS_PER_BATCH)
            .cloned()
            .collect()
    });
    if batch.is_empty() {
        return;
    }

    let ids: Vec<String> = batch.iter().map(|event| event.id.clone()).collect();
    SCHEDULE.with(|cell| {
        let mut schedule = cell.borrow_mut();
        schedule.last_flush = now;
        schedule.in_flight.extend(ids.iter().cloned());
    });
    let body = EventBatch {
        site: target.site.clone(),
        visitor_id: target.visitor_id.clone(),
        sent_at: now,
        events: batch,
        profile: Some(target.profile.clone()),
        automation: browser::is_automated(),
    };
    let Ok(body) = serde_json::to_string(&body) else {
        return;
    };
    post(
        &format!("{}/api/v1/events", target.endpoint),
        &body,
        move |status| acknowledge(&ids, status),
    );
}

/// Fetches `url` and hands the body to `handle` if the answer is a success.
pub fn get_json(url: &str, handle: impl FnOnce(String) + 'static) {
    let init = RequestInit::new();
    init.set_credentials(RequestCredentials::Omit);
    let request = browser::window().fetch_with_str_and_init(url, &init);
    spawn_local(async move {
        let Ok(response) = JsFuture::from(request).await else {
            return;
        };
        let Ok(response) = response.dyn_into::<Response>() else {
            return;
        };
        if !response.ok() {
            return;
        }
        let Ok(text) = response.text() else { return };
        if let Ok(text) = JsFuture::from(text).await {
            handle(text.as_string().unwrap_or_default());
        }
    });
}

/// POSTs a text body in a request that outlives the page and reports the status
/// (0 for a network failure). Plain text keeps the request "simple": no CORS
/// preflight, which a page being closed would not wait for.
fn post(url: &str, body: &str, done: impl FnOnce(u16) + 'static) {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    init.set_mode(RequestMode::Cors);
    init.set_credentials(RequestCredentials::Omit);
    // web-sys has no setter for `keepalive` yet.
    let _ = js_sys::Reflect::set(&init, &JsValue::from_str("keepalive"), &JsValue::TRUE);
    let request = browser::window().fetch_with_str_and_init(url, &init);
    spawn_local(async move {
        let status = match JsFuture::from(request).await {
            Ok(response) => response
                .dyn_into::<Response>()
                .map_or(0, |response| response.status()),
            Err(_) => 0,
        };
        done(status);
    });
}

/// Handles the collector's answer to a batch. A success removes the events; a
/// client error (the batch can never be accepted) drops them with a warning;
/// anything else keeps them for a retry with backoff.
fn acknowledge(ids: &[String], status: u16) {
    let delivered = (200..300).contains(&status);
    let refused = (400..500).contains(&status) && status != 408 && status != 429;
    if delivered || refused {
        let sent: HashSet<&String> = ids.iter().collect();
        let queue: Vec<Event> = load_queue()
            .into_iter()
            .filter(|event| !sent.contains(&event.id))
            .collect();
        save_queue(queue);
    }
    if refused {
        browser::warn(&format!(
            "headwater: the collector refused a batch ({status})"
        ));
    }

    SCHEDULE.with(|cell| {
        let mut schedule = cell.borrow_mut();
        for id in ids {
            schedule.in_flight.remove(id);
        }
        if delivered || refused {
            schedule.failures = 0;
            schedule.retry_at = 0;
        } else {
            schedule.failures += 1;
            let delay = (1_000i64 << schedule.failures.min(6)).min(MAX_RETRY_DELAY_MS);
            schedule.retry_at = browser::now() + delay;
        }
    });
}

fn load_queue() -> Vec<Event> {
    match browser::load(QUEUE_KEY) {
        Some(text) => serde_json::from_str(&text).unwrap_or_default(),
        None => SCHEDULE.with(|cell| cell.borrow().memory_queue.clone()),
    }
}

fn save_queue(queue: Vec<Event>) {
    let text = serde_json::to_string(&queue).unwrap_or_else(|_| "[]".into());
    if browser::save(QUEUE_KEY, &text) {
        return;
    }
    SCHEDULE.with(|cell| cell.borrow_mut().memory_queue = queue);
}
