//! The site's configuration, as the collector serves it to browsers
//! (`GET /api/v1/sites/{site}/config`): the behaviours worth points, the forms and
//! how they are shown, and the site's privacy settings. The glue walks the JSON
//! and hands it over piece by piece (see [`crate::exports`]), so that the tracker
//! needs no JSON parser; a field that is missing or of the wrong type reads as its
//! default. A setting that is one of a few names crosses as its place in the
//! glue's list of them: a number costs less than a text and its comparisons.

use alloc::string::String;
use alloc::vec::Vec;

use headwater_core::profile::EngagementThreshold;
use headwater_core::{Behaviour, Trigger};

/// What the tracker needs of the site's configuration.
#[derive(Default)]
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
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub enum Consent {
    /// Nothing: the tracker keeps its ids in the browser from the first page.
    #[default]
    NotNeeded,
    /// No storage and no id until the site calls `headwater('consent', true)`.
    Required,
    /// Never any storage: the collector stands a daily-rotating hash in for the
    /// visitor's id.
    Cookieless,
}

/// A form of the site, as the tracker needs to know it (the glue keeps the whole
/// definition for the form bundle).
pub struct FormConfig {
    pub id: String,
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
    pub fn form(&self, id: &str) -> Option<&FormConfig> {
        self.forms.iter().find(|form| form.id == id)
    }
}

impl Consent {
    /// The site's `privacy.consent` setting: 1 for `required`, 2 for
    /// `cookieless`, anything else for none needed.
    pub fn numbered(number: u32) -> Consent {
        match number {
            1 => Consent::Required,
            2 => Consent::Cookieless,
            _ => Consent::NotNeeded,
        }
    }
}

/// A behaviour from its parts: `trigger` is the field that held `text` (0
/// `click`: a selector, 1 `page`: a URL pattern, 2 `event`: an event name,
/// 3 `time_on_page` and 4 `scroll_depth`: the page of a time or depth, whose
/// seconds or percent are `number`). `None` for a behaviour the tracker cannot
/// watch.
pub fn behaviour(
    name: Option<String>,
    trigger: u32,
    text: String,
    number: f64,
    points: f64,
    limit: f64,
) -> Option<Behaviour> {
    let number = given(number);
    let trigger = match trigger {
        0 => Trigger::Click(text),
        1 => Trigger::Page(text),
        2 => Trigger::Event(text),
        3 => Trigger::TimeOnPage {
            page: text,
            seconds: number? as u32,
        },
        4 => Trigger::ScrollDepth {
            page: text,
            percent: number? as u8,
        },
        _ => return None,
    };
    Some(Behaviour {
        name: name?,
        trigger,
        points: points as i64,
        limit: given(limit).map_or(1, |limit| limit as u32),
    })
}

/// A form from its parts: `opens` is how its overlay opens (1: a click on
/// `selector`, 2: exit intent, 3: engagement at the threshold), or 0 for a form
/// rendered inline.
pub fn form(id: String, opens: u32, selector: Option<String>, threshold: [f64; 3]) -> FormConfig {
    let [points, pages_seen, engaged_seconds] = threshold.map(given);
    let overlay = match opens {
        1 => selector.map(OverlayTrigger::Click),
        2 => Some(OverlayTrigger::ExitIntent),
        3 => Some(OverlayTrigger::Engagement(EngagementThreshold {
            points: points.map(|points| points as i64),
            pages_seen: pages_seen.map(|pages| pages as u32),
            engaged_seconds: engaged_seconds.map(|seconds| seconds as u64),
        })),
        _ => None,
    };
    FormConfig { id, overlay }
}

/// A number the configuration gave: the glue passes a missing one as NaN.
fn given(number: f64) -> Option<f64> {
    (!number.is_nan()).then_some(number)
}
