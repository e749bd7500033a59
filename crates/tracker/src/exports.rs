//! What the glue (`js/tracker.js`) calls: the tracker's start, the page's events,
//! the site's configuration piece by piece, the site's `headwater(...)` calls and
//! the collector's answers. Texts a call needs are handed over before it and
//! taken with [`browser::next_text`], in the order the glue gives them. Each
//! function only finds the tracker and passes the call on.
//!
//! Before [`start`] (or when it found no site) there is no tracker, and every
//! other call does nothing. Flags come as numbers (0 or 1), which any value the
//! glue passes is safe as; a `bool` parameter is not.

// Exported by name for the glue: `no_mangle` is the one unsafe attribute here.
#![allow(unsafe_code)]

use core::cell::RefCell;

use crate::browser;
use crate::config::{self, Consent};
use crate::tracker::{self, Shared, Tracker};
use crate::{TRACKER, api, delivery, forms, interactions, page};

/// Starts tracking the site handed over: records the page view. 0 when there is
/// no site to track, and the glue then does nothing more.
#[unsafe(no_mangle)]
pub extern "C" fn start() -> u32 {
    let site = browser::next_text().unwrap_or_default();
    if site.trim().is_empty() {
        browser::warn("headwater: the script tag needs data-site");
        return 0;
    }
    // Set once: the glue calls `start` once. Were it called again, the new tracker
    // is forgotten rather than dropped, which spares the module a tracker's drop
    // code for a call that never happens.
    if let Err(second) = TRACKER.0.set(RefCell::new(Tracker::new(site))) {
        core::mem::forget(second);
        return 1;
    }
    with_tracker(page::start);
    1
}

/// Input, a pointer or a wheel: the visitor is here.
#[unsafe(no_mangle)]
pub extern "C" fn active() {
    with_tracker(|shared| shared.borrow_mut().page.mark_activity());
}

/// Another event the page fired, by its place in the glue's list of page events
/// (see [`page::PageEvent`]).
#[unsafe(no_mangle)]
pub extern "C" fn happened(kind: u32) {
    with_tracker(|shared| page::dispatch(shared, page::PageEvent::numbered(kind)));
}

/// The page came back from the back/forward cache.
#[unsafe(no_mangle)]
pub extern "C" fn restored() {
    with_tracker(page::restored);
}

/// A click; the glue keeps its element for [`browser::clicked_link`] and
/// [`browser::target_is_in`].
#[unsafe(no_mangle)]
pub extern "C" fn clicked() {
    with_tracker(interactions::on_click);
}

/// Input into one of the site's forms, or its submission; its name handed over.
#[unsafe(no_mangle)]
pub extern "C" fn site_form(submitted: u32) {
    let name = browser::next_text().unwrap_or_default();
    with_tracker(|shared| interactions::on_site_form(shared, &name, submitted != 0));
}

/// The pointer left the page towards the browser's tabs.
#[unsafe(no_mangle)]
pub extern "C" fn exit_intent() {
    with_tracker(forms::exit_intent);
}

/// Once a second.
#[unsafe(no_mangle)]
pub extern "C" fn tick() {
    with_tracker(page::tick);
}

/// The collector answered a request with `status` (0 for a network failure).
#[unsafe(no_mangle)]
pub extern "C" fn answered(request: u32, status: u32) {
    let status = u16::try_from(status).unwrap_or(0);
    with_tracker(|shared| delivery::answered(shared, request, status));
}

/// One behaviour of the configuration; its name and text handed over (see
/// [`config::behaviour`]).
#[unsafe(no_mangle)]
pub extern "C" fn behaviour(trigger: u32, number: f64, points: f64, limit: f64) {
    let name = browser::next_text();
    let text = browser::next_text().unwrap_or_default();
    let Some(behaviour) = config::behaviour(name, trigger, text, number, points, limit) else {
        return;
    };
    with_tracker(|shared| shared.borrow_mut().incoming.behaviours.push(behaviour));
}

/// One form of the configuration; its id and click selector handed over (see
/// [`config::form`]). A missing threshold part is NaN.
#[unsafe(no_mangle)]
pub extern "C" fn form(opens: u32, points: f64, pages_seen: f64, engaged_seconds: f64) {
    let id = browser::next_text().unwrap_or_default();
    let selector = browser::next_text();
    let form = config::form(id, opens, selector, [points, pages_seen, engaged_seconds]);
    with_tracker(|shared| shared.borrow_mut().incoming.forms.push(form));
}

/// The configuration's last piece: its privacy settings (the consent mode as
/// [`Consent::numbered`] reads it). The tracker now begins (or not).
#[unsafe(no_mangle)]
pub extern "C" fn configure(consent: u32, respect_do_not_track: u32, hash_routing: u32) {
    let consent = Consent::numbered(consent);
    with_tracker(|shared| {
        let mut config = core::mem::take(&mut shared.borrow_mut().incoming);
        config.consent = consent;
        config.respect_do_not_track = respect_do_not_track != 0;
        config.hash_routing = hash_routing != 0;
        tracker::configure(shared, config);
    });
}

/// `headwater(command, ...)` (see [`api::handle`]).
#[unsafe(no_mangle)]
pub extern "C" fn call(flag: u32) {
    with_tracker(|shared| api::handle(shared, flag != 0));
}

fn with_tracker(act: impl FnOnce(&Shared)) {
    if let Some(shared) = TRACKER.0.get() {
        act(shared);
    }
}
