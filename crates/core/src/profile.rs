//! The engagement profile: what a visitor did, summed up from its events.
//!
//! The browser keeps one to decide when to show a form; the server rebuilds one from
//! stored events to evaluate the lead definition. Both use [`EngagementProfile::record`],
//! so they agree on every count.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::behaviour::Behaviour;
use crate::names::NameMap;
use crate::wire::{Event, EventDetail};

/// What a visitor did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngagementProfile {
    /// Page views, repeats included.
    pub pages_seen: u32,
    /// Time the page was visible and the visitor active, over all pages.
    pub engaged_ms: u64,
    /// The deepest scroll on any page, in percent.
    pub deepest_scroll: u8,
    /// Configured behaviours that happened, by name.
    pub behaviours: NameMap<BehaviourTally>,
}

/// How often a behaviour happened and the points it earned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BehaviourTally {
    pub count: u32,
    /// Points earned before any decay: the behaviour's points for each counted
    /// occurrence.
    pub points: i64,
    /// When the counted occurrences happened, oldest first: the latest `limit` of
    /// them, so that decay sees the most recent interest.
    #[serde(default)]
    pub occurrences: Vec<i64>,
}

/// A level of engagement to reach, e.g. to open a form: every part given must be
/// reached; a threshold with no part is never reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngagementThreshold {
    /// The behaviours' points together, at least.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages_seen: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engaged_seconds: Option<u64>,
}

impl EngagementThreshold {
    pub fn is_met_by(&self, profile: &EngagementProfile) -> bool {
        let parts = [
            self.points
                .map(|points| profile.behaviour_points() >= points),
            self.pages_seen.map(|pages| profile.pages_seen >= pages),
            self.engaged_seconds
                .map(|seconds| profile.engaged_seconds() >= seconds),
        ];
        parts.iter().any(Option::is_some) && parts.iter().flatten().all(|&reached| reached)
    }
}

impl EngagementProfile {
    /// The profile of these events, in any order.
    pub fn from_events<'a>(
        events: impl IntoIterator<Item = &'a Event>,
        behaviours: &[Behaviour],
    ) -> Self {
        let mut profile = Self::default();
        for event in events {
            profile.record(event, behaviours);
        }
        profile
    }

    /// Adds one event. Recording is commutative, so the order of arrival does not
    /// change the result.
    pub fn record(&mut self, event: &Event, behaviours: &[Behaviour]) {
        match &event.detail {
            EventDetail::PageView { .. } => self.pages_seen = self.pages_seen.saturating_add(1),
            EventDetail::Engagement {
                engaged_ms,
                scroll_depth,
            } => {
                self.engaged_ms = self.engaged_ms.saturating_add(*engaged_ms);
                self.deepest_scroll = self.deepest_scroll.max((*scroll_depth).min(100));
            }
            EventDetail::Scroll { depth } => {
                self.deepest_scroll = self.deepest_scroll.max((*depth).min(100));
            }
            _ => {}
        }

        for behaviour in behaviours
            .iter()
            .filter(|behaviour| behaviour.matches(event))
        {
            let tally = self.behaviours.get_or_default(&behaviour.name);
            tally.count = tally.count.saturating_add(1);
            let position = tally.occurrences.partition_point(|&at| at <= event.at);
            tally.occurrences.insert(position, event.at);
            let limit = usize::try_from(behaviour.limit).unwrap_or(usize::MAX);
            if tally.occurrences.len() > limit {
                tally.occurrences.remove(0);
            }
            let counted = i64::try_from(tally.occurrences.len()).unwrap_or(i64::MAX);
            tally.points = behaviour.points.saturating_mul(counted);
        }
    }

    /// Engaged time in whole seconds.
    pub fn engaged_seconds(&self) -> u64 {
        self.engaged_ms / 1000
    }

    /// The points all behaviours earned together.
    pub fn behaviour_points(&self) -> i64 {
        self.behaviours.values().map(|tally| tally.points).sum()
    }

    /// The profile as the browser keeps it between pages: a first line of the
    /// totals, then a line per behaviour (`count points at,at,... name`), read back
    /// by [`EngagementProfile::from_storage`] with no JSON parser in the tracker.
    pub fn to_storage(&self) -> String {
        let mut text = String::from(STORAGE_VERSION);
        for number in [
            i64::from(self.pages_seen),
            i64::try_from(self.engaged_ms).unwrap_or(i64::MAX),
            i64::from(self.deepest_scroll),
        ] {
            text.push(' ');
            text.push_str(itoa::Buffer::new().format(number));
        }
        for (name, tally) in &self.behaviours {
            text.push('\n');
            text.push_str(itoa::Buffer::new().format(tally.count));
            text.push(' ');
            text.push_str(itoa::Buffer::new().format(tally.points));
            text.push(' ');
            for (index, at) in tally.occurrences.iter().enumerate() {
                if index > 0 {
                    text.push(',');
                }
                text.push_str(itoa::Buffer::new().format(*at));
            }
            text.push(' ');
            text.push_str(name);
        }
        text
    }

    /// Reads what [`EngagementProfile::to_storage`] wrote; `None` for anything
    /// else (an older format, or storage edited by hand).
    pub fn from_storage(text: &str) -> Option<EngagementProfile> {
        let mut lines = text.split('\n');
        let mut totals = lines.next()?.split(' ');
        if totals.next()? != STORAGE_VERSION {
            return None;
        }
        let mut total = || totals.next().and_then(whole_number);
        let mut profile = EngagementProfile {
            pages_seen: u32::try_from(total()?).ok()?,
            engaged_ms: u64::try_from(total()?).ok()?,
            deepest_scroll: u8::try_from(total()?).ok()?.min(100),
            behaviours: NameMap::new(),
        };
        for line in lines {
            let mut parts = line.splitn(4, ' ');
            let count = u32::try_from(whole_number(parts.next()?)?).ok()?;
            let points = whole_number(parts.next()?)?;
            // A loop, not a collected iterator: smaller in the tracker.
            let mut occurrences = Vec::new();
            for at in parts.next()?.split(',').filter(|at| !at.is_empty()) {
                occurrences.push(whole_number(at)?);
            }
            let name = String::from(parts.next()?);
            let tally = BehaviourTally {
                count,
                points,
                occurrences,
            };
            profile.behaviours.insert(name, tally);
        }
        Some(profile)
    }
}

