//! The browser, as the tracker sees it: a handful of imported functions declared
//! by hand (each one costs bytes of glue, so there are few, and most property
//! reads go through one `Reflect.get`), wrapped so that none can throw into the
//! page. A browser that refuses storage (a private mode, a full quota, cookies
//! blocked) reads as empty storage and leaves the tracker working from memory.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Function, JSON, Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = window)]
    static WINDOW: JsValue;

    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn date_now() -> f64;

    #[wasm_bindgen(js_namespace = Math, js_name = random)]
    pub fn random() -> f64;

    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buffer: &mut [u8]) -> Result<(), JsValue>;

    #[wasm_bindgen(js_namespace = localStorage, js_name = getItem, catch)]
    fn storage_get(key: &str) -> Result<Option<String>, JsValue>;

    #[wasm_bindgen(js_namespace = localStorage, js_name = setItem, catch)]
    fn storage_set(key: &str, value: &str) -> Result<(), JsValue>;

    #[wasm_bindgen(js_namespace = localStorage, js_name = removeItem, catch)]
    fn storage_remove(key: &str) -> Result<(), JsValue>;

    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    pub fn warn(message: &str);

    #[wasm_bindgen(js_namespace = console, js_name = log)]
    pub fn log(message: &str, detail: &str);

    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with(url: &str, init: &JsValue) -> Thenable;

    /// A promise, taken as plain functions so that one-shot closures fit.
    type Thenable;

    #[wasm_bindgen(method, js_name = then)]
    fn then(this: &Thenable, resolved: &JsValue, rejected: &JsValue) -> Thenable;

    #[wasm_bindgen(js_name = setInterval)]
    fn set_interval(handler: &Function, period_ms: i32) -> f64;

    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &Function, delay_ms: i32) -> f64;

    /// Anything with `addEventListener`: the window, the document.
    pub type Target;

    #[wasm_bindgen(method, js_name = addEventListener)]
    fn add_event_listener(this: &Target, kind: &str, listener: &Function, options: &JsValue);

    /// A DOM element.
    pub type Element;

    #[wasm_bindgen(method, catch)]
    fn closest(this: &Element, selector: &str) -> Result<Option<Element>, JsValue>;

    #[wasm_bindgen(method, js_name = getAttribute)]
    pub fn attribute(this: &Element, name: &str) -> Option<String>;

    #[wasm_bindgen(method, js_name = setAttribute)]
    pub fn set_attribute(this: &Element, name: &str, value: &str);

    /// Declared on elements, and used on the document too, which has it as well.
    #[wasm_bindgen(method, js_name = querySelectorAll)]
    fn query_selector_all(this: &Element, selector: &str) -> JsValue;
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

/// Milliseconds since the Unix epoch.
pub fn now() -> i64 {
    date_now() as i64
}

/// A new random UUID from the browser's cryptographic random source, or from
/// `Math.random` where there is none.
pub fn new_id() -> String {
    let mut random = [0u8; 16];
    if get_random_values(&mut random).is_err() || random == [0; 16] {
        for byte in &mut random {
            *byte = (self::random() * 256.0) as u8;
        }
    }
    headwater_core::wire::new_id(random)
}

/// A stored value; `None` when absent or when the browser refuses storage.
pub fn load(key: &str) -> Option<String> {
    storage_get(key).ok().flatten()
}

/// Stores a value; false when the browser refused.
pub fn save(key: &str, value: &str) -> bool {
    storage_set(key, value).is_ok()
}

pub fn remove(key: &str) {
    let _ = storage_remove(key);
}

/// The keys in storage that start with `prefix`.
pub fn stored_keys(prefix: &str) -> Vec<String> {
    let Ok(storage) = Reflect::get(&window(), &JsValue::from_str("localStorage")) else {
        return Vec::new();
    };
    if !storage.is_object() {
        return Vec::new();
    }
    Object::keys::<JsValue>(storage.unchecked_ref())
        .iter()
        .filter_map(|key| key.as_string())
        .filter(|key| key.starts_with(prefix))
        .collect()
}

/// A property of a JavaScript value; `undefined` when it has none (or is none).
pub fn get(object: &JsValue, name: &str) -> JsValue {
    if object.is_undefined() || object.is_null() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// A property at the end of a path of names: `get_path(&window, &["document", "title"])`.
pub fn get_path(object: &JsValue, path: &[&str]) -> JsValue {
    path.iter()
        .fold(object.clone(), |value, name| get(&value, name))
}

pub fn get_string(object: &JsValue, name: &str) -> String {
    get(object, name).as_string().unwrap_or_default()
}

pub fn get_number(object: &JsValue, name: &str) -> Option<f64> {
    get(object, name).as_f64()
}

pub fn set(object: &JsValue, name: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(name), value);
}

/// The global object: the window.
pub fn window() -> JsValue {
    WINDOW.with(JsValue::clone)
}

pub fn document() -> JsValue {
    get(&window(), "document")
}

/// Parses JSON with the browser's own parser.
pub fn parse_json(text: &str) -> Option<JsValue> {
    JSON::parse(text).ok()
}

/// Writes a value as JSON with the browser's own writer.
pub fn to_json(value: &JsValue) -> String {
    JSON::stringify(value)
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_default()
}

/// The items of a JavaScript array (or array-like, such as a `NodeList`).
pub fn items(array_like: &JsValue) -> Vec<JsValue> {
    if array_like.is_undefined() || array_like.is_null() {
        return Vec::new();
    }
    js_sys::Array::from(array_like).iter().collect()
}

