//! What the tracker watches on a page: page views (on load, on a restore from the
//! back/forward cache, and on a single-page application's navigation), engaged
//! time, scroll depth and its milestones, time-on-page and scroll-depth
//! behaviours, and the page being hidden or left.
//!
//! The glue's listeners are passive and the tracker does almost nothing on an
//! event: a scroll marks the page as scrolled, and the depth is measured at the
//! next tick, once a second.

use alloc::string::String;
use alloc::vec::Vec;

use headwater_core::EventDetail;
use headwater_core::navigation::is_new_page;
use headwater_core::wire::{MAX_TITLE_LENGTH, clipped_printable, url_path};

use crate::browser;
use crate::delivery;
use crate::interactions;
use crate::tracker::{Shared, record};

/// A visitor idle for longer than this is reading something else.
const ACTIVE_WINDOW_MS: i64 = 30_000;
/// How often the glue calls [`tick`]: engaged time is counted, depth measured and
/// due deliveries made.
const TICK_MS: i64 = 1_000;
/// The gap between ticks counted as engaged at most: a sleeping laptop's is not.
const MAX_TICK_GAP_MS: i64 = 2 * TICK_MS;
/// Scroll depths reported as events of their own, in percent.
const SCROLL_MILESTONES: [u8; 4] = [25, 50, 75, 100];

/// The page view in progress.
pub struct Page {
    pub url: String,
    pub referrer: String,
    /// Engaged time on this page view, reported or not.
    engaged_ms: u64,
    unreported_ms: u64,
    deepest_scroll: u8,
    reported_scroll: u8,
    /// The highest milestone reported (or passed before any scrolling).
    milestone: u8,
    scrolled: bool,
    last_activity: i64,
    last_tick: i64,
    /// Time-on-page and scroll-depth behaviours already reached on this view.
    reached: Vec<String>,
    /// The site's own forms started and submitted on this view, by name.
    pub forms_started: Vec<String>,
    pub forms_submitted: Vec<String>,
}

impl Page {
    /// The page now showing, referred by the document's referrer.
    pub fn new(now: i64) -> Page {
        Page::at(browser::current_url(), browser::referrer(), now)
    }

    fn at(url: String, referrer: String, now: i64) -> Page {
        let depth = browser::scroll_depth();
        Page {
            url,
            referrer,
            engaged_ms: 0,
            unreported_ms: 0,
            deepest_scroll: depth,
            reported_scroll: 0,
            milestone: depth / 25 * 25,
            scrolled: false,
            last_activity: now,
            last_tick: now,
            reached: Vec::new(),
            forms_started: Vec::new(),
            forms_submitted: Vec::new(),
        }
    }
}

/// Records the first page view.
pub fn start(shared: &Shared) {
    record(shared, page_view());
}

/// The page's events that reach [`dispatch`], in the order of the glue's list
/// (`pageEvents` in `js/tracker.js`), which passes an event's place in it: a
/// number crosses more cheaply than the event's type. Activity, clicks and forms
/// have calls of their own.
#[derive(Clone, Copy)]
pub enum PageEvent {
    Scroll,
    VisibilityChange,
    PageHide,
    Online,
    /// `hw:navigate` (the loader's, after `pushState` and `replaceState`),
    /// `popstate` or `hashchange`.
    Navigate,
}

impl PageEvent {
    pub fn numbered(number: u32) -> PageEvent {
        match number {
            0 => PageEvent::Scroll,
            1 => PageEvent::VisibilityChange,
            2 => PageEvent::PageHide,
            3 => PageEvent::Online,
            _ => PageEvent::Navigate,
        }
    }
}

/// What the glue's one listener heard.
pub fn dispatch(shared: &Shared, event: PageEvent) {
    match event {
        PageEvent::Scroll => {
            let mut tracker = shared.borrow_mut();
            tracker.page.scrolled = true;
            tracker.page.mark_activity();
        }
        PageEvent::VisibilityChange if browser::is_visible() => {
            shared.borrow_mut().page.last_tick = browser::now();
        }
        PageEvent::VisibilityChange => {
            // The page is hidden now; the time since the last tick was visible.
            accrue_time(shared, true);
            report_engagement(shared);
            delivery::flush(shared, true);
        }
        PageEvent::PageHide => {
            end_page(shared);
            delivery::flush(shared, true);
        }
        PageEvent::Online => delivery::flush(shared, false),
        PageEvent::Navigate => navigate(shared),
    }
}

/// The page came back from the back/forward cache: a new page view.
pub fn restored(shared: &Shared) {
    shared.borrow_mut().page = Page::new(browser::now());
    record(shared, page_view());
}

/// What needs the configuration to watch: exit intent, only for sites with a
/// form that opens on it.
pub fn watch_configured(shared: &Shared) {
    if interactions::wants_exit_intent(shared) {
        browser::listen_for_exit_intent();
    }
}

/// `headwater('page')`: a page view now, of the current address.
pub fn show_page(shared: &Shared) {
    let url = browser::current_url();
    begin_page(shared, url);
}

