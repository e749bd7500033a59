//! What the tracker watches on a page and how it turns that into events: a page
//! view on load (and on a restore from the back/forward cache), engaged time and
//! scroll depth reported when the page is hidden, clicks on configured behaviours,
//! and the site's own `headwater(...)` calls. Every event also goes into the
//! browser's engagement profile, computed by `headwater_core`.

use std::cell::RefCell;

use headwater_core::{Behaviour, EngagementProfile, Event, EventDetail, FormDefinition, Trigger};
use serde::Deserialize;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::browser;
use crate::delivery;

/// A visitor idle for longer than this is reading something else.
const ACTIVE_WINDOW_MS: i64 = 30_000;
/// How often engaged time is counted and due deliveries are made.
const TICK_MS: i32 = 1_000;
/// A session ends after this long without events, shared by all tabs.
const SESSION_TIMEOUT_MS: i64 = 30 * 60 * 1_000;
/// The gap between ticks counted as engaged at most: a sleeping laptop's gap is not.
const MAX_TICK_GAP_MS: i64 = 2 * TICK_MS as i64;

const VISITOR_KEY: &str = "hw.visitor";
const SESSION_KEY: &str = "hw.session";
const PROFILE_KEY: &str = "hw.profile";
const DEBUG_KEY: &str = "hw.debug";
const DEBUG_LOG_KEY: &str = "hw.debug.produced";

thread_local! {
    static TRACKER: RefCell<Option<Tracker>> = const { RefCell::new(None) };
}

struct Tracker {
    site: String,
    endpoint: String,
    visitor_id: String,
    referrer: String,
    /// From the server; until it arrives, events wait in `unprofiled`.
    config: Option<SiteConfig>,
    unprofiled: Vec<Event>,
    profile: EngagementProfile,
    page: PageState,
    load_form: js_sys::Function,
    debug: bool,
}

/// Engagement on the current page not yet reported.
struct PageState {
    unreported_ms: u64,
    deepest_scroll: u8,
    reported_scroll: u8,
    last_activity: i64,
    last_tick: i64,
}

#[derive(Deserialize)]
struct SiteConfig {
    behaviours: Vec<Behaviour>,
    forms: Vec<FormDefinition>,
}

/// Sets up tracking for this page.
pub fn start(site: String, endpoint: String, load_form: js_sys::Function) {
    let now = browser::now();
    let visitor_id = browser::load(VISITOR_KEY).unwrap_or_else(|| {
        let id = browser::new_id();
        browser::save(VISITOR_KEY, &id);
        id
    });
    let profile = browser::load(PROFILE_KEY)
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let tracker = Tracker {
        site,
        endpoint,
        visitor_id,
        referrer: browser::document().referrer(),
        config: None,
        unprofiled: Vec::new(),
        profile,
        page: PageState::new(now),
        load_form,
        debug: browser::load(DEBUG_KEY).as_deref() == Some("1"),
    };
    TRACKER.with(|cell| *cell.borrow_mut() = Some(tracker));

    record(EventDetail::PageView);
    listen();
    fetch_site_config();
    flush(false);
}

/// Handles a `headwater(command, ...)` call from the page.
pub fn handle_call(arguments: js_sys::Array) {
    let command = arguments.get(0).as_string().unwrap_or_default();
    match command.as_str() {
        "page" => record(EventDetail::PageView),
        "track" => match arguments.get(1).as_string() {
            Some(name) if !name.is_empty() => record(EventDetail::Custom { name }),
            _ => browser::warn("headwater('track', name) needs a name"),
        },
        "reset" => reset(),
        other => browser::warn(&format!("headwater: unknown command `{other}`")),
    }
}

/// `headwater('reset')`: somebody else is at this computer. What is queued is sent
/// first, as the old visitor; then the visitor gets a new anonymous id and
/// session, and an empty profile.
// FIXME: a batch of the old visitor that fails now is retried as the new one; the
// queue should keep the visitor id with each event (the tracker issue's delivery
// work).
fn reset() {
    flush(true);
    with_tracker(|tracker| {
        tracker.visitor_id = browser::new_id();
        browser::save(VISITOR_KEY, &tracker.visitor_id);
        browser::save(SESSION_KEY, "");
        tracker.profile = EngagementProfile::default();
        save_profile(&tracker.profile);
    });
}

