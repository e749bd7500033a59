//! The wire types: what the tracker sends to the collector and what the form sends
//! to identify a visitor, with the limits both sides enforce.
//!
//! Times are milliseconds since the Unix epoch as the browser's clock saw them; the
//! server corrects them for clock skew using [`EventBatch::sent_at`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::profile::EngagementProfile;

/// More events than this in one batch is refused: the tracker flushes long before.
pub const MAX_EVENTS_PER_BATCH: usize = 100;
/// URLs and referrers longer than this are refused rather than truncated.
pub const MAX_URL_LENGTH: usize = 2048;
/// Ids are UUIDs; anything longer is not one of ours.
pub const MAX_ID_LENGTH: usize = 64;
/// Site ids, behaviour names and form ids are short, configured names.
pub const MAX_NAME_LENGTH: usize = 100;
/// An event may have waited this long in an offline queue before it reached us.
pub const MAX_EVENT_AGE_MS: i64 = 30 * 24 * 3600 * 1000;
/// Browser clocks drift; an event from further in the future than this is bogus.
pub const MAX_CLOCK_AHEAD_MS: i64 = 3600 * 1000;

/// A batch of events from one visitor's browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBatch {
    pub site: String,
    pub visitor_id: String,
    /// When the browser sent the batch, by its own clock.
    pub sent_at: i64,
    pub events: Vec<Event>,
    /// The profile as the browser computed it. Informational: the server recomputes
    /// the profile from stored events and never scores on what a browser claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<EngagementProfile>,
    /// The browser says it is driven by automation (`navigator.webdriver`): a bot.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub automation: bool,
}

/// One tracked event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// A UUID made in the browser; the server stores each id once, so retries are safe.
    pub id: String,
    pub session_id: String,
    /// When it happened, by the browser's clock.
    pub at: i64,
    pub url: String,
    #[serde(default)]
    pub referrer: String,
    #[serde(flatten)]
    pub detail: EventDetail,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventDetail {
    /// A page was shown.
    PageView,
    /// Time spent and depth reached on the page since the last engagement event.
    Engagement {
        /// Visible and active time since the previous engagement event of this page.
        engaged_ms: u64,
        /// The deepest point of the page seen so far, in percent.
        scroll_depth: u8,
    },
    /// An element matching a configured behaviour's selector was clicked.
    Click { behaviour: String },
    /// The site called `headwater('track', name)`.
    Custom { name: String },
}

impl EventDetail {
    /// The name stored in the `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            EventDetail::PageView => "page_view",
            EventDetail::Engagement { .. } => "engagement",
            EventDetail::Click { .. } => "click",
            EventDetail::Custom { .. } => "custom",
        }
    }
}

/// A visitor identifying itself through a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identification {
    pub site: String,
    pub visitor_id: String,
    /// The id of the form in the site's configuration.
    pub form: String,
    /// A UUID made when the form was rendered: a second submission with the same
    /// token is answered with the first one's result.
    pub token: String,
    pub answers: BTreeMap<String, String>,
    /// The browser says it is driven by automation (`navigator.webdriver`): a bot.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub automation: bool,
    /// The honeypot: a field hidden from people, so whatever is in it was typed by
    /// a program.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trap: String,
    /// Milliseconds from showing the form to sending it, as the browser measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_ms: Option<u64>,
}

/// Why a submission from a browser is taken for spam.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spam {
    /// The hidden honeypot field was filled in.
    Honeypot,
    /// The form was sent sooner after it was shown than a person can fill it in,
    /// or without saying when it was shown.
    TooFast,
}

impl Spam {
    pub fn as_str(self) -> &'static str {
        match self {
            Spam::Honeypot => "honeypot",
            Spam::TooFast => "too_fast",
        }
    }
}

