//! Headwater's forms on the page: rendered inline wherever the page marks an
//! element with `data-headwater-form`, or opened as an overlay when their trigger
//! fires (a click, the engagement profile reaching a threshold, exit intent). The
//! form bundle is loaded by the loader only then, so pages without a form pay
//! nothing for it.
//!
//! An overlay opens at most once per visit (session), never while another is
//! open, and never again once the visitor dismissed it: the form bundle writes
//! `hw.dismissed.<form id>` when that happens.

use alloc::string::String;
use alloc::vec::Vec;

use headwater_core::json::JsonObject;
use wasm_bindgen::JsValue;

use crate::browser::{self, Element};
use crate::config::OverlayTrigger;
use crate::tracker::Shared;

const MARK: &str = "data-headwater-form";
const MOUNTED: &str = "data-headwater-mounted";
const DISMISSED_PREFIX: &str = "hw.dismissed.";
const SHOWN_PREFIX: &str = "hw.shown.";

/// Renders the configured form into every element marked for one.
pub fn mount_inline(shared: &Shared) {
    for element in browser::select_all("[data-headwater-form]") {
        if element.attribute(MOUNTED).is_some() {
            continue;
        }
        let wanted = element.attribute(MARK).unwrap_or_default();
        let options = {
            let mut tracker = shared.borrow_mut();
            let Some(config) = tracker.config.as_ref() else {
                return;
            };
            let Some(form) = config.form(&wanted).or_else(|| config.forms.first()) else {
                browser::warn("headwater: the site has no form to show");
                return;
            };
            let form_json = form.json.clone();
            options(&mut tracker, &form_json)
        };
        element.set_attribute(MOUNTED, "");
        load(shared, &element, &options);
    }
}

/// A click: opens the overlays whose trigger is a click on this element.
pub fn on_click(shared: &Shared, element: &Element) {
    let wanted: Vec<String> = overlays(shared, |trigger| match trigger {
        OverlayTrigger::Click(selector) => element.nearest(selector).is_some(),
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
    let options = {
        let mut tracker = shared.borrow_mut();
        let session = tracker.session_id_now();
        let shown_key = [SHOWN_PREFIX, id].concat();
        let dismissed = browser::load(&[DISMISSED_PREFIX, id].concat()).is_some();
        let shown_this_visit = tracker.overlays_shown.iter().any(|shown| shown == id)
            || browser::load(&shown_key).is_some_and(|shown| shown == session);
        let another_open = !browser::select_all(".hw-overlay").is_empty();
        if dismissed || shown_this_visit || another_open {
            return false;
        }
        let Some(form_json) = tracker
            .config
            .as_ref()
            .and_then(|config| config.form(id))
            .map(|form| form.json.clone())
        else {
            return false;
        };
        tracker.overlays_shown.push(String::from(id));
        if tracker.persists() {
            browser::save(&shown_key, &session);
        }
        options(&mut tracker, &form_json)
    };
    load(shared, &JsValue::NULL, &options);
    true
}

/// What the form bundle is given: the site, the server, the visitor and the form.
fn options(tracker: &mut crate::tracker::Tracker, form_json: &str) -> String {
    let visitor = tracker.form_visitor_id();
    let mut options = JsonObject::new();
    options
        .string("site", &tracker.site)
        .string("endpoint", &tracker.endpoint)
        .string("visitor_id", &visitor)
        .raw("form", form_json);
    options.finish()
}

/// Asks the loader to import the form bundle and mount the form into `element`
/// (null for an overlay).
fn load(shared: &Shared, element: &JsValue, options: &str) {
    let load_form = shared.borrow().load_form.clone();
    let _ = load_form.call2(&JsValue::NULL, element, &JsValue::from_str(options));
}
