//! The browser, as the tracker sees it: the functions the glue (`js/tracker.js`)
//! imports into the module, and safe wrappers over them. None of them can throw
//! into the page: a browser that refuses storage (a private mode, a full quota,
//! cookies blocked) reads as empty storage and leaves the tracker working from
//! memory.
//!
//! Text goes to the glue as a pointer and a length into this module's memory. Text
//! comes back in two steps: the glue answers with its length in bytes (-1 for
//! none), then copies it into a buffer of that length allocated here ([`take`]).
//! A list of texts (storage keys) is handed over like the texts of an exported
//! call, one at a time ([`next_text`]).

use alloc::string::String;
use alloc::vec::Vec;

/// The glue's functions, by the names `js/tracker.js` gives them.
mod imported {
    // SAFETY: the glue reads and writes only within the pointer and length it is
    // given, or, for `copy`, the length it answered just before; `random_bytes`
    // writes 16 bytes.
    #[allow(unsafe_code)]
    #[link(wasm_import_module = "hw")]
    unsafe extern "C" {
        pub safe fn next() -> i32;
        pub safe fn copy(into: *mut u8);
        pub safe fn now() -> f64;
        pub safe fn random_bytes(into: *mut u8);
        pub safe fn random() -> f64;
        pub safe fn load(key: *const u8, key_length: usize) -> i32;
        pub safe fn save(key: *const u8, key_length: usize, value: *const u8, length: usize)
        -> i32;
        pub safe fn remove(key: *const u8, key_length: usize);
        pub safe fn keys(prefix: *const u8, prefix_length: usize);
        pub safe fn send(
            path: *const u8,
            path_length: usize,
            body: *const u8,
            length: usize,
            id: u32,
        );
        pub safe fn warn(message: *const u8, length: usize);
        pub safe fn log(kind: *const u8, length: usize);
        pub safe fn href() -> i32;
        pub safe fn referrer() -> i32;
        pub safe fn title() -> i32;
        pub safe fn scroll_y() -> f64;
        pub safe fn viewport_height() -> f64;
        pub safe fn page_height() -> f64;
        pub safe fn visible() -> i32;
        pub safe fn offline() -> i32;
        pub safe fn automated() -> i32;
        pub safe fn asks_not_to_be_tracked() -> i32;
        pub safe fn link_href() -> i32;
        pub safe fn target_matches(selector: *const u8, length: usize) -> i32;
        pub safe fn overlay_open() -> i32;
        pub safe fn show_overlay(
            form: *const u8,
            length: usize,
            visitor: *const u8,
            v_length: usize,
        );
        pub safe fn marked_forms() -> i32;
        pub safe fn mount_inline(visitor: *const u8, length: usize);
        pub safe fn watch_exit_intent();
    }
}

pub use imported::random;

/// The next text the glue handed over with its call; `None` when it has no more.
pub fn next_text() -> Option<String> {
    take(imported::next())
}

/// Milliseconds since the Unix epoch.
pub fn now() -> i64 {
    imported::now() as i64
}

/// A new random UUID from the browser's cryptographic random source, or from
/// `Math.random` where there is none.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    imported::random_bytes(bytes.as_mut_ptr());
    headwater_core::wire::new_id(bytes)
}

/// A stored value; `None` when absent or when the browser refuses storage.
pub fn load(key: &str) -> Option<String> {
    take(imported::load(key.as_ptr(), key.len()))
}

/// Stores a value; false when the browser refused.
pub fn save(key: &str, value: &str) -> bool {
    imported::save(key.as_ptr(), key.len(), value.as_ptr(), value.len()) == 1
}

pub fn remove(key: &str) {
    imported::remove(key.as_ptr(), key.len());
}

/// The keys in storage that start with `prefix`, which the glue hands over one
/// by one (a list of texts needs no splitting here).
pub fn stored_keys(prefix: &str) -> Vec<String> {
    imported::keys(prefix.as_ptr(), prefix.len());
    let mut keys = Vec::new();
    while let Some(key) = next_text() {
        keys.push(key);
    }
    keys
}

