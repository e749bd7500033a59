//! Headwater's browser tracker, started by the loader (`js/hw.js`) once the
//! WebAssembly is compiled.
//!
//! - [`browser`]: the few browser facilities it uses (storage, clock, random ids,
//!   listeners, timers), wrapped so that none of them can throw into the page.
//! - [`capture`]: what it watches: page views, engaged time, scroll depth, clicks
//!   on configured behaviours, and the site's own calls.
//! - [`delivery`]: the persistent queue and its batched delivery.
//!
//! Everything runs on the page's main thread in small slices: listeners are passive,
//! the work per event is a few map lookups and one `localStorage` write.

mod browser;
mod capture;
mod delivery;

use wasm_bindgen::prelude::*;

/// Starts tracking. `options` holds `site` and `endpoint`; `load_form(element,
/// options_json)` is the loader's function that imports the form bundle and mounts
/// a form. Returns the function that handles `headwater(...)` calls.
#[wasm_bindgen]
pub fn start(options: JsValue, load_form: js_sys::Function) -> JsValue {
    let site = browser::string_property(&options, "site");
    let endpoint = browser::string_property(&options, "endpoint");
    if site.is_empty() || endpoint.is_empty() {
        browser::warn("headwater: the script tag needs data-site");
        return Closure::<dyn Fn(js_sys::Array)>::new(|_| {}).into_js_value();
    }

    capture::start(site, endpoint, load_form);
    Closure::<dyn Fn(js_sys::Array)>::new(capture::handle_call).into_js_value()
}
