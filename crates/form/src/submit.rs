//! Sending answers to the server's identification endpoint.

use std::collections::BTreeSet;

use headwater_core::{FieldError, Identification};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestInit, RequestMode, Response};

/// What became of a submission.
pub enum Outcome {
    Accepted,
    /// The server refused some answers (its rules may be newer than ours).
    Refused(Vec<FieldError>),
    /// The network or the server failed; the visitor may try again.
    Failed,
}

#[derive(Deserialize)]
struct ErrorReply {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    fields: Vec<FieldError>,
}

/// Posts the identification and waits for the answer.
pub async fn identify(endpoint: &str, identification: &Identification) -> Outcome {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let body = identification
        .serialize(&serializer)
        .ok()
        .and_then(|value| js_sys::JSON::stringify(&value).ok())
        .and_then(|text| text.as_string());
    let Some(body) = body else {
        return Outcome::Failed;
    };
    match post(&format!("{endpoint}/api/v1/identify"), &body).await {
        Ok((status, _)) if (200..300).contains(&status) => Outcome::Accepted,
        Ok((422, text)) => match from_json::<ErrorReply>(&text) {
            Ok(reply) if !reply.error.fields.is_empty() => Outcome::Refused(reply.error.fields),
            _ => Outcome::Failed,
        },
        _ => Outcome::Failed,
    }
}

#[derive(Deserialize)]
struct KnownReply {
    known: BTreeSet<String>,
}

/// The fields the visitor's contact has answered before. Nothing is known when the
/// server cannot be asked: then every question is asked.
pub async fn known_fields(endpoint: &str, site: &str, visitor_id: &str) -> BTreeSet<String> {
    let url = format!("{endpoint}/api/v1/sites/{site}/visitors/{visitor_id}/known");
    match get(&url).await {
        Ok((200, text)) => from_json::<KnownReply>(&text)
            .map(|reply| reply.known)
            .unwrap_or_default(),
        _ => BTreeSet::new(),
    }
}

/// Asks the tracker for a new anonymous visitor (`headwater('reset')`) and returns
/// its id, which the tracker keeps in `localStorage`.
pub fn reset_visitor() -> Option<String> {
    /// Where the tracker keeps the visitor id (`crates/tracker/src/capture.rs`).
    const VISITOR_KEY: &str = "hw.visitor";
    let window = web_sys::window()?;
    let api: js_sys::Function = js_sys::Reflect::get(&window, &JsValue::from_str("headwater"))
        .ok()?
        .dyn_into()
        .ok()?;
    api.call1(&JsValue::NULL, &JsValue::from_str("reset"))
        .ok()?;
    window.local_storage().ok()??.get_item(VISITOR_KEY).ok()?
}

/// A form token: a random id made when the form is shown, so the server can answer
/// a repeated submission with the first one's result.
pub fn new_token() -> String {
    let mut random = [0u8; 16];
    if let Some(crypto) = web_sys::window().and_then(|window| window.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut random);
    }
    headwater_core::wire::new_id(random)
}

/// Whether the browser is driven by automation (`navigator.webdriver`), which the
/// server treats as a bot. web-sys has no binding for the flag.
pub fn is_automated() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    js_sys::Reflect::get(&window.navigator(), &JsValue::from_str("webdriver"))
        .ok()
        .and_then(|flag| flag.as_bool())
        .unwrap_or(false)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ()> {
    let value = js_sys::JSON::parse(text).map_err(|_| ())?;
    serde_wasm_bindgen::from_value(value).map_err(|_| ())
}

async fn get(url: &str) -> Result<(u16, String), JsValue> {
    let init = RequestInit::new();
    init.set_mode(RequestMode::Cors);
    send(url, &init).await
}

async fn post(url: &str, body: &str) -> Result<(u16, String), JsValue> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_mode(RequestMode::Cors);
    init.set_body(&JsValue::from_str(body));
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    init.set_headers(&headers);
    send(url, &init).await
}

async fn send(url: &str, init: &RequestInit) -> Result<(u16, String), JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(url, init))
        .await?
        .dyn_into()?;
    let text = JsFuture::from(response.text()?)
        .await?
        .as_string()
        .unwrap_or_default();
    Ok((response.status(), text))
}