fn with_tracker<R>(action: impl FnOnce(&mut Tracker) -> R) -> Option<R> {
    TRACKER.with(|cell| cell.borrow_mut().as_mut().map(action))
}

/// Makes an event, queues it for delivery and adds it to the profile.
fn record(detail: EventDetail) {
    with_tracker(|tracker| {
        let now = browser::now();
        let event = Event {
            id: browser::new_id(),
            session_id: session_id(now),
            at: now,
            url: browser::current_url(),
            referrer: tracker.referrer.clone(),
            detail,
        };
        delivery::enqueue(&event);
        if tracker.debug {
            log_for_debugging(&event);
        }
        match &tracker.config {
            Some(config) => {
                tracker.profile.record(&event, &config.behaviours);
                save_profile(&tracker.profile);
            }
            None => tracker.unprofiled.push(event),
        }
    });
}

/// The current session's id, starting a new session after a long pause. Stored in
/// `localStorage`, so every tab of the visitor shares it.
fn session_id(now: i64) -> String {
    let stored = browser::load(SESSION_KEY);
    let current = stored
        .as_deref()
        .and_then(|text| text.split_once(' '))
        .and_then(|(id, last)| {
            let last: i64 = last.parse().ok()?;
            (now - last < SESSION_TIMEOUT_MS).then(|| id.to_owned())
        });
    let id = current.unwrap_or_else(browser::new_id);
    browser::save(SESSION_KEY, &format!("{id} {now}"));
    id
}

fn listen() {
    let window = browser::window();
    let document = browser::document();

    browser::listen(&document, "click", true, on_click);
    for activity in [
        "pointerdown",
        "pointermove",
        "keydown",
        "touchstart",
        "wheel",
    ] {
        browser::listen(&window, activity, true, |_| mark_activity());
    }
    browser::listen(&window, "scroll", false, |_| {
        mark_activity();
        update_scroll_depth();
    });
    browser::listen(&document, "visibilitychange", false, |_| {
        if !browser::is_visible() {
            leave_page();
        }
    });
    browser::listen(&window, "pagehide", false, |_| leave_page());
    browser::listen(&window, "pageshow", false, |event| {
        let restored = js_sys::Reflect::get(&event, &JsValue::from_str("persisted"))
            .ok()
            .and_then(|value| value.as_bool())
            .unwrap_or(false);
        if restored {
            with_tracker(|tracker| tracker.page = PageState::new(browser::now()));
            record(EventDetail::PageView);
        }
    });
    browser::listen(&window, "online", false, |_| flush(false));
    browser::every(TICK_MS, tick);
}

fn on_click(event: web_sys::Event) {
    mark_activity();
    let Some(element) = event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
    else {
        return;
    };
    let clicked: Vec<String> = with_tracker(|tracker| {
        let behaviours = tracker
            .config
            .as_ref()
            .map_or(&[][..], |config| &config.behaviours[..]);
        behaviours
            .iter()
            .filter(|behaviour| match &behaviour.trigger {
                // An invalid selector from the configuration matches nothing.
                Trigger::Click(selector) => element.closest(selector).ok().flatten().is_some(),
                _ => false,
            })
            .map(|behaviour| behaviour.name.clone())
            .collect()
    })
    .unwrap_or_default();
    for behaviour in clicked {
        record(EventDetail::Click { behaviour });
    }
}

fn mark_activity() {
    with_tracker(|tracker| tracker.page.last_activity = browser::now());
}

fn update_scroll_depth() {
    let depth = browser::scroll_depth();
    with_tracker(|tracker| tracker.page.deepest_scroll = tracker.page.deepest_scroll.max(depth));
}

/// Counts engaged time and makes deliveries that are due.
fn tick() {
    let now = browser::now();
    let visible = browser::is_visible();
    with_tracker(|tracker| {
        let page = &mut tracker.page;
        let gap = (now - page.last_tick).clamp(0, MAX_TICK_GAP_MS);
        page.last_tick = now;
        if visible && now - page.last_activity < ACTIVE_WINDOW_MS {
            page.unreported_ms += gap as u64;
        }
    });
    if visible {
        update_scroll_depth();
    }
    flush(false);
}

