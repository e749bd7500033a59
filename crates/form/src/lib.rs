//! Headwater's identification form: a leptos component rendered from the site's
//! configuration, inline into an element the page marks with
//! `data-headwater-form`, or as an overlay dialog when a trigger fires.
//!
//! The tracker loads this bundle only when a page needs a form, then calls
//! [`mount`]. Answers are checked in the browser with the same rules the server
//! applies (`headwater_core::form`), then sent to `/api/v1/identify`.
//!
//! - `identification`: the form itself: questions, validation, sending, thanks.
//! - `fields`: the control of each field kind, with its label, hint and error.
//! - `overlay`: the modal dialog around the form, its focus and its dismissal.
//! - `submit`: the calls to the server.
//! - `page`: what the form needs of the page and the browser.

mod fields;
mod identification;
mod overlay;
mod page;
mod submit;

use std::cell::Cell;

use wasm_bindgen::prelude::*;

pub use identification::{FormOptions, IdentificationForm};
pub use overlay::Overlay;

/// Styles the form carries so it looks right on any page; written with low
/// specificity so that a site's own CSS wins.
const STYLE: &str = include_str!("form.css");

/// Renders the form described by `options` (JSON of [`FormOptions`]) into
/// `element`, or, when `element` is `null` or `undefined`, as an overlay dialog
/// over the page.
#[wasm_bindgen]
pub fn mount(element: Option<web_sys::HtmlElement>, options: String) {
    let parsed = js_sys::JSON::parse(&options).map_err(|_| "not JSON".to_owned());
    let options: Result<FormOptions, String> = parsed
        .and_then(|value| serde_wasm_bindgen::from_value(value).map_err(|error| error.to_string()));
    let options: FormOptions = match options {
        Ok(options) => options,
        Err(error) => {
            web_sys::console::warn_1(&format!("headwater: bad form options: {error}").into());
            return;
        }
    };
    add_style_once();
    let prefix = next_prefix(&options.form.id);
    match element {
        Some(element) => leptos::mount::mount_to(element, move || {
            leptos::view! { <IdentificationForm options prefix /> }
        })
        .forget(),
        None => overlay::open(options, prefix),
    }
}

/// A prefix for the ids of one mounted form's elements, unique on the page even
/// when the same form is shown twice.
fn next_prefix(form_id: &str) -> String {
    thread_local! {
        static MOUNTED: Cell<u32> = const { Cell::new(0) };
    }
    let number = MOUNTED.with(|mounted| {
        mounted.set(mounted.get() + 1);
        mounted.get()
    });
    format!("hw{number}-{form_id}")
}

fn add_style_once() {
    let Some(document) = page::document() else {
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
