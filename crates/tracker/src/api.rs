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

use alloc::string::String;

use headwater_core::json::JsonObject;
use headwater_core::wire::{
    MAX_NAME_LENGTH, MAX_PROPERTIES, MAX_PROPERTY_LENGTH, clipped_printable,
};
use headwater_core::{EventDetail, NameMap};

use crate::browser;
use crate::delivery;
use crate::page;
use crate::tracker::{self, Shared, record};

/// A call: the glue hands over the command, the event name (for `track`), then
/// the properties or traits as names and values, every value as text (`12`,
/// `true`: what is not a string, as JSON). `flag` is the second argument's truth,
/// for `consent`.
pub fn handle(shared: &Shared, flag: bool) {
    let command = browser::next_text().unwrap_or_default();
    let name = browser::next_text();
    let properties = properties();
    match command.as_str() {
        "page" => page::show_page(shared),
        "track" => match name {
            Some(name) if !name.trim().is_empty() => {
                let detail = EventDetail::Custom {
                    name: clipped_printable(name.trim(), MAX_NAME_LENGTH),
                    properties,
                };
                record(shared, detail);
            }
            _ => browser::warn("headwater('track', name): the name is missing"),
        },
        "identify" => identify(shared, &properties),
        "consent" => tracker::consent(shared, flag),
        "reset" => tracker::reset(shared),
        _ => browser::warn("headwater: unknown command; see the README for the calls"),
    }
}

/// The names and values the glue handed over, within the wire's limits.
fn properties() -> NameMap<String> {
    let mut properties = NameMap::new();
    while let (Some(key), Some(value)) = (browser::next_text(), browser::next_text()) {
        if properties.len() < MAX_PROPERTIES {
            properties.insert(
                clipped_printable(&key, MAX_NAME_LENGTH),
                clipped_printable(&value, MAX_PROPERTY_LENGTH),
            );
        }
    }
    properties
}

/// Sends the traits to the identify endpoint as the answers of no form: the
/// collector checks them against the fields the site's forms define.
fn identify(shared: &Shared, answers: &NameMap<String>) {
    if !answers.contains_key("email") {
        browser::warn("headwater('identify', traits): traits need an email");
        return;
    }
    let body = {
        let mut tracker = shared.borrow_mut();
        if !tracker.may_send() {
            return;
        }
        let visitor = tracker.visitor_id.clone();
        let mut answers_json = JsonObject::new();
        for (name, value) in answers {
            answers_json.string(name, value);
        }
        let mut body = JsonObject::new();
        body.string("site", &tracker.site)
            .string("visitor_id", &visitor)
            .string("form", "")
            .string("token", &browser::new_id())
            .raw("answers", &answers_json.finish())
            .boolean("automation", browser::is_automated());
        tracker.page.mark_activity();
        body.finish()
    };
    delivery::send_identification(shared, &body);
}
