//! Behaviours: the things marketers decide are worth points, configured without code.
//!
//! A click behaviour names a CSS selector; the tracker watches clicks and reports the
//! behaviour's name. A page behaviour names a path pattern that a page view matches.

use serde::{Deserialize, Serialize};

use crate::wire::{Event, EventDetail, url_path};

/// A tracked behaviour and what it is worth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behaviour {
    /// A stable name: it is what events carry and what explanations show.
    pub name: String,
    #[serde(flatten)]
    pub trigger: Trigger,
    /// Points per occurrence; negative for behaviours that count against a lead.
    pub points: i64,
    /// How many occurrences earn points at most (a visitor reloading the pricing
    /// page ten times is not ten times as interested).
    #[serde(default = "default_limit")]
    pub limit: u32,
}

/// What makes a behaviour happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A click on an element matching this CSS selector (or inside one).
    Click(String),
    /// A page view whose path matches this pattern: an exact path, or a prefix
    /// followed by `*`.
    Page(String),
    /// The site called `headwater('track', name)` with this name.
    Event(String),
}

fn default_limit() -> u32 {
    1
}

impl Behaviour {
    /// Whether this event is an occurrence of this behaviour.
    pub fn matches(&self, event: &Event) -> bool {
        match (&self.trigger, &event.detail) {
            (Trigger::Click(_), EventDetail::Click { behaviour }) => *behaviour == self.name,
            (Trigger::Page(pattern), EventDetail::PageView) => {
                path_matches(pattern, url_path(&event.url))
            }
            (Trigger::Event(name), EventDetail::Custom { name: happened }) => name == happened,
            _ => false,
        }
    }
}

/// `pattern` is an exact path or a prefix ending in `*`; a trailing slash on either
/// side is ignored so that `/pricing` and `/pricing/` are the same page.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern.trim_end_matches('/') == path.trim_end_matches('/'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns() {
        let cases = [
            ("/pricing", "/pricing", true),
            ("/pricing", "/pricing/", true),
            ("/pricing", "/pricing/enterprise", false),
            ("/blog/*", "/blog/launch", true),
            ("/blog/*", "/blogroll", false),
            ("/", "/", true),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(path_matches(pattern, path), expected, "{pattern} ~ {path}");
        }
    }

    #[test]
    fn configured_in_toml() {
        let behaviour: Behaviour =
            toml::from_str("name = \"demo\"\nclick = \"[data-demo]\"\npoints = 20").unwrap();
        assert_eq!(behaviour.trigger, Trigger::Click("[data-demo]".into()));
        assert_eq!(behaviour.limit, 1);
    }
}
