//! The site's configuration, as the collector serves it to browsers
//! (`GET /api/v1/sites/{site}/config`): the behaviours worth points, the forms and
//! how they are shown, and the site's privacy settings. Read from the parsed JSON
//! field by field, so that the tracker needs no JSON library of its own; a field
//! that is missing or of the wrong type reads as its default.

use alloc::string::String;
use alloc::vec::Vec;

use headwater_core::profile::EngagementThreshold;
use headwater_core::{Behaviour, Trigger};
use wasm_bindgen::JsValue;

use crate::browser::{get, get_number, get_string, items, to_json};

/// What the tracker needs of the site's configuration.
pub struct SiteConfig {
    pub behaviours: Vec<Behaviour>,
    pub forms: Vec<FormConfig>,
    pub consent: Consent,
    /// Honour Do Not Track and Global Privacy Control (the default).
    pub respect_do_not_track: bool,
    /// The site routes by the fragment (`#/pricing`): a new fragment is a new page.
    pub hash_routing: bool,
}

/// What the site asks of the tracker before it may keep anything in the browser.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Nothing: the tracker keeps its ids in the browser from the first page.
    NotNeeded,
    /// No storage and no id until the site calls `headwater('consent', true)`.
    Required,
    /// Never any storage: the collector stands a daily-rotating hash in for the
    /// visitor's id.
    Cookieless,
}

/// A form of the site, as the tracker needs to know it.
pub struct FormConfig {
    pub id: String,
    /// The form's whole definition as JSON, passed on to the form bundle.
    pub json: String,
    /// `None` for a form rendered inline where a page marks it.
    pub overlay: Option<OverlayTrigger>,
}

/// What opens a form as an overlay.
pub enum OverlayTrigger {
    /// A click on an element matching this CSS selector (or inside one).
    Click(String),
    /// The browser's engagement profile reaching a threshold.
    Engagement(EngagementThreshold),
    /// The pointer leaving the page towards the browser's tabs and address bar.
    ExitIntent,
}

impl SiteConfig {
    pub fn read(config: &JsValue) -> SiteConfig {
        let privacy = get(config, "privacy");
        let consent = match get_string(&privacy, "consent").as_str() {
            "required" => Consent::Required,
            "cookieless" => Consent::Cookieless,
            _ => Consent::NotNeeded,
        };
        SiteConfig {
            behaviours: items(&get(config, "behaviours"))
                .iter()
                .filter_map(read_behaviour)
                .collect(),
            forms: items(&get(config, "forms")).iter().map(read_form).collect(),
            consent,
            respect_do_not_track: get(&privacy, "respect_do_not_track") != JsValue::FALSE,
            hash_routing: get(config, "hash_routing") == JsValue::TRUE,
        }
    }

    pub fn form(&self, id: &str) -> Option<&FormConfig> {
        self.forms.iter().find(|form| form.id == id)
    }
}

fn read_behaviour(behaviour: &JsValue) -> Option<Behaviour> {
    let text = |name: &str| get(behaviour, name).as_string();
    let trigger = if let Some(selector) = text("click") {
        Trigger::Click(selector)
    } else if let Some(pattern) = text("page") {
        Trigger::Page(pattern)
    } else if let Some(name) = text("event") {
        Trigger::Event(name)
    } else if let Some(time) = Some(get(behaviour, "time_on_page")).filter(JsValue::is_object) {
        Trigger::TimeOnPage {
            page: get_string(&time, "page"),
            seconds: get_number(&time, "seconds")? as u32,
        }
    } else if let Some(depth) = Some(get(behaviour, "scroll_depth")).filter(JsValue::is_object) {
        Trigger::ScrollDepth {
            page: get_string(&depth, "page"),
            percent: get_number(&depth, "percent")? as u8,
        }
    } else {
        return None;
    };
    Some(Behaviour {
        name: text("name")?,
        trigger,
        points: get_number(behaviour, "points").unwrap_or(0.0) as i64,
        limit: get_number(behaviour, "limit").unwrap_or(1.0) as u32,
    })
}

fn read_form(form: &JsValue) -> FormConfig {
    let display = get(form, "display");
    let trigger = get(&display, "trigger");
    let overlay = (get_string(&display, "mode") == "overlay")
        .then(|| {
            if let Some(selector) = get(&trigger, "click").as_string() {
                Some(OverlayTrigger::Click(selector))
            } else if get(&trigger, "exit_intent") == JsValue::TRUE {
                Some(OverlayTrigger::ExitIntent)
            } else {
                let engagement = get(&trigger, "engagement");
                engagement.is_object().then(|| {
                    OverlayTrigger::Engagement(EngagementThreshold {
                        points: get_number(&engagement, "points").map(|points| points as i64),
                        pages_seen: get_number(&engagement, "pages_seen").map(|pages| pages as u32),
                        engaged_seconds: get_number(&engagement, "engaged_seconds")
                            .map(|seconds| seconds as u64),
                    })
                })
            }
        })
        .flatten();
    FormConfig {
        id: get_string(form, "id"),
        json: to_json(form),
        overlay,
    }
}