/// POSTs `body` to the collector's `path` as plain text with `keepalive`, so that
/// it outlives the page: a "simple" request needs no CORS preflight, which a page
/// being closed would not wait for. The glue calls
/// [`answered`](crate::exports::answered) with `request` and the HTTP status (0
/// for a network failure).
pub fn post(path: &str, body: &str, request: u32) {
    imported::send(
        path.as_ptr(),
        path.len(),
        body.as_ptr(),
        body.len(),
        request,
    );
}

/// A warning in the browser's console, for the site's developers.
pub fn warn(message: &str) {
    imported::warn(message.as_ptr(), message.len());
}

/// Logs an event's kind to the console, for a developer debugging the tracker.
pub fn log(kind: &str) {
    imported::log(kind.as_ptr(), kind.len());
}

/// The page's address.
pub fn current_url() -> String {
    take(imported::href()).unwrap_or_default()
}

pub fn referrer() -> String {
    take(imported::referrer()).unwrap_or_default()
}

pub fn title() -> String {
    take(imported::title()).unwrap_or_default()
}

/// The deepest point of the page in view, in percent of its height.
pub fn scroll_depth() -> u8 {
    let viewport = imported::viewport_height();
    let height = imported::page_height();
    if height <= viewport || height <= 0.0 {
        return 100;
    }
    (((imported::scroll_y() + viewport) / height) * 100.0).clamp(0.0, 100.0) as u8
}

pub fn is_visible() -> bool {
    imported::visible() == 1
}

/// Whether the browser says it is offline.
pub fn is_offline() -> bool {
    imported::offline() == 1
}

/// Whether the browser is driven by automation (WebDriver sets
/// `navigator.webdriver`): such visits are bots to the collector.
pub fn is_automated() -> bool {
    imported::automated() == 1
}

/// Whether the visitor asks not to be tracked: Do Not Track or Global Privacy
/// Control.
pub fn asks_not_to_be_tracked() -> bool {
    imported::asks_not_to_be_tracked() == 1
}

/// The address of the link the event being handled happened in, if any.
pub fn clicked_link() -> Option<String> {
    take(imported::link_href())
}

/// Whether the element the event being handled happened on, or an ancestor,
/// matches `selector`. An invalid selector matches nothing.
pub fn target_is_in(selector: &str) -> bool {
    imported::target_matches(selector.as_ptr(), selector.len()) == 1
}

/// Whether one of Headwater's overlays is open on the page.
pub fn is_overlay_open() -> bool {
    imported::overlay_open() == 1
}

/// Opens the form `form` as an overlay, for `visitor`; the glue loads the form
/// bundle first if the page has not yet.
pub fn open_overlay(form: &str, visitor: &str) {
    imported::show_overlay(form.as_ptr(), form.len(), visitor.as_ptr(), visitor.len());
}

/// Whether the page marks an element for a form not rendered yet.
pub fn has_marked_forms() -> bool {
    imported::marked_forms() == 1
}

/// Renders the configured forms wherever the page marks an element with
/// `data-headwater-form`, for `visitor`.
pub fn mount_marked_forms(visitor: &str) {
    imported::mount_inline(visitor.as_ptr(), visitor.len());
}

/// Starts listening for the pointer leaving the page.
pub fn listen_for_exit_intent() {
    imported::watch_exit_intent();
}

/// A whole number written in decimal digits, as the tracker writes times into
/// storage: smaller than `str::parse`, which the tracker would otherwise carry
/// only for this.
pub fn whole_number(digits: &str) -> Option<i64> {
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    digits.bytes().try_fold(0i64, |number, byte| {
        byte.is_ascii_digit()
            .then(|| number * 10 + i64::from(byte - b'0'))
    })
}

/// Text the glue answered with `length` bytes (-1 for none).
fn take(length: i32) -> Option<String> {
    let length = usize::try_from(length).ok()?;
    let mut bytes = alloc::vec![0u8; length];
    imported::copy(bytes.as_mut_ptr());
    String::from_utf8(bytes).ok()
}