/// A JavaScript function that calls `handler`. Every callback the tracker hands
/// to the browser goes through this one closure type, so the WebAssembly carries
/// one copy of wasm-bindgen's closure glue rather than one per callback.
pub fn callback(handler: impl FnMut(JsValue) + 'static) -> JsValue {
    let handler: Box<dyn FnMut(JsValue)> = Box::new(handler);
    Closure::<dyn FnMut(JsValue)>::new(handler).into_js_value()
}

/// Listens for `kind` events on `target` (the window or the document), passively
/// and in the capture phase, with a function made by [`callback`].
pub fn listen(target: &JsValue, kind: &str, listener: &JsValue) {
    let options = parse_json(r#"{"passive":true,"capture":true}"#).unwrap_or(JsValue::TRUE);
    target
        .unchecked_ref::<Target>()
        .add_event_listener(kind, listener.unchecked_ref(), &options);
}

/// Calls `tick` every `period_ms` for as long as the page lives.
pub fn every(period_ms: i32, tick: impl FnMut(JsValue) + 'static) {
    set_interval(callback(tick).unchecked_ref(), period_ms);
}

/// Sends a request and hands its HTTP status (0 for a network failure) and the
/// response to `done`. POSTs go with `keepalive`, so they outlive the page, and as
/// plain text: a "simple" request needs no CORS preflight, which a page being
/// closed would not wait for.
pub fn fetch(url: &str, body: Option<&str>, done: impl FnOnce(u16, JsValue) + 'static) {
    let init = match body {
        Some(_) => r#"{"method":"POST","keepalive":true,"credentials":"omit"}"#,
        None => r#"{"credentials":"omit"}"#,
    };
    let init = parse_json(init).unwrap_or(JsValue::UNDEFINED);
    if let Some(body) = body {
        set(&init, "body", &JsValue::from_str(body));
    }
    let mut done = Some(done);
    // Called with the response, or with the network error (which has no status).
    let settled = callback(move |response| {
        if let Some(done) = done.take() {
            let status = get_number(&response, "status").unwrap_or(0.0) as u16;
            done(status, response);
        }
    });
    fetch_with(url, &init).then(&settled, &settled);
}

/// Reads a response's body as JSON and hands it to `done`; nothing on failure.
pub fn read_json(response: &JsValue, done: impl FnOnce(JsValue) + 'static) {
    let Ok(read) = get(response, "json").dyn_into::<Function>() else {
        return;
    };
    let Ok(promise) = read.call0(response) else {
        return;
    };
    let mut done = Some(done);
    let parsed = callback(move |value| {
        if let Some(done) = done.take() {
            done(value);
        }
    });
    promise
        .unchecked_into::<Thenable>()
        .then(&parsed, &JsValue::UNDEFINED);
}

impl Element {
    /// The nearest element matching `selector`, this one or an ancestor. An
    /// invalid selector (a typo in the configuration) matches nothing.
    pub fn nearest(&self, selector: &str) -> Option<Element> {
        self.closest(selector).ok().flatten()
    }
}

/// The element an event happened on, if it was an element.
pub fn event_element(event: &JsValue) -> Option<Element> {
    let target = get(event, "target");
    has_method(&target, "closest").then(|| target.unchecked_into())
}

/// The elements of the document matching `selector`.
pub fn select_all(selector: &str) -> Vec<Element> {
    let document = document();
    if !has_method(&document, "querySelectorAll") {
        return Vec::new();
    }
    let found = document
        .unchecked_ref::<Element>()
        .query_selector_all(selector);
    items(&found)
        .into_iter()
        .map(JsCast::unchecked_into)
        .collect()
}

fn has_method(value: &JsValue, name: &str) -> bool {
    get(value, name).is_function()
}

/// The page's address.
pub fn current_url() -> String {
    get_string(&get(&window(), "location"), "href")
}

pub fn is_visible() -> bool {
    get_string(&document(), "visibilityState") != "hidden"
}

/// Whether the browser says it is offline.
pub fn is_offline() -> bool {
    get(&get(&window(), "navigator"), "onLine") == JsValue::FALSE
}

/// Whether the browser is driven by automation (WebDriver sets
/// `navigator.webdriver`): such visits are bots to the collector.
pub fn is_automated() -> bool {
    get(&get(&window(), "navigator"), "webdriver") == JsValue::TRUE
}

/// Whether the visitor asks not to be tracked: Do Not Track or Global Privacy
/// Control.
pub fn asks_not_to_be_tracked() -> bool {
    let window = window();
    let navigator = get(&window, "navigator");
    let do_not_track = |value: JsValue| value.as_string().is_some_and(|flag| flag == "1");
    do_not_track(get(&navigator, "doNotTrack"))
        || do_not_track(get(&window, "doNotTrack"))
        || get(&navigator, "globalPrivacyControl") == JsValue::TRUE
}

/// The deepest point of the page in view, in percent of its height.
pub fn scroll_depth() -> u8 {
    let window = window();
    let viewport = get_number(&window, "innerHeight").unwrap_or(0.0);
    let scrolled = get_number(&window, "scrollY").unwrap_or(0.0);
    let height = get_number(
        &get_path(&window, &["document", "documentElement"]),
        "scrollHeight",
    )
    .unwrap_or(0.0);
    if height <= viewport || height <= 0.0 {
        return 100;
    }
    (((scrolled + viewport) / height) * 100.0).clamp(0.0, 100.0) as u8
}
