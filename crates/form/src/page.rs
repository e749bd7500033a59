//! What the form needs of the page and the browser: the language, the address's
//! query, `localStorage`, focus, and the browser's regular-expression engine.
//! None of these may throw into the page: every failure is an absent value.

use headwater_core::form::{Engine, Language, field::anchored};
use wasm_bindgen::{JsCast, JsValue};

/// Where the form notes that the visitor dismissed an overlay; the tracker reads it
/// and never opens that overlay again.
pub fn dismissed_key(form_id: &str) -> String {
    format!("hw.dismissed.{form_id}")
}

/// The page's `lang`, else the browser's language.
pub fn page_language() -> Language {
    let window = web_sys::window();
    let page = document()
        .and_then(|document| document.document_element())
        .and_then(|root| root.get_attribute("lang"))
        .filter(|lang| !lang.is_empty());
    let tag = page
        .or_else(|| window.and_then(|window| window.navigator().language()))
        .unwrap_or_default();
    Language::from_tag(&tag)
}

/// The page address's query string (`?utm_campaign=...`), empty when it has none.
pub fn query() -> String {
    web_sys::window()
        .and_then(|window| window.location().search().ok())
        .unwrap_or_default()
}

/// Writes `value` under `key` in `localStorage`, if the browser lets us.
pub fn remember(key: &str, value: &str) {
    let storage = web_sys::window().and_then(|window| window.local_storage().ok().flatten());
    if let Some(storage) = storage {
        let _ = storage.set_item(key, value);
    }
}

pub fn document() -> Option<web_sys::Document> {
    web_sys::window().and_then(|window| window.document())
}

/// The element with this id, as an HTML element.
pub fn element_by_id(id: &str) -> Option<web_sys::HtmlElement> {
    document()?.get_element_by_id(id)?.dyn_into().ok()
}

/// The first element matching a CSS selector, as an HTML element.
pub fn query_selector(selector: &str) -> Option<web_sys::HtmlElement> {
    document()?.query_selector(selector).ok()??.dyn_into().ok()
}

/// The element that has the focus now, if it is an HTML element.
pub fn focused() -> Option<web_sys::HtmlElement> {
    document()?.active_element()?.dyn_into().ok()
}

/// Moves the focus to the element with this id.
pub fn focus_by_id(id: &str) {
    if let Some(element) = element_by_id(id) {
        let _ = element.focus();
    }
}

/// The rules' engine in the browser: patterns checked with the browser's own
/// `RegExp` (with the `u` flag) and text normalised with its
/// `String.prototype.normalize`, which cost the bundle nothing. A pattern the
/// browser cannot read is left to the server.
///
/// FIXME: the server checks with the regex crate, whose syntax differs from
/// JavaScript's in corners (inline flags such as `(?i)`, `\d` matching every
/// Unicode digit). The configuration guide recommends plain classes and
/// quantifiers, which both read alike; a pattern compiled into a small shared
/// matcher in core would remove the difference, at a cost in bytes. NFC follows
/// the browser's Unicode version, which may be older or newer than the server's
/// for characters assigned in the last few years.
pub struct BrowserEngine;

impl Engine for BrowserEngine {
    fn matches(&self, pattern: &str, answer: &str) -> Option<bool> {
        let constructor = js_sys::RegExp::new("", "").constructor();
        let arguments = js_sys::Array::of2(
            &JsValue::from_str(&anchored(pattern)),
            &JsValue::from_str("u"),
        );
        // `new RegExp` throws on a pattern it cannot read; Reflect turns that into
        // an error instead of an exception through our frames.
        let regex: js_sys::RegExp = js_sys::Reflect::construct(&constructor, &arguments)
            .ok()?
            .unchecked_into();
        Some(regex.test(answer))
    }

    fn nfc(&self, text: &str) -> String {
        js_sys::JsString::from(text).normalize("NFC").into()
    }
}