/// Why a batch or an identification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the batch holds no events")]
    EmptyBatch,
    #[error("the batch holds {0} events; at most {MAX_EVENTS_PER_BATCH} are accepted")]
    TooManyEvents(usize),
    #[error("`{field}` must be a UUID")]
    NotAnId { field: &'static str },
    #[error("`{field}` is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("`{field}` must be an absolute http(s) URL")]
    NotAUrl { field: &'static str },
    #[error("`{field}` holds a control character")]
    ControlCharacter { field: &'static str },
    #[error("event {id} happened at {at}, outside the accepted window")]
    OutOfWindow { id: String, at: i64 },
    #[error("event id {0} appears twice in the batch")]
    DuplicateId(String),
}

impl EventBatch {
    /// Checks the batch against the limits above. `now` is the receiver's clock.
    pub fn validate(&self, now: i64) -> Result<(), WireError> {
        check_name("site", &self.site)?;
        check_id("visitor_id", &self.visitor_id)?;
        if self.events.is_empty() {
            return Err(WireError::EmptyBatch);
        }
        if self.events.len() > MAX_EVENTS_PER_BATCH {
            return Err(WireError::TooManyEvents(self.events.len()));
        }

        let mut seen = std::collections::BTreeSet::new();
        for event in &self.events {
            event.validate()?;
            let corrected = self.corrected_time(event.at, now);
            if corrected < now - MAX_EVENT_AGE_MS || corrected > now + MAX_CLOCK_AHEAD_MS {
                return Err(WireError::OutOfWindow {
                    id: event.id.clone(),
                    at: event.at,
                });
            }
            if !seen.insert(event.id.as_str()) {
                return Err(WireError::DuplicateId(event.id.clone()));
            }
        }
        Ok(())
    }

    /// An event's time moved by the difference between the receiver's and the
    /// browser's clocks at sending, so that a browser whose clock is hours off
    /// still files its events at the right moment.
    pub fn corrected_time(&self, at: i64, now: i64) -> i64 {
        let skew = now.saturating_sub(self.sent_at);
        // Transit takes time too; a skew of under a minute is more likely latency
        // than a wrong clock, so it is left alone.
        if skew.abs() < 60_000 {
            at
        } else {
            at.saturating_add(skew)
        }
    }
}

impl Event {
    fn validate(&self) -> Result<(), WireError> {
        check_id("id", &self.id)?;
        check_id("session_id", &self.session_id)?;
        check_url("url", &self.url)?;
        if !self.referrer.is_empty() {
            check_url("referrer", &self.referrer)?;
        }
        match &self.detail {
            EventDetail::Click { behaviour } => check_name("behaviour", behaviour)?,
            EventDetail::Custom { name } => check_name("name", name)?,
            EventDetail::PageView | EventDetail::Engagement { .. } => {}
        }
        Ok(())
    }
}

impl Identification {
    /// Checks the envelope; the answers are checked against the form's definition.
    pub fn validate(&self) -> Result<(), WireError> {
        check_name("site", &self.site)?;
        check_id("visitor_id", &self.visitor_id)?;
        check_name("form", &self.form)?;
        check_id("token", &self.token)
    }

    /// Whether a browser's submission of a form that asks people for at least
    /// `min_fill_ms` is spam.
    pub fn spam(&self, min_fill_ms: u64) -> Option<Spam> {
        if !self.trap.is_empty() {
            return Some(Spam::Honeypot);
        }
        match self.fill_ms {
            Some(fill_ms) if fill_ms >= min_fill_ms => None,
            _ => Some(Spam::TooFast),
        }
    }
}

/// A new random (version 4) UUID from 16 random bytes; the caller brings the
/// randomness, since core does no I/O.
pub fn new_id(random: [u8; 16]) -> String {
    uuid::Builder::from_random_bytes(random)
        .into_uuid()
        .hyphenated()
        .to_string()
}

fn check_id(field: &'static str, value: &str) -> Result<(), WireError> {
    let is_hyphenated_uuid = value.len() == 36 && uuid::Uuid::try_parse(value).is_ok();
    if is_hyphenated_uuid {
        Ok(())
    } else {
        Err(WireError::NotAnId { field })
    }
}

fn check_name(field: &'static str, value: &str) -> Result<(), WireError> {
    if value.chars().count() > MAX_NAME_LENGTH {
        return Err(WireError::TooLong {
            field,
            max: MAX_NAME_LENGTH,
        });
    }
    check_printable(field, value)
}

/// Control characters have no business in names and URLs, and PostgreSQL cannot
/// store NUL in text at all.
fn check_printable(field: &'static str, value: &str) -> Result<(), WireError> {
    if has_control_character(value) {
        Err(WireError::ControlCharacter { field })
    } else {
        Ok(())
    }
}

/// Whether the text holds a control character (Unicode's `Cc`: C0, DEL and C1).
pub fn has_control_character(value: &str) -> bool {
    value.chars().any(char::is_control)
}

fn check_url(field: &'static str, value: &str) -> Result<(), WireError> {
    if value.len() > MAX_URL_LENGTH {
        return Err(WireError::TooLong {
            field,
            max: MAX_URL_LENGTH,
        });
    }
    check_printable(field, value)?;
    let has_host = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if has_host {
        Ok(())
    } else {
        Err(WireError::NotAUrl { field })
    }
}

/// The path of an absolute URL, without query or fragment: `/pricing` for
/// `https://example.com/pricing?plan=pro#faq`. A URL without a path gives `/`.
pub fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path_and_more = after_scheme
        .find('/')
        .map_or("/", |start| &after_scheme[start..]);
    let end = path_and_more
        .find(['?', '#'])
        .unwrap_or(path_and_more.len());
    &path_and_more[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0b5e8a8e-7d3c-4b8e-9c1a-2f6d1e0c9a11";
    const NOW: i64 = 1_800_000_000_000;

    fn event(id: &str, at: i64) -> Event {
        Event {
            id: id.into(),
            session_id: ID.into(),
            at,
            url: "https://acme.test/pricing".into(),
            referrer: String::new(),
            detail: EventDetail::PageView,
        }
    }

    fn batch(events: Vec<Event>) -> EventBatch {
        EventBatch {
            site: "demo".into(),
            visitor_id: ID.into(),
            sent_at: NOW,
            events,
            profile: None,
            automation: false,
        }
    }

    #[test]
    fn event_json_is_flat_with_a_kind_tag() {
        let mut click = event(ID, NOW);
        click.detail = EventDetail::Click {
            behaviour: "request_demo".into(),
        };
        let json = serde_json::to_value(&click).unwrap();
        assert_eq!(json["kind"], "click");
        assert_eq!(json["behaviour"], "request_demo");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, click);
    }

    #[test]
    fn batch_limits() {
        let cases: Vec<(EventBatch, Option<WireError>)> = vec![
            (batch(vec![event(ID, NOW)]), None),
            (batch(vec![]), Some(WireError::EmptyBatch)),
            (
                batch(vec![event("not-a-uuid", NOW)]),
                Some(WireError::NotAnId { field: "id" }),
            ),
            (
                batch(vec![event(ID, NOW + 2 * MAX_CLOCK_AHEAD_MS)]),
                Some(WireError::OutOfWindow {
                    id: ID.into(),
                    at: NOW + 2 * MAX_CLOCK_AHEAD_MS,
                }),
            ),
            (
                batch(vec![event(ID, NOW), event(ID, NOW)]),
                Some(WireError::DuplicateId(ID.into())),
            ),
            (
                batch((0..=MAX_EVENTS_PER_BATCH).map(|_| event(ID, NOW)).collect()),
                Some(WireError::TooManyEvents(MAX_EVENTS_PER_BATCH + 1)),
            ),
        ];
        for (batch, expected) in cases {
            assert_eq!(batch.validate(NOW).err(), expected);
        }
    }

    #[test]
    fn spam_is_a_filled_honeypot_or_a_form_sent_too_fast() {
        let check = |trap: &str, fill_ms: Option<u64>, expected: Option<Spam>| {
            let identification = Identification {
                site: "demo".into(),
                visitor_id: ID.into(),
                form: "demo".into(),
                token: ID.into(),
                answers: BTreeMap::new(),
                automation: false,
                trap: trap.into(),
                fill_ms,
            };
            assert_eq!(identification.spam(2_000), expected, "{trap:?} {fill_ms:?}");
        };
        check("", Some(2_000), None);
        check("", Some(45_000), None);
        check("", Some(1_999), Some(Spam::TooFast));
        check("", None, Some(Spam::TooFast));
        check("https://spam.example", Some(9_000), Some(Spam::Honeypot));
        check(" ", None, Some(Spam::Honeypot));
    }

    #[test]
    fn control_characters_are_refused_in_urls_and_names() {
        let with = |change: fn(&mut Event)| {
            let mut event = event(ID, NOW);
            change(&mut event);
            batch(vec![event]).validate(NOW).err()
        };
        let control = |field| Some(WireError::ControlCharacter { field });
        assert_eq!(with(|event| event.url.push('\0')), control("url"));
        assert_eq!(
            with(|event| event.referrer = "https://a.test/\u{1b}".into()),
            control("referrer")
        );
        assert_eq!(
            with(|event| event.detail = EventDetail::Custom {
                name: "x\u{85}".into()
            }),
            control("name")
        );
        assert_eq!(with(|event| event.url.push_str("?q=пример")), None);
    }

    #[test]
    fn urls_must_be_absolute_http() {
        let mut relative = event(ID, NOW);
        relative.url = "/pricing".into();
        assert_eq!(
            batch(vec![relative]).validate(NOW),
            Err(WireError::NotAUrl { field: "url" })
        );
        let mut script = event(ID, NOW);
        script.url = "javascript:alert(1)".into();
        assert_eq!(
            batch(vec![script]).validate(NOW),
            Err(WireError::NotAUrl { field: "url" })
        );
    }

    #[test]
    fn a_wrong_browser_clock_is_corrected_by_the_skew_at_sending() {
        let mut late = batch(vec![event(ID, NOW - 5 * 3600 * 1000)]);
        late.sent_at = NOW - 5 * 3600 * 1000;
        assert_eq!(late.corrected_time(late.events[0].at, NOW), NOW);
        assert_eq!(late.validate(NOW), Ok(()));
    }

    #[test]
    fn new_ids_are_version_4_uuids() {
        let id = new_id([0xab; 16]);
        assert_eq!(id, "abababab-abab-4bab-abab-abababababab");
        assert_eq!(check_id("id", &id), Ok(()));
    }

    #[test]
    fn paths_of_urls() {
        let cases = [
            ("https://acme.test/pricing?plan=pro#faq", "/pricing"),
            ("https://acme.test", "/"),
            ("https://acme.test/#top", "/"),
            ("http://acme.test/www/blog/post.html", "/www/blog/post.html"),
        ];
        for (url, path) in cases {
            assert_eq!(url_path(url), path, "{url}");
        }
    }
}