/// The first word of a stored profile: a change of format changes it.
const STORAGE_VERSION: &str = "p1";

/// A whole number, negative or not, in decimal digits: smaller in the browser
/// than `str::parse`.
fn whole_number(digits: &str) -> Option<i64> {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, digits),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let magnitude = digits.bytes().try_fold(0i64, |number, byte| {
        byte.is_ascii_digit()
            .then(|| number * 10 + i64::from(byte - b'0'))
    })?;
    Some(sign * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::Trigger;

    fn behaviours() -> Vec<Behaviour> {
        vec![
            Behaviour {
                name: "pricing".into(),
                trigger: Trigger::Page("/pricing".into()),
                points: 10,
                limit: 1,
            },
            Behaviour {
                name: "demo".into(),
                trigger: Trigger::Click("[data-demo]".into()),
                points: 20,
                limit: 2,
            },
            Behaviour {
                name: "careers".into(),
                trigger: Trigger::Page("/careers*".into()),
                points: -15,
                limit: 1,
            },
        ]
    }

    fn page_view() -> EventDetail {
        EventDetail::PageView {
            title: String::new(),
        }
    }

    fn event(url: &str, detail: EventDetail) -> Event {
        Event {
            id: String::new(),
            session_id: String::new(),
            at: 0,
            url: format!("https://acme.test{url}"),
            referrer: String::new(),
            detail,
        }
    }

    fn check(events: &[Event], expected: (u32, u64, u8, i64)) {
        let profile = EngagementProfile::from_events(events, &behaviours());
        let actual = (
            profile.pages_seen,
            profile.engaged_seconds(),
            profile.deepest_scroll,
            profile.behaviour_points(),
        );
        assert_eq!(actual, expected, "{profile:?}");
    }

    #[test]
    fn storage_keeps_every_count() {
        let mut profile = EngagementProfile {
            pages_seen: 7,
            engaged_ms: 123_456,
            deepest_scroll: 75,
            behaviours: NameMap::new(),
        };
        let tally = |count, points, occurrences: &[i64]| BehaviourTally {
            count,
            points,
            occurrences: occurrences.to_vec(),
        };
        profile.behaviours.insert(
            "watched the demo video".into(),
            tally(3, 40, &[1_700_000_000_000, 1_700_000_100_000]),
        );
        profile
            .behaviours
            .insert("careers".into(), tally(1, -15, &[5]));
        profile
            .behaviours
            .insert("never counted".into(), tally(0, 0, &[]));

        let stored = profile.to_storage();
        assert_eq!(EngagementProfile::from_storage(&stored), Some(profile));
        assert_eq!(
            EngagementProfile::from_storage(&EngagementProfile::default().to_storage()),
            Some(EngagementProfile::default())
        );
    }

    #[test]
    fn storage_of_another_format_reads_as_nothing() {
        for text in [
            "",
            r#"{"pages_seen":3,"engaged_ms":0,"deepest_scroll":0,"behaviours":{}}"#,
            "p1 3 0",
            "p1 3 0 40\nx 0  name",
            "p1 -3 0 40",
            "p2 3 0 40",
        ] {
            assert_eq!(EngagementProfile::from_storage(text), None, "{text:?}");
        }
    }

    #[test]
    fn sums_pages_time_and_depth() {
        let engagement = |ms, depth| EventDetail::Engagement {
            engaged_ms: ms,
            scroll_depth: depth,
        };
        check(
            &[
                event("/", page_view()),
                event("/", engagement(4_500, 40)),
                event("/product", page_view()),
                event("/product", engagement(10_700, 100)),
                event("/product", engagement(1_000, 60)),
            ],
            (2, 16, 100, 0),
        );
    }

    #[test]
    fn behaviour_points_respect_limits_and_can_be_negative() {
        let click = || EventDetail::Click {
            behaviour: "demo".into(),
        };
        check(
            &[
                event("/pricing", page_view()),
                event("/pricing/", page_view()),
                event("/pricing", click()),
                event("/pricing", click()),
                event("/pricing", click()),
                event("/careers/berlin", page_view()),
            ],
            (3, 0, 0, 10 + 40 - 15),
        );
    }

    #[test]
    fn a_click_on_an_unconfigured_behaviour_earns_nothing() {
        check(
            &[event(
                "/",
                EventDetail::Click {
                    behaviour: "forged".into(),
                },
            )],
            (0, 0, 0, 0),
        );
    }

    #[test]
    fn the_latest_occurrences_are_the_ones_kept() {
        let mut events: Vec<Event> = [5, 1, 9, 3]
            .into_iter()
            .map(|at| Event {
                at,
                ..event(
                    "/",
                    EventDetail::Click {
                        behaviour: "demo".into(),
                    },
                )
            })
            .collect();
        let profile = EngagementProfile::from_events(&events, &behaviours());
        assert_eq!(profile.behaviours["demo"].occurrences, [5, 9]);
        assert_eq!(profile.behaviours["demo"].count, 4);
        events.reverse();
        assert_eq!(
            EngagementProfile::from_events(&events, &behaviours()),
            profile
        );
    }

    #[test]
    fn events_recorded_in_any_chunks_give_the_profile_of_all_at_once() {
        let kinds = [
            |_: i64| page_view(),
            |at: i64| EventDetail::Engagement {
                engaged_ms: (at % 7) as u64 * 1000,
                scroll_depth: (at % 101) as u8,
            },
            |_: i64| EventDetail::Click {
                behaviour: "demo".into(),
            },
        ];
        let pages = ["/", "/pricing", "/careers/x", "/product"];
        // A small linear congruential generator: varied but reproducible cases.
        let mut seed: u64 = 42;
        let mut next = move |bound: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % bound
        };
        for _ in 0..200 {
            let events: Vec<Event> = (0..next(30) + 1)
                .map(|_| {
                    let at = next(1_000) as i64;
                    let mut event = event(pages[next(4) as usize], kinds[next(3) as usize](at));
                    event.at = at;
                    event
                })
                .collect();
            let all_at_once = EngagementProfile::from_events(&events, &behaviours());

            let mut incremental = EngagementProfile::default();
            let mut rest = &events[..];
            while !rest.is_empty() {
                let (chunk, after) = rest.split_at((next(5) as usize + 1).min(rest.len()));
                for event in chunk.iter().rev() {
                    incremental.record(event, &behaviours());
                }
                rest = after;
            }
            assert_eq!(incremental, all_at_once);
        }
    }

    #[test]
    fn thresholds_need_every_part_given() {
        let profile = EngagementProfile::from_events(
            &[
                event("/pricing", page_view()),
                event("/", page_view()),
                event(
                    "/",
                    EventDetail::Engagement {
                        engaged_ms: 61_000,
                        scroll_depth: 10,
                    },
                ),
            ],
            &behaviours(),
        );
        let threshold = |points, pages_seen, engaged_seconds| EngagementThreshold {
            points,
            pages_seen,
            engaged_seconds,
        };
        let cases = [
            (threshold(Some(10), None, None), true),
            (threshold(Some(11), None, None), false),
            (threshold(None, Some(2), Some(61)), true),
            (threshold(Some(10), Some(3), None), false),
            (threshold(None, None, Some(62)), false),
            (threshold(None, None, None), false),
        ];
        for (threshold, expected) in cases {
            assert_eq!(threshold.is_met_by(&profile), expected, "{threshold:?}");
        }
    }

    #[test]
    fn order_does_not_matter() {
        let events = [
            event("/pricing", page_view()),
            event(
                "/",
                EventDetail::Click {
                    behaviour: "demo".into(),
                },
            ),
            event(
                "/",
                EventDetail::Engagement {
                    engaged_ms: 3000,
                    scroll_depth: 80,
                },
            ),
        ];
        let forward = EngagementProfile::from_events(&events, &behaviours());
        let backward = EngagementProfile::from_events(events.iter().rev(), &behaviours());
        assert_eq!(forward, backward);
    }
}
