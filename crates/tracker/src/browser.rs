//! Thin, non-throwing wrappers over the browser APIs the tracker uses. A browser
//! that refuses storage (private modes, full quota) leaves the tracker working from
//! memory for the page, never failing the page.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{AddEventListenerOptions, EventTarget, Storage, Window};

pub fn window() -> Window {
    web_sys::window().expect("the tracker runs in a window")
}

/// Milliseconds since the Unix epoch.
pub fn now() -> i64 {
    js_sys::Date::now() as i64
}

/// A new random UUID from the browser's cryptographic random source.
pub fn new_id() -> String {
    let mut random = [0u8; 16];
    if let Ok(crypto) = window().crypto() {
        let _ = crypto.get_random_values_with_u8_array(&mut random);
    }
    if random == [0; 16] {
        // No crypto API: fall back to Math.random, still unique enough for ids.
        for byte in &mut random {
            *byte = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    headwater_core::wire::new_id(random)
}

fn local_storage() -> Option<Storage> {
    window().local_storage().ok().flatten()
}

pub fn load(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

/// Stores a value; returns false when the browser refused.
pub fn save(key: &str, value: &str) -> bool {
    local_storage().is_some_and(|storage| storage.set_item(key, value).is_ok())
}

/// Reads a string property of a JavaScript object, empty when absent.
pub fn string_property(object: &JsValue, name: &str) -> String {
    js_sys::Reflect::get(object, &JsValue::from_str(name))
        .ok()
        .and_then(|value| value.as_string())
        .unwrap_or_default()
}

pub fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}

/// Listens for `event` on `target` with a passive listener that lives as long as
/// the page.
pub fn listen(
    target: &EventTarget,
    event: &str,
    capture: bool,
    handler: impl FnMut(web_sys::Event) + 'static,
) {
    let options = AddEventListenerOptions::new();
    options.set_passive(true);
    options.set_capture(capture);
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
    let _ = target.add_event_listener_with_callback_and_add_event_listener_options(
        event,
        closure.as_ref().unchecked_ref(),
        &options,
    );
    closure.forget();
}

/// Calls `tick` every `period_ms` for as long as the page lives.
pub fn every(period_ms: i32, tick: impl FnMut() + 'static) {
    let closure = Closure::<dyn FnMut()>::new(tick);
    let _ = window().set_interval_with_callback_and_timeout_and_arguments_0(
        closure.as_ref().unchecked_ref(),
        period_ms,
    );
    closure.forget();
}

/// Whether the browser is driven by automation (WebDriver sets
/// `navigator.webdriver`): such visits are bots to the collector.
pub fn is_automated() -> bool {
    // web-sys has no binding for `navigator.webdriver`.
    let navigator = window().navigator();
    js_sys::Reflect::get(&navigator, &JsValue::from_str("webdriver"))
        .ok()
        .and_then(|flag| flag.as_bool())
        .unwrap_or(false)
}

/// The page's URL.
pub fn current_url() -> String {
    window().location().href().unwrap_or_default()
}

pub fn document() -> web_sys::Document {
    window().document().expect("the tracker runs in a document")
}

pub fn is_visible() -> bool {
    document().visibility_state() == web_sys::VisibilityState::Visible
}

/// The deepest point of the page in view, in percent of its height.
pub fn scroll_depth() -> u8 {
    let window = window();
    let viewport = window
        .inner_height()
        .ok()
        .and_then(|height| height.as_f64())
        .unwrap_or(0.0);
    let scrolled = window.scroll_y().unwrap_or(0.0);
    let height = document()
        .document_element()
        .map_or(0, |root| root.scroll_height()) as f64;
    if height <= viewport || height <= 0.0 {
        return 100;
    }
    (((scrolled + viewport) / height) * 100.0).clamp(0.0, 100.0) as u8
}
