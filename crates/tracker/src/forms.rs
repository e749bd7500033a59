//! Headwater's forms on the page: rendered inline wherever the page marks an
//! element with `data-headwater-form`, or opened as an overlay when their trigger
//! fires (a click, the engagement profile reaching a threshold, exit intent). The
//! form bundle is loaded by the glue only then, so pages without a form pay
//! nothing for it.
//!
//! An overlay opens at most once per visit (session), never while another is
//! open, and never again once the visitor dismissed it: the form bundle writes
//! `hw.dismissed.<form id>` when that happens.

use alloc::string::String;
use alloc::vec::Vec;

use crate::browser;
use crate::config::OverlayTrigger;
use crate::tracker::Shared;

const DISMISSED_PREFIX: &str = "hw.dismissed.";
const SHOWN_PREFIX: &str = "hw.shown.";

/// Renders the configured forms into every element marked for one, with the
/// visitor's id; on a page with no such element no id is made.
pub fn mount_inline(shared: &Shared) {
    let visitor = {
        let mut tracker = shared.borrow_mut();
        if tracker.config.is_none() || !browser::has_marked_forms() {
            return;
        }
        tracker.form_visitor_id()
    };
    browser::mount_marked_forms(&visitor);
}

/// A click: opens the overlays whose trigger is a click on this element.
pub fn on_click(shared: &Shared) {
    let wanted: Vec<String> = overlays(shared, |trigger| match trigger {
        OverlayTrigger::Click(selector) => browser::target_is_in(selector),
        _ => false,
    });
    open_first(shared, wanted);
}

/// The profile changed: opens the overlays whose engagement threshold it reached.
pub fn check_engagement(shared: &Shared) {
    let profile = shared.borrow().profile.clone();
    let wanted = overlays(shared, |trigger| match trigger {
        OverlayTrigger::Engagement(threshold) => threshold.is_met_by(&profile),
        _ => false,
    });
    open_first(shared, wanted);
}

/// The pointer left for the browser's tabs: opens the exit-intent overlays.
pub fn exit_intent(shared: &Shared) {
    let wanted = overlays(shared, |trigger| {
        matches!(trigger, OverlayTrigger::ExitIntent)
    });
    open_first(shared, wanted);
}

/// The ids of the overlay forms whose trigger `fires`.
fn overlays(shared: &Shared, fires: impl Fn(&OverlayTrigger) -> bool) -> Vec<String> {
    let tracker = shared.borrow();
    let Some(config) = &tracker.config else {
        return Vec::new();
    };
    config
        .forms
        .iter()
        .filter(|form| form.overlay.as_ref().is_some_and(&fires))
        .map(|form| form.id.clone())
        .collect()
}

/// Opens the first of these overlays that may open now.
fn open_first(shared: &Shared, wanted: Vec<String>) {
    for id in wanted {
        if open_overlay(shared, &id) {
            return;
        }
    }
}

fn open_overlay(shared: &Shared, id: &str) -> bool {
    let visitor = {
        let mut tracker = shared.borrow_mut();
        let session = tracker.session_id_now();
        let shown_key = [SHOWN_PREFIX, id].concat();
        let dismissed = browser::load(&[DISMISSED_PREFIX, id].concat()).is_some();
        let shown_this_visit = tracker.overlays_shown.iter().any(|shown| shown == id)
            || browser::load(&shown_key).is_some_and(|shown| shown == session);
        let configured = tracker
            .config
            .as_ref()
            .is_some_and(|config| config.form(id).is_some());
        if dismissed || shown_this_visit || !configured || browser::is_overlay_open() {
            return false;
        }
        tracker.overlays_shown.push(String::from(id));
        if tracker.persists() {
            browser::save(&shown_key, &session);
        }
        tracker.form_visitor_id()
    };
    browser::open_overlay(id, &visitor);
    true
}