/// The page is hidden or going away: report engagement and send everything queued,
/// in a request that outlives the page.
fn leave_page() {
    update_scroll_depth();
    let report = with_tracker(|tracker| {
        let page = &mut tracker.page;
        let changed = page.unreported_ms > 0 || page.deepest_scroll > page.reported_scroll;
        let report = changed.then_some(EventDetail::Engagement {
            engaged_ms: page.unreported_ms,
            scroll_depth: page.deepest_scroll,
        });
        page.unreported_ms = 0;
        page.reported_scroll = page.deepest_scroll;
        report
    })
    .flatten();
    if let Some(report) = report {
        record(report);
    }
    flush(true);
}

fn flush(leaving: bool) {
    let target = with_tracker(|tracker| delivery::Target {
        endpoint: tracker.endpoint.clone(),
        site: tracker.site.clone(),
        visitor_id: tracker.visitor_id.clone(),
        profile: tracker.profile.clone(),
    });
    if let Some(target) = target {
        delivery::flush(&target, leaving);
    }
}

fn fetch_site_config() {
    let Some(url) = with_tracker(|tracker| {
        format!("{}/api/v1/sites/{}/config", tracker.endpoint, tracker.site)
    }) else {
        return;
    };
    delivery::get_json(&url, |text| {
        let Ok(config) = serde_json::from_str::<SiteConfig>(&text) else {
            browser::warn("headwater: the site configuration could not be read");
            return;
        };
        with_tracker(|tracker| {
            for event in std::mem::take(&mut tracker.unprofiled) {
                tracker.profile.record(&event, &config.behaviours);
            }
            save_profile(&tracker.profile);
            tracker.config = Some(config);
        });
        mount_forms();
    });
}

/// Renders the configured form into every element marked `data-headwater-form`.
fn mount_forms() {
    let Ok(elements) = browser::document().query_selector_all("[data-headwater-form]") else {
        return;
    };
    for index in 0..elements.length() {
        let Some(element) = elements
            .item(index)
            .and_then(|node| node.dyn_into::<web_sys::Element>().ok())
        else {
            continue;
        };
        if element.has_attribute("data-headwater-mounted") {
            continue;
        }
        let wanted = element
            .get_attribute("data-headwater-form")
            .unwrap_or_default();
        let mounted = with_tracker(|tracker| {
            let forms = &tracker.config.as_ref()?.forms;
            let form = forms
                .iter()
                .find(|form| form.id == wanted)
                .or_else(|| forms.first())?;
            let options = serde_json::json!({
                "site": tracker.site,
                "endpoint": tracker.endpoint,
                "visitor_id": tracker.visitor_id,
                "form": form,
            });
            let _ = tracker.load_form.call2(
                &JsValue::NULL,
                &element,
                &JsValue::from_str(&options.to_string()),
            );
            Some(())
        })
        .flatten();
        if mounted.is_some() {
            let _ = element.set_attribute("data-headwater-mounted", "");
        }
    }
}

fn save_profile(profile: &EngagementProfile) {
    if let Ok(text) = serde_json::to_string(profile) {
        browser::save(PROFILE_KEY, &text);
    }
}

/// With `localStorage['hw.debug'] = '1'`, every event is logged to the console and
/// its id kept, so a developer (or a test) can compare with what the server stored.
fn log_for_debugging(event: &Event) {
    let mut produced: Vec<String> = browser::load(DEBUG_LOG_KEY)
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    produced.push(event.id.clone());
    if let Ok(text) = serde_json::to_string(&produced) {
        browser::save(DEBUG_LOG_KEY, &text);
    }
    web_sys::console::log_2(
        &JsValue::from_str("headwater event"),
        &JsValue::from_str(event.detail.kind()),
    );
}

impl PageState {
    fn new(now: i64) -> Self {
        PageState {
            unreported_ms: 0,
            deepest_scroll: browser::scroll_depth(),
            reported_scroll: 0,
            last_activity: now,
            last_tick: now,
        }
    }
}
