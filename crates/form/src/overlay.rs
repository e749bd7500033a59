//! The form as an overlay: a modal `<dialog>` appended to the page, opened by the
//! tracker when a trigger fires. The rest of the page is inert while it is open;
//! the focus moves into it, stays in it (Tab and Shift+Tab wrap around), and goes
//! back where it was when it closes. Escape, the close button and a click on the
//! backdrop dismiss it, and a dismissal is remembered in `localStorage` so that
//! the tracker never opens it again. After sending, it shows the thank-you text and
//! a button to close it.

use headwater_core::form::Language;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlDialogElement, HtmlElement, KeyboardEvent};

use crate::identification::{FormOptions, IdentificationForm, title_id};
use crate::page;

/// What can take the focus inside the dialog, before visibility is checked.
const FOCUSABLE: &str = "a[href], button, input, select, textarea, [tabindex]";

/// Opens the form as an overlay over the page.
pub fn open(options: FormOptions, prefix: String) {
    let Some(document) = page::document() else {
        return;
    };
    let (Some(body), Ok(host)) = (document.body(), document.create_element("div")) else {
        return;
    };
    host.set_class_name("hw-overlay-host");
    if body.append_child(&host).is_err() {
        return;
    }
    let Ok(host) = host.dyn_into::<HtmlElement>() else {
        return;
    };
    let previous_focus = page::focused();
    let dialog_id = dialog_id(&prefix);

    leptos::mount::mount_to(host, move || {
        view! { <Overlay options prefix previous_focus /> }
    })
    .forget();
    let dialog = page::element_by_id(&dialog_id)
        .and_then(|element| element.dyn_into::<HtmlDialogElement>().ok());
    if let Some(dialog) = dialog {
        let _ = dialog.show_modal();
        // The dialog itself holds the focus (its title is read out) until the
        // questions appear; then the first one takes it.
        let _ = dialog.focus();
    }
}

/// The identification form in a modal dialog.
#[component]
pub fn Overlay(
    /// The form's definition and where to send it.
    options: FormOptions,
    /// Prefixes the ids of the dialog's elements; unique for each mounted form.
    prefix: String,
    /// The element focused before the overlay opened: it gets the focus back.
    previous_focus: Option<HtmlElement>,
) -> impl IntoView {
    let language: Language = options.language();
    let wording = language.wording();
    let form_id = options.form.id.clone();
    let dialog_id = dialog_id(&prefix);
    let done_id = format!("{prefix}-done");
    let sent = RwSignal::new(false);
    let closed = StoredValue::new(false);
    let previous_focus = StoredValue::new_local(previous_focus);

    let close = {
        let dialog_id = dialog_id.clone();
        Callback::new(move |()| {
            if closed.get_value() {
                return;
            }
            closed.set_value(true);
            // A visitor who sent the form did not turn it down.
            if !sent.get_untracked() {
                page::remember(&page::dismissed_key(&form_id), "1");
            }
            close_dialog(&dialog_id);
            previous_focus.with_value(|previous| {
                if let Some(previous) = previous.as_ref().filter(|element| element.is_connected()) {
                    let _ = previous.focus();
                }
            });
        })
    };
    let on_sent = {
        let done_id = done_id.clone();
        Callback::new(move |()| {
            sent.set(true);
            let done_id = done_id.clone();
            request_animation_frame(move || page::focus_by_id(&done_id));
        })
    };
    let on_keydown = {
        let dialog_id = dialog_id.clone();
        move |event: KeyboardEvent| match event.key().as_str() {
            // Handled here rather than by the dialog's own cancel, so that the
            // dismissal is remembered and the focus restored the same way.
            "Escape" => {
                event.prevent_default();
                close.run(());
            }
            "Tab" => keep_focus_inside(&event, &dialog_id),
            _ => {}
        }
    };
    let on_click = {
        let dialog_id = dialog_id.clone();
        move |event: leptos::ev::MouseEvent| {
            // The box fills the dialog; a click on the dialog itself is on the backdrop.
            let on_backdrop = event
                .target()
                .and_then(|target| target.dyn_into::<Element>().ok())
                .is_some_and(|element| element.id() == dialog_id);
            if on_backdrop {
                close.run(());
            }
        }
    };

    view! {
        <dialog id=dialog_id class="hw-overlay" role="dialog" aria-modal="true"
            aria-labelledby=title_id(&prefix) lang=language.tag() tabindex="-1"
            on:keydown=on_keydown on:click=on_click on:close=move |_| close.run(())>
            <div class="hw-overlay-box">
                <IdentificationForm
                    options
                    prefix=prefix.clone()
                    on_sent
                    focus_first_question=true
                />
                <button type="button" class="hw-done" id=done_id hidden=move || !sent.get()
                    on:click=move |_| close.run(())>
                    {wording.close}
                </button>
                <button type="button" class="hw-close" aria-label=wording.close
                    on:click=move |_| close.run(())>
                    <span aria-hidden="true">"×"</span>
                </button>
            </div>
        </dialog>
    }
}

fn dialog_id(prefix: &str) -> String {
    format!("{prefix}-dialog")
}

/// Closes the dialog and takes it, with its host, off the page.
fn close_dialog(dialog_id: &str) {
    let Some(dialog) = page::element_by_id(dialog_id) else {
        return;
    };
    if let Ok(dialog) = dialog.clone().dyn_into::<HtmlDialogElement>()
        && dialog.open()
    {
        dialog.close();
    }
    match dialog.parent_element() {
        Some(host) => host.remove(),
        None => dialog.remove(),
    }
}

/// Tab from the last control goes to the first, Shift+Tab from the first (or
/// from the dialog itself) to the last: the focus never leaves an open overlay.
fn keep_focus_inside(event: &KeyboardEvent, dialog_id: &str) {
    let Some(dialog) = page::element_by_id(dialog_id) else {
        return;
    };
    let focusable = focusable_in(&dialog);
    let (Some(first), Some(last)) = (focusable.first(), focusable.last()) else {
        event.prevent_default();
        return;
    };
    let active = page::focused();
    let is = |element: &HtmlElement| active.as_ref() == Some(element);
    let wrap_to = if event.shift_key() && (is(first) || is(&dialog)) {
        Some(last)
    } else if !event.shift_key() && is(last) {
        Some(first)
    } else {
        None
    };
    if let Some(target) = wrap_to {
        event.prevent_default();
        let _ = target.focus();
    }
}

/// The controls Tab reaches in the dialog, in order: enabled, in the tab order,
/// and shown.
fn focusable_in(dialog: &HtmlElement) -> Vec<HtmlElement> {
    let Ok(candidates) = dialog.query_selector_all(FOCUSABLE) else {
        return Vec::new();
    };
    (0..candidates.length())
        .filter_map(|index| candidates.item(index)?.dyn_into::<HtmlElement>().ok())
        .filter(|element| {
            element.tab_index() >= 0
                && !element.has_attribute("disabled")
                && element.get_client_rects().length() > 0
        })
        .collect()
}
