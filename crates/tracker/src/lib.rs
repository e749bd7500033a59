//! Headwater's browser tracker, started by the loader (`js/hw.js`) once the
//! WebAssembly is compiled.
//!
//! - [`browser`]: the few browser facilities it uses, wrapped so that none of them
//!   can throw into the page.
//! - [`tracker`]: the state on a page, how events are made, and what the site and
//!   the visitor allow (consent, Do Not Track).
//! - [`page`]: page views (single-page navigation included), engaged time, scroll
//!   depth, time-on-page and scroll-depth behaviours.
//! - [`interactions`]: clicks on configured behaviours, outbound links, downloads,
//!   the site's own forms, exit intent.
//! - [`forms`]: Headwater's forms, inline and as overlays on their triggers.
//! - [`delivery`]: the persistent queue and its batched delivery.
//! - [`config`]: the site's configuration as the collector serves it.
//! - [`api`]: the site's `headwater(...)` calls.
//!
//! Everything runs on the page's main thread in small slices: listeners are passive
//! and do a few field writes; depth is measured and deliveries made once a second.
//! The crate is `no_std` so that the WebAssembly carries no formatting or panic
//! machinery: it is part of every page view of every customer site.

//!
//! It is built for `wasm32-unknown-unknown` only (`cargo xtask build-web`); on any
//! other target it compiles to nothing, so that `cargo build --workspace` works.

#![cfg_attr(target_arch = "wasm32", no_std)]
#![cfg(target_arch = "wasm32")]

extern crate alloc;

mod api;
mod browser;
mod config;
mod delivery;
mod forms;
mod interactions;
mod page;
mod tracker;

use alloc::rc::Rc;
use core::cell::RefCell;

use wasm_bindgen::prelude::*;

/// talc rather than dlmalloc (which std would bring): a third of the size, and
/// maintained for WebAssembly.
// SAFETY: the tracker runs in single-threaded WebAssembly, which is all that
// `new_global` asks; nothing else manages the module's memory.
#[global_allocator]
#[allow(unsafe_code)]
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };

/// A panic is a bug of ours; it stops the call it happened in (as a WebAssembly
/// trap, which the browser reports) and never the page.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Starts tracking. `options` holds `site` and `endpoint`; `load_form(element,
/// options_json)` is the loader's function that imports the form bundle and mounts
/// a form (`element` null: as an overlay). Returns the function that handles
/// `headwater(...)` calls.
#[wasm_bindgen]
pub fn start(options: JsValue, load_form: js_sys::Function) -> JsValue {
    let site = browser::get_string(&options, "site");
    let endpoint = browser::get_string(&options, "endpoint");
    if site.is_empty() || endpoint.is_empty() {
        browser::warn("headwater: the script tag needs data-site");
        return browser::callback(|_| {});
    }

    let shared = Rc::new(RefCell::new(tracker::Tracker::new(
        site.clone(),
        endpoint.clone(),
        load_form,
    )));
    page::start(&shared);
    fetch_site_config(&shared);
    let calls = shared.clone();
    browser::callback(move |arguments| api::handle(&calls, arguments.unchecked_into()))
}

/// Fetches the site's configuration, again a little later if it does not come.
fn fetch_site_config(shared: &tracker::Shared) {
    let url = {
        let tracker = shared.borrow();
        [
            tracker.endpoint.as_str(),
            "/api/v1/sites/",
            &tracker.site,
            "/config",
        ]
        .concat()
    };
    let configured = shared.clone();
    browser::fetch(&url, None, move |status, response| {
        if status != 200 {
            browser::warn("headwater: the site configuration did not load; retrying");
            retry_later(configured);
            return;
        }
        browser::read_json(&response, move |config| {
            tracker::configure(&configured, config::SiteConfig::read(&config));
        });
    });
}

/// Until the configuration comes nothing is sent, so it is asked for again.
fn retry_later(shared: tracker::Shared) {
    let retry = browser::callback(move |_| fetch_site_config(&shared));
    browser::set_timeout(retry.unchecked_ref(), CONFIG_RETRY_MS);
}

/// How long to wait before asking for the site's configuration again.
const CONFIG_RETRY_MS: i32 = 10_000;
