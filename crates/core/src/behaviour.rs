//! Behaviours: the things marketers decide are worth points, configured without code.
//!
//! A click behaviour names a CSS selector; the tracker watches clicks and reports the
//! behaviour's name. A page behaviour names a path pattern that a page view matches.
//! Time-on-page and scroll-depth behaviours are watched by the tracker, which
//! reports the behaviour's name once the page has held the visitor long enough or
//! been read deep enough.

use alloc::string::String;

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
    /// The visitor was engaged on one page matching `page` (a pattern as for
    /// [`Trigger::Page`]) for `seconds`, within one page view.
    TimeOnPage { page: String, seconds: u32 },
    /// The visitor scrolled one page matching `page` to `percent` of its height.
    ScrollDepth { page: String, percent: u8 },
}

fn default_limit() -> u32 {
    1
}

impl Behaviour {
    /// Whether this event is an occurrence of this behaviour.
    pub fn matches(&self, event: &Event) -> bool {
        match (&self.trigger, &event.detail) {
            (Trigger::Click(_), EventDetail::Click { behaviour }) => *behaviour == self.name,
            (Trigger::Page(pattern), EventDetail::PageView { .. }) => {
                path_matches(pattern, url_path(&event.url))
            }
            (Trigger::Event(name), EventDetail::Custom { name: happened, .. }) => name == happened,
            (
                Trigger::TimeOnPage { .. } | Trigger::ScrollDepth { .. },
                EventDetail::Reached { behaviour },
            ) => *behaviour == self.name,
            _ => false,
        }
    }

    /// Whether a page view of `path` that has held the visitor for `engaged_ms` and
    /// been scrolled to `depth` percent has reached this behaviour. Only
    /// time-on-page and scroll-depth behaviours are ever reached.
    pub fn is_reached_on(&self, path: &str, engaged_ms: u64, depth: u8) -> bool {
        match &self.trigger {
            Trigger::TimeOnPage { page, seconds } => {
                path_matches(page, path) && engaged_ms >= u64::from(*seconds) * 1000
            }
            Trigger::ScrollDepth { page, percent } => path_matches(page, path) && depth >= *percent,
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
    fn time_and_depth_behaviours_are_reached_on_their_pages() {
        let read = |trigger: Trigger| Behaviour {
            name: "read".into(),
            trigger,
            points: 5,
            limit: 1,
        };
        let thirty_seconds = read(Trigger::TimeOnPage {
            page: "/blog/*".into(),
            seconds: 30,
        });
        let deep = read(Trigger::ScrollDepth {
            page: "/pricing".into(),
            percent: 75,
        });
        let cases = [
            (&thirty_seconds, "/blog/launch", 30_000, 0, true),
            (&thirty_seconds, "/blog/launch", 29_999, 100, false),
            (&thirty_seconds, "/pricing", 60_000, 0, false),
            (&deep, "/pricing/", 0, 75, true),
            (&deep, "/pricing", 0, 74, false),
            (&deep, "/blog/x", 0, 100, false),
        ];
        for (behaviour, path, engaged_ms, depth, expected) in cases {
            let reached = behaviour.is_reached_on(path, engaged_ms, depth);
            assert_eq!(reached, expected, "{:?} on {path}", behaviour.trigger);
        }
    }

    #[test]
    fn configured_in_toml() {
        let behaviour: Behaviour =
            toml::from_str("name = \"demo\"\nclick = \"[data-demo]\"\npoints = 20").unwrap();
        assert_eq!(behaviour.trigger, Trigger::Click("[data-demo]".into()));
        assert_eq!(behaviour.limit, 1);

        let time: Behaviour = toml::from_str(
            "name = \"read\"\ntime_on_page = { page = \"/blog/*\", seconds = 30 }\npoints = 5",
        )
        .unwrap();
        assert_eq!(
            time.trigger,
            Trigger::TimeOnPage {
                page: "/blog/*".into(),
                seconds: 30
            }
        );
        let depth: Behaviour = toml::from_str(
            "name = \"deep\"\nscroll_depth = { page = \"/pricing\", percent = 75 }\npoints = 5",
        )
        .unwrap();
        assert_eq!(
            depth.trigger,
            Trigger::ScrollDepth {
                page: "/pricing".into(),
                percent: 75
            }
        );
    }
}
