//! What visitors do with the page's elements: clicks on configured behaviours,
//! links that leave the site or fetch a file, the site's own forms (started,
//! submitted, abandoned: never a value typed, nothing about password fields), and
//! the pointer heading for the browser's tabs (exit intent, when a form wants it).

use alloc::string::String;
use alloc::vec::Vec;

use headwater_core::navigation::{LinkKind, classify_link};
use headwater_core::wire::{
    MAX_NAME_LENGTH, MAX_URL_LENGTH, clip_bytes, clip_chars, printable, url_path,
};
use headwater_core::{EventDetail, Trigger};
use wasm_bindgen::{JsCast, JsValue};

use crate::browser::{self, Element, get, get_number, get_string};
use crate::config::OverlayTrigger;
use crate::forms;
use crate::tracker::{Shared, record};

/// Headwater's own forms carry this attribute; they are not the site's forms.
const OWN_FORM_ATTRIBUTE: &str = "data-headwater-rendered";

/// Whether a form of the site opens on exit intent, which is then worth watching.
pub fn wants_exit_intent(shared: &Shared) -> bool {
    shared.borrow().config.as_ref().is_some_and(|config| {
        config
            .forms
            .iter()
            .any(|form| matches!(form.overlay, Some(OverlayTrigger::ExitIntent)))
    })
}

/// The pointer left the page upwards, towards the browser's tabs.
pub fn on_mouse_out(shared: &Shared, event: &JsValue) {
    let towards_the_tabs = get(event, "relatedTarget").is_null()
        && get_number(event, "clientY").is_some_and(|y| y <= 0.0);
    if towards_the_tabs {
        forms::exit_intent(shared);
    }
}

pub fn on_click(shared: &Shared, event: &JsValue) {
    shared.borrow_mut().page.mark_activity();
    let Some(element) = browser::event_element(event) else {
        return;
    };

    let link = element
        .nearest("a[href]")
        .map(|link| get_string(&link, "href"))
        .and_then(|href| {
            let page = shared.borrow().page.url.clone();
            let target = String::from(clip_bytes(&href, MAX_URL_LENGTH));
            match classify_link(&page, &href)? {
                LinkKind::Outbound => Some(EventDetail::Outbound { target }),
                LinkKind::Download => Some(EventDetail::Download { target }),
            }
        });
    if let Some(link) = link {
        record(shared, link);
    }

    let clicked: Vec<String> = shared
        .borrow()
        .config
        .as_ref()
        .map(|config| {
            config
                .behaviours
                .iter()
                .filter(|behaviour| match &behaviour.trigger {
                    Trigger::Click(selector) => element.nearest(selector).is_some(),
                    _ => false,
                })
                .map(|behaviour| behaviour.name.clone())
                .collect()
        })
        .unwrap_or_default();
    for behaviour in clicked {
        record(shared, EventDetail::Click { behaviour });
    }
    forms::on_click(shared, &element);
}

/// The first input into one of the site's forms starts it.
pub fn on_input(shared: &Shared, event: &JsValue) {
    let field = get(event, "target");
    if get_string(&field, "type").eq_ignore_ascii_case("password") {
        return;
    }
    let Some(name) = site_form_name(&get(&field, "form")) else {
        return;
    };
    let started = {
        let mut tracker = shared.borrow_mut();
        let page = &mut tracker.page;
        let first = !page.forms_started.contains(&name);
        if first {
            page.forms_started.push(name.clone());
        }
        first
    };
    if started {
        record(shared, EventDetail::FormStarted { form: name });
    }
}

pub fn on_submit(shared: &Shared, event: &JsValue) {
    let Some(name) = site_form_name(&get(event, "target")) else {
        return;
    };
    shared.borrow_mut().page.forms_submitted.push(name.clone());
    record(shared, EventDetail::FormSubmitted { form: name });
}

/// The page view ends: every site form started and not submitted was abandoned.
pub fn report_abandoned_forms(shared: &Shared) {
    let abandoned: Vec<String> = {
        let mut tracker = shared.borrow_mut();
        let page = &mut tracker.page;
        let abandoned = page
            .forms_started
            .iter()
            .filter(|name| !page.forms_submitted.contains(name))
            .cloned()
            .collect();
        page.forms_started.clear();
        abandoned
    };
    for form in abandoned {
        record(shared, EventDetail::FormAbandoned { form });
    }
}

/// The name a site's form is reported by: its `id`, its `name`, the path it posts
/// to, or just `form`. `None` for what is not a form, and for Headwater's own.
/// Attributes, not properties: `form.id` would be a field named `id`.
fn site_form_name(form: &JsValue) -> Option<String> {
    if get_string(form, "tagName") != "FORM" {
        return None;
    }
    let form: &Element = form.unchecked_ref();
    if form.attribute(OWN_FORM_ATTRIBUTE).is_some() {
        return None;
    }
    let action = form
        .attribute("action")
        .filter(|action| !action.is_empty())
        .map(|_| String::from(url_path(&get_string(form, "action"))));
    let name = form
        .attribute("id")
        .or_else(|| form.attribute("name"))
        .filter(|name| !name.trim().is_empty())
        .or(action)
        .unwrap_or_else(|| String::from("form"));
    Some(printable(clip_chars(name.trim(), MAX_NAME_LENGTH)))
}