/// The address changed without a page load: a new page view if the path changed
/// (or the fragment, on a site routing by it); otherwise later events simply
/// carry the new address.
fn navigate(shared: &Shared) {
    let url = browser::current_url();
    let new_page = {
        let mut tracker = shared.borrow_mut();
        let hash_routing = tracker
            .config
            .as_ref()
            .is_some_and(|config| config.hash_routing);
        let new_page = is_new_page(&tracker.page.url, &url, hash_routing);
        if !new_page {
            tracker.page.url = url.clone();
        }
        new_page
    };
    if new_page {
        begin_page(shared, url);
    }
}

/// Ends the page view in progress and begins one of `url`, referred by the one
/// before.
fn begin_page(shared: &Shared, url: String) {
    end_page(shared);
    {
        let mut tracker = shared.borrow_mut();
        let previous = core::mem::take(&mut tracker.page.url);
        tracker.page = Page::at(url, previous, browser::now());
    }
    record(shared, page_view());
}

fn page_view() -> EventDetail {
    let title = browser::title();
    EventDetail::PageView {
        title: clipped_printable(title.trim(), MAX_TITLE_LENGTH),
    }
}

impl Page {
    pub fn mark_activity(&mut self) {
        self.last_activity = browser::now();
    }
}

/// Once a second: counts engaged time, measures depth after a scroll, reports
/// behaviours reached, and makes deliveries that are due.
pub fn tick(shared: &Shared) {
    let scrolled = accrue_time(shared, browser::is_visible());
    if scrolled {
        measure_scroll(shared);
    }
    report_reached(shared);
    delivery::flush(shared, false);
}

/// Counts the engaged time since the last tick (if the page was `visible` in it)
/// and says whether the visitor has scrolled since. Called on every tick and
/// before a page is hidden or left, so that the last moments of a page count.
fn accrue_time(shared: &Shared, visible: bool) -> bool {
    let now = browser::now();
    let mut tracker = shared.borrow_mut();
    let page = &mut tracker.page;
    let gap = (now - page.last_tick).clamp(0, MAX_TICK_GAP_MS) as u64;
    page.last_tick = now;
    if visible && now - page.last_activity < ACTIVE_WINDOW_MS {
        page.unreported_ms += gap;
        page.engaged_ms += gap;
    }
    core::mem::take(&mut page.scrolled)
}

/// Measures the depth and reports each milestone passed since the last one.
fn measure_scroll(shared: &Shared) {
    let depth = browser::scroll_depth();
    let (before, deepest) = {
        let mut tracker = shared.borrow_mut();
        let page = &mut tracker.page;
        page.deepest_scroll = page.deepest_scroll.max(depth);
        let before = page.milestone;
        page.milestone = page.milestone.max(page.deepest_scroll / 25 * 25);
        (before, page.deepest_scroll)
    };
    for milestone in SCROLL_MILESTONES {
        if milestone > before && milestone <= deepest {
            record(shared, EventDetail::Scroll { depth: milestone });
        }
    }
}

/// Reports the time-on-page and scroll-depth behaviours this page view has
/// reached, once each.
fn report_reached(shared: &Shared) {
    let reached: Vec<String> = {
        let mut tracker = shared.borrow_mut();
        let tracker = &mut *tracker;
        let Some(config) = &tracker.config else {
            return;
        };
        let page = &mut tracker.page;
        let path = url_path(&page.url);
        // Loops rather than iterator chains here and in the other modules: each
        // chain that collects names is a few hundred bytes of WebAssembly.
        let mut reached = Vec::new();
        for behaviour in &config.behaviours {
            if !page.reached.contains(&behaviour.name)
                && behaviour.is_reached_on(path, page.engaged_ms, page.deepest_scroll)
            {
                reached.push(behaviour.name.clone());
            }
        }
        page.reached.extend_from_slice(&reached);
        reached
    };
    for behaviour in reached {
        record(shared, EventDetail::Reached { behaviour });
    }
}

/// Reports the engagement of this page view not reported yet.
fn report_engagement(shared: &Shared) {
    measure_scroll(shared);
    let report = {
        let mut tracker = shared.borrow_mut();
        let page = &mut tracker.page;
        let changed = page.unreported_ms > 0 || page.deepest_scroll > page.reported_scroll;
        let report = EventDetail::Engagement {
            engaged_ms: page.unreported_ms,
            scroll_depth: page.deepest_scroll,
        };
        page.unreported_ms = 0;
        page.reported_scroll = page.deepest_scroll;
        changed.then_some(report)
    };
    if let Some(report) = report {
        record(shared, report);
    }
}

/// The page view ends: its engagement, and the forms started and not submitted.
///
/// The time and depth since the last tick are counted first: a visitor who
/// scrolls to the end and leaves within the second has reached the end.
fn end_page(shared: &Shared) {
    accrue_time(shared, browser::is_visible());
    measure_scroll(shared);
    report_reached(shared);
    report_engagement(shared);
    interactions::report_abandoned_forms(shared);
}
