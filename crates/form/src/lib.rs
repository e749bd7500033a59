//! Headwater's identification form: a leptos component rendered from the site's
//! configuration into an element the page marks with `data-headwater-form`.
//!
//! The tracker loads this bundle only when a page needs a form, then calls
//! [`mount`]. Answers are checked in the browser with the same rules the server
//! applies (`headwater_core::form`), then sent to `/api/v1/identify`.

mod identification;
mod submit;

use wasm_bindgen::prelude::*;

pub use identification::{FormOptions, IdentificationForm};

/// Styles the form carries so it looks right on any page; written with low
/// specificity so that a site's own CSS wins.
const STYLE: &str = include_str!("form.css");

/// Renders the form described by `options` (JSON of [`FormOptions`]) into `element`.
#[wasm_bindgen]
pub fn mount(element: web_sys::HtmlElement, options: String) {
    let options: FormOptions = match serde_json::from_str(&options) {
        Ok(options) => options,
        Err(error) => {
            web_sys::console::warn_1(&format!("headwater: bad form options: {error}").into());
            return;
        }
    };
    add_style_once();
    leptos::mount::mount_to(
        element,
        move || leptos::view! { <IdentificationForm options /> },
    )
    .forget();
}

fn add_style_once() {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    if document.get_element_by_id("headwater-form-style").is_some() {
        return;
    }
    let (Ok(style), Some(head)) = (document.create_element("style"), document.head()) else {
        return;
    };
    style.set_id("headwater-form-style");
    style.set_text_content(Some(STYLE));
    let _ = head.append_child(&style);
}
