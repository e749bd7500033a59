//! The site's calls: `headwater(command, ...)`, made through the loader (which
//! queues calls made before the tracker was ready and replays them in order).
//!
//! - `headwater('page')`: a page view now.
//! - `headwater('track', name, properties)`: a custom event; properties are a flat
//!   object of strings, numbers and booleans.
//! - `headwater('identify', traits)`: tells who the visitor is, e.g. a signed-in
//!   user: `{ email, name, company, ... }`, checked as a form's answers are.
//! - `headwater('consent', true | false)`: the visitor's answer to the site's
//!   consent question.
//! - `headwater('reset')`: somebody else is at this computer.

use alloc::collections::BTreeMap;
use alloc::string::String;

use headwater_core::EventDetail;
use headwater_core::json::JsonObject;
use headwater_core::wire::{
    MAX_NAME_LENGTH, MAX_PROPERTIES, MAX_PROPERTY_LENGTH, clip_chars, printable,
};
use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};

use crate::browser::{self, get, items, to_json};
use crate::page;
use crate::tracker::{self, Shared, record};

pub fn handle(shared: &Shared, arguments: Array) {
    let command = arguments.get(0).as_string().unwrap_or_default();
    match command.as_str() {
        "page" => page::show_page(shared),
        "track" => match arguments.get(1).as_string() {
            Some(name) if !name.trim().is_empty() => {
                let detail = EventDetail::Custom {
                    name: printable(clip_chars(name.trim(), MAX_NAME_LENGTH)),
                    properties: properties(&arguments.get(2)),
                };
                record(shared, detail);
            }
            _ => browser::warn("headwater('track', name): the name is missing"),
        },
        "identify" => identify(shared, &arguments.get(1)),
        "consent" => tracker::consent(shared, arguments.get(1).is_truthy()),
        "reset" => tracker::reset(shared),
        _ => browser::warn("headwater: unknown command; see the README for the calls"),
    }
}

/// A flat object's entries as text, within the wire's limits: strings as they
/// are, anything else as JSON (`12`, `true`).
fn properties(object: &JsValue) -> BTreeMap<String, String> {
    if !object.is_object() {
        return BTreeMap::new();
    }
    let mut properties = BTreeMap::new();
    let keys = items(&js_sys::Object::keys::<JsValue>(object.unchecked_ref()).into());
    for key in keys
        .iter()
        .filter_map(JsValue::as_string)
        .take(MAX_PROPERTIES)
    {
        let value = get(object, &key);
        let text = value.as_string().unwrap_or_else(|| to_json(&value));
        properties.insert(
            printable(clip_chars(&key, MAX_NAME_LENGTH)),
            printable(clip_chars(&text, MAX_PROPERTY_LENGTH)),
        );
    }
    properties
}

/// Sends the traits to the identify endpoint as the answers of no form: the
/// collector checks them against the fields the site's forms define.
fn identify(shared: &Shared, traits: &JsValue) {
    let answers = properties(traits);
    if !answers.contains_key("email") {
        browser::warn("headwater('identify', traits): traits need an email");
        return;
    }
    let (url, body) = {
        let mut tracker = shared.borrow_mut();
        if !tracker.may_send() {
            return;
        }
        let visitor = tracker.visitor_id.clone();
        let mut answers_json = JsonObject::new();
        for (name, value) in &answers {
            answers_json.string(name, value);
        }
        let mut body = JsonObject::new();
        body.string("site", &tracker.site)
            .string("visitor_id", &visitor)
            .string("form", "")
            .string("token", &browser::new_id())
            .raw("answers", &answers_json.finish())
            .boolean("automation", browser::is_automated());
        let url = [tracker.endpoint.as_str(), "/api/v1/identify"].concat();
        tracker.page.mark_activity();
        (url, body.finish())
    };
    browser::fetch(&url, Some(&body), |status, _| {
        if !(200..300).contains(&status) {
            browser::warn("headwater('identify'): the collector refused the traits");
        }
    });
}
