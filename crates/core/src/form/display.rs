//! How a form appears: inline in an element the page marks, or as an overlay the
//! tracker opens when a trigger fires. This is the contract between the tracker
//! (which reads the JSON shapes below from the site configuration and decides when
//! to open an overlay) and the form (which renders it).
//!
//! ```json
//! "display": {"mode": "inline"}
//! "display": {"mode": "overlay", "trigger": {"click": "[data-action=contact-sales]"}}
//! "display": {"mode": "overlay", "trigger": {"engagement": {"points": 30, "pages_seen": 3}}}
//! "display": {"mode": "overlay", "trigger": {"exit_intent": true}}
//! ```

use serde::{Deserialize, Serialize};

use crate::profile::EngagementProfile;
pub use crate::profile::EngagementThreshold;

/// Where and when a form is shown. Absent means inline.
///
/// A struct rather than an enum tagged by `mode`: the form bundle parses this,
/// and serde's internally tagged enums cost a browser bundle kilobytes of code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormDisplay {
    pub mode: DisplayMode,
    /// What opens an overlay; an inline form has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<FormTrigger>,
}

/// Inline or overlay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisplayMode {
    /// Rendered into every `<div data-headwater-form="FORM_ID">` of a page.
    #[default]
    Inline,
    /// A dialog over the page, opened by the tracker when the trigger fires, at
    /// most once a visit and never again once dismissed.
    Overlay,
}

/// What opens an overlay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormTrigger {
    /// A click on an element matching this CSS selector.
    Click(String),
    /// The visitor's engagement profile, computed in the browser, reaching every
    /// threshold given.
    Engagement(EngagementThreshold),
    /// The pointer leaving the page towards the browser's tabs and address bar (on
    /// desktop). Always `true` when configured.
    ExitIntent(bool),
}

impl FormDisplay {
    /// An overlay opened by `trigger`.
    pub fn overlay(trigger: FormTrigger) -> FormDisplay {
        FormDisplay {
            mode: DisplayMode::Overlay,
            trigger: Some(trigger),
        }
    }
}

impl FormTrigger {
    /// Whether the profile fires an engagement trigger: every threshold given is
    /// reached. A threshold with nothing given never fires (the configuration
    /// refuses one), and neither do click and exit-intent triggers, which are
    /// events rather than states of the profile.
    pub fn is_met_by(&self, profile: &EngagementProfile) -> bool {
        match self {
            FormTrigger::Engagement(threshold) => threshold.is_met_by(profile),
            FormTrigger::Click(_) | FormTrigger::ExitIntent(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::BehaviourTally;

    fn profile(points: i64, pages_seen: u32, engaged_seconds: u64) -> EngagementProfile {
        let mut profile = EngagementProfile {
            pages_seen,
            engaged_ms: engaged_seconds * 1000 + 999,
            ..Default::default()
        };
        profile.behaviours.insert(
            "pricing_viewed".into(),
            BehaviourTally {
                count: 1,
                points,
                occurrences: vec![0],
            },
        );
        profile
    }

    fn engagement(
        points: Option<i64>,
        pages_seen: Option<u32>,
        engaged_seconds: Option<u64>,
    ) -> FormTrigger {
        FormTrigger::Engagement(EngagementThreshold {
            points,
            pages_seen,
            engaged_seconds,
        })
    }

    #[test]
    fn engagement_triggers_fire_when_every_threshold_given_is_reached() {
        let all = engagement(Some(30), Some(3), Some(60));
        let cases = [
            (&all, profile(30, 3, 60), true),
            (&all, profile(45, 9, 600), true),
            (&all, profile(29, 3, 60), false),
            (&all, profile(30, 2, 60), false),
            (&all, profile(30, 3, 59), false),
            (&engagement(Some(30), None, None), profile(30, 0, 0), true),
            (&engagement(None, Some(3), None), profile(-50, 3, 0), true),
            (&engagement(None, None, Some(60)), profile(0, 1, 60), true),
            (&engagement(None, None, Some(60)), profile(0, 1, 59), false),
            (&engagement(None, None, None), profile(100, 100, 100), false),
            (
                &FormTrigger::Click("#x".into()),
                profile(100, 100, 100),
                false,
            ),
            (
                &FormTrigger::ExitIntent(true),
                profile(100, 100, 100),
                false,
            ),
        ];
        for (trigger, profile, expected) in cases {
            assert_eq!(
                trigger.is_met_by(&profile),
                expected,
                "{trigger:?} {profile:?}"
            );
        }
    }

    #[test]
    fn the_json_the_tracker_reads() {
        let check = |display: FormDisplay, json: &str| {
            assert_eq!(serde_json::to_string(&display).unwrap(), json);
            assert_eq!(serde_json::from_str::<FormDisplay>(json).unwrap(), display);
        };
        check(FormDisplay::default(), r#"{"mode":"inline"}"#);
        check(
            FormDisplay::overlay(FormTrigger::Click("[data-action=contact-sales]".into())),
            r#"{"mode":"overlay","trigger":{"click":"[data-action=contact-sales]"}}"#,
        );
        check(
            FormDisplay::overlay(engagement(Some(30), Some(3), Some(60))),
            concat!(
                r#"{"mode":"overlay","trigger":{"engagement":"#,
                r#"{"points":30,"pages_seen":3,"engaged_seconds":60}}}"#
            ),
        );
        check(
            FormDisplay::overlay(engagement(None, Some(3), None)),
            r#"{"mode":"overlay","trigger":{"engagement":{"pages_seen":3}}}"#,
        );
        check(
            FormDisplay::overlay(FormTrigger::ExitIntent(true)),
            r#"{"mode":"overlay","trigger":{"exit_intent":true}}"#,
        );
    }

    #[test]
    fn the_toml_marketers_write() {
        #[derive(Deserialize)]
        struct Holder {
            display: FormDisplay,
        }
        let cases = [
            (r#"display = { mode = "inline" }"#, FormDisplay::default()),
            (
                r##"display = { mode = "overlay", trigger = { click = "#sales" } }"##,
                FormDisplay::overlay(FormTrigger::Click("#sales".into())),
            ),
            (
                r#"display = { mode = "overlay", trigger = { engagement = { points = 30 } } }"#,
                FormDisplay::overlay(engagement(Some(30), None, None)),
            ),
            (
                r#"display = { mode = "overlay", trigger = { exit_intent = true } }"#,
                FormDisplay::overlay(FormTrigger::ExitIntent(true)),
            ),
        ];
        for (text, expected) in cases {
            let holder: Holder = toml::from_str(text).unwrap();
            assert_eq!(holder.display, expected, "{text}");
        }
        let typo = r#"display = { mode = "popup" }"#;
        assert!(
            toml::from_str::<Holder>(typo).is_err(),
            "unknown modes are refused"
        );
    }
}
