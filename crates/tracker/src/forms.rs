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
    open_first(shared, Firing::Click);
}

/// The profile changed: opens the overlays whose engagement threshold it reached.
pub fn check_engagement(shared: &Shared) {
    open_first(shared, Firing::Engagement);
}

/// The pointer left for the browser's tabs: opens the exit-intent overlays.
pub fn exit_intent(shared: &Shared) {
    open_first(shared, Firing::ExitIntent);
}

/// What may have fired an overlay's trigger. One function decides for all three
/// (rather than a closure each), which keeps one copy of the code.
#[derive(Clone, Copy)]
enum Firing {
    Click,
    Engagement,
    ExitIntent,
}

/// The ids of the overlay forms whose trigger this fires.
fn overlays(shared: &Shared, firing: Firing) -> Vec<String> {
    let tracker = shared.borrow();
    let Some(config) = &tracker.config else {
        return Vec::new();
    };
    let fires = |trigger: &OverlayTrigger| match (trigger, firing) {
        (OverlayTrigger::Click(selector), Firing::Click) => browser::target_is_in(selector),
        (OverlayTrigger::Engagement(threshold), Firing::Engagement) => {
            threshold.is_met_by(&tracker.profile)
        }
        (OverlayTrigger::ExitIntent, Firing::ExitIntent) => true,
        _ => false,
    };
    let mut wanted = Vec::new();
    for form in &config.forms {
        if form.overlay.as_ref().is_some_and(fires) {
            wanted.push(form.id.clone());
        }
    }
    wanted
}

/// Opens the first overlay this fires that may open now.
fn open_first(shared: &Shared, firing: Firing) {
    for id in overlays(shared, firing) {
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
