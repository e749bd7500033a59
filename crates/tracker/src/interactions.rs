//! What visitors do with the page's elements: clicks on configured behaviours,
//! links that leave the site or fetch a file, and the site's own forms (started,
//! submitted, abandoned: never a value typed, nothing about password fields; the
//! glue hands over only a form's name).

use alloc::string::String;
use alloc::vec::Vec;

use headwater_core::navigation::{LinkKind, classify_link};
use headwater_core::wire::{MAX_NAME_LENGTH, MAX_URL_LENGTH, clip_bytes, clipped_printable};
use headwater_core::{EventDetail, Trigger};

use crate::browser;
use crate::config::OverlayTrigger;
use crate::forms;
use crate::tracker::{Shared, record};

/// Whether a form of the site opens on exit intent, which is then worth watching.
pub fn wants_exit_intent(shared: &Shared) -> bool {
    shared.borrow().config.as_ref().is_some_and(|config| {
        config
            .forms
            .iter()
            .any(|form| matches!(form.overlay, Some(OverlayTrigger::ExitIntent)))
    })
}

/// A click on the page: a link followed, configured behaviours, overlays.
pub fn on_click(shared: &Shared) {
    shared.borrow_mut().page.mark_activity();

    let link = browser::clicked_link().and_then(|href| {
        let page = shared.borrow().page.url.clone();
        let target = String::from(clip_bytes(&href, MAX_URL_LENGTH));
        match classify_link(&page, &href)? {
            LinkKind::Outbound => Some(EventDetail::Outbound { target }),
            LinkKind::Download => Some(EventDetail::Download { target }),
        }
    });
    if let Some(link) = link {
        record(shared, link);
    }

    let mut clicked = Vec::new();
    if let Some(config) = &shared.borrow().config {
        for behaviour in &config.behaviours {
            if let Trigger::Click(selector) = &behaviour.trigger
                && browser::target_is_in(selector)
            {
                clicked.push(behaviour.name.clone());
            }
        }
    }
    for behaviour in clicked {
        record(shared, EventDetail::Click { behaviour });
    }
    forms::on_click(shared);
}

/// The visitor typed into one of the site's forms (the first input starts it), or
/// submitted it. `name` is the form's id, name, the path it posts to, or `form`.
pub fn on_site_form(shared: &Shared, name: &str, submitted: bool) {
    let form = clipped_printable(name.trim(), MAX_NAME_LENGTH);
    if submitted {
        shared.borrow_mut().page.forms_submitted.push(form.clone());
        record(shared, EventDetail::FormSubmitted { form });
        return;
    }
    let started = {
        let mut tracker = shared.borrow_mut();
        let page = &mut tracker.page;
        let first = !page.forms_started.contains(&form);
        if first {
            page.forms_started.push(form.clone());
        }
        first
    };
    if started {
        record(shared, EventDetail::FormStarted { form });
    }
}

/// The page view ends: every site form started and not submitted was abandoned.
pub fn report_abandoned_forms(shared: &Shared) {
    let mut abandoned = Vec::new();
    {
        let mut tracker = shared.borrow_mut();
        let page = &mut tracker.page;
        for name in core::mem::take(&mut page.forms_started) {
            if !page.forms_submitted.contains(&name) {
                abandoned.push(name);
            }
        }
    }
    for form in abandoned {
        record(shared, EventDetail::FormAbandoned { form });
    }
}
