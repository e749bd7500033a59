//! The wire types: what the tracker sends to the collector and what the form sends
//! to identify a visitor, with the limits both sides enforce.
//!
//! Times are milliseconds since the Unix epoch as the browser's clock saw them; the
//! server corrects them for clock skew using [`EventBatch::sent_at`].
//!
//! The tracker builds these shapes as JavaScript objects rather than through serde
//! (to stay small), so the JSON names here are a contract: the end-to-end tests hold
//! both sides to it.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::names::NameMap;
use crate::profile::EngagementProfile;

/// More events than this in one batch is refused: the tracker flushes long before.
pub const MAX_EVENTS_PER_BATCH: usize = 100;
/// URLs and referrers longer than this (in bytes) are refused rather than truncated;
/// the tracker clips what it sends to this length first.
pub const MAX_URL_LENGTH: usize = 2048;
/// Ids are UUIDs; anything longer is not one of ours.
pub const MAX_ID_LENGTH: usize = 64;
/// Site ids, behaviour names, form names and event names are short names.
pub const MAX_NAME_LENGTH: usize = 100;
/// Page titles longer than this (in characters) are clipped by the tracker.
pub const MAX_TITLE_LENGTH: usize = 300;
/// A custom event carries at most this many properties...
pub const MAX_PROPERTIES: usize = 20;
/// ...each value at most this many characters.
pub const MAX_PROPERTY_LENGTH: usize = 200;
/// An event may have waited this long in an offline queue before it reached us.
pub const MAX_EVENT_AGE_MS: i64 = 30 * 24 * 3600 * 1000;
/// Browser clocks drift; an event from further in the future than this is bogus.
pub const MAX_CLOCK_AHEAD_MS: i64 = 3600 * 1000;

/// A batch of events from one visitor's browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBatch {
    pub site: String,
    /// The visitor's id in the browser's storage. Empty when the tracker keeps
    /// nothing in the browser (a cookieless site, or storage refused): the server
    /// then stands in a daily-rotating hash for it.
    #[serde(default)]
    pub visitor_id: String,
    /// When the browser sent the batch, by its own clock.
    pub sent_at: i64,
    pub events: Vec<Event>,
    /// The profile as the browser computed it. Informational: the server recomputes
    /// the profile from stored events and never scores on what a browser claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<EngagementProfile>,
    /// The browser says it is driven by automation (`navigator.webdriver`): a bot.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
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
    /// A page was shown: loaded, restored from the back/forward cache, or reached
    /// by a single-page application's navigation.
    PageView {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        title: String,
    },
    /// Time spent and depth reached on the page since the last engagement event.
    Engagement {
        /// Visible and active time since the previous engagement event of this page.
        engaged_ms: u64,
        /// The deepest point of the page seen so far, in percent.
        scroll_depth: u8,
    },
    /// The page was scrolled past a milestone: 25, 50, 75 or 100 percent.
    Scroll { depth: u8 },
    /// An element matching a configured behaviour's selector was clicked.
    Click { behaviour: String },
    /// A configured time on a page, or scroll depth on a page, was reached.
    Reached { behaviour: String },
    /// A link to another site was followed.
    Outbound { target: String },
    /// A link to a file (by its extension) was followed.
    Download { target: String },
    /// The visitor started filling in one of the site's own forms. Never a value.
    FormStarted { form: String },
    /// One of the site's own forms was submitted.
    FormSubmitted { form: String },
    /// The visitor left a page with a form started and not submitted.
    FormAbandoned { form: String },
    /// The site called `headwater('track', name, properties)`.
    Custom {
        name: String,
        #[serde(default, skip_serializing_if = "NameMap::is_empty")]
        properties: NameMap<String>,
    },
}

impl EventDetail {
    /// The name stored in the `kind` column, and the JSON `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            EventDetail::PageView { .. } => "page_view",
            EventDetail::Engagement { .. } => "engagement",
            EventDetail::Scroll { .. } => "scroll",
            EventDetail::Click { .. } => "click",
            EventDetail::Reached { .. } => "reached",
            EventDetail::Outbound { .. } => "outbound",
            EventDetail::Download { .. } => "download",
            EventDetail::FormStarted { .. } => "form_started",
            EventDetail::FormSubmitted { .. } => "form_submitted",
            EventDetail::FormAbandoned { .. } => "form_abandoned",
            EventDetail::Custom { .. } => "custom",
        }
    }

    /// The behaviour or event name this event reports, if any: what explanations
    /// and handoffs show next to it.
    pub fn name(&self) -> Option<&str> {
        match self {
            EventDetail::Click { behaviour } | EventDetail::Reached { behaviour } => {
                Some(behaviour)
            }
            EventDetail::Custom { name, .. } => Some(name),
            EventDetail::FormStarted { form }
            | EventDetail::FormSubmitted { form }
            | EventDetail::FormAbandoned { form } => Some(form),
            _ => None,
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
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
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
    #[error("`{field}` must be between {min} and {max}")]
    OutOfRange {
        field: &'static str,
        min: u64,
        max: u64,
    },
    #[error("a custom event carries at most {MAX_PROPERTIES} properties")]
    TooManyProperties,
    #[error("event {id} happened at {at}, outside the accepted window")]
    OutOfWindow { id: String, at: i64 },
    #[error("event id {0} appears twice in the batch")]
    DuplicateId(String),
}

impl EventBatch {
    /// Checks the batch against the limits above. `now` is the receiver's clock.
    pub fn validate(&self, now: i64) -> Result<(), WireError> {
        check_name("site", &self.site)?;
        if !self.visitor_id.is_empty() {
            check_id("visitor_id", &self.visitor_id)?;
        }
        if self.events.is_empty() {
            return Err(WireError::EmptyBatch);
        }
        if self.events.len() > MAX_EVENTS_PER_BATCH {
            return Err(WireError::TooManyEvents(self.events.len()));
        }

        let mut seen = BTreeSet::new();
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
            EventDetail::PageView { title } => check_text("title", title, MAX_TITLE_LENGTH),
            EventDetail::Engagement { scroll_depth, .. }
            | EventDetail::Scroll {
                depth: scroll_depth,
            } => check_percent(*scroll_depth),
            EventDetail::Click { behaviour } | EventDetail::Reached { behaviour } => {
                check_name("behaviour", behaviour)
            }
            EventDetail::Outbound { target } | EventDetail::Download { target } => {
                check_url("target", target)
            }
            EventDetail::FormStarted { form }
            | EventDetail::FormSubmitted { form }
            | EventDetail::FormAbandoned { form } => check_name("form", form),
            EventDetail::Custom { name, properties } => {
                check_name("name", name)?;
                if properties.len() > MAX_PROPERTIES {
                    return Err(WireError::TooManyProperties);
                }
                for (key, value) in properties {
                    check_name("properties", key)?;
                    check_text("properties", value, MAX_PROPERTY_LENGTH)?;
                }
                Ok(())
            }
        }
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
/// randomness, since core does no I/O. Written by hand rather than with the uuid
/// crate: the tracker makes every event's id with it, and a loop over the bytes is
/// a fraction of uuid's builder and encoder in its WebAssembly.
pub fn new_id(mut random: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // The version (4, random) and the variant (RFC 4122) take six of the bits.
    random[6] = (random[6] & 0x0f) | 0x40;
    random[8] = (random[8] & 0x3f) | 0x80;
    let mut text = String::with_capacity(36);
    for (index, byte) in random.into_iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    text
}

/// `text` cut to at most `max` characters, for what the tracker must not let
/// grow past a limit (a page title, a form's name).
pub fn clip_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => text.get(..end).unwrap_or(text),
        None => text,
    }
}

/// `text` cut to at most `max` bytes on a character boundary, for URLs.
pub fn clip_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

/// `text` with every control character replaced by a space: what the tracker
/// sends of texts it does not control (titles, form names, custom properties),
/// so that one odd character never costs a whole batch.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect()
}

/// `text` as the tracker sends texts it does not control: `printable`, cut to at
/// most `max` characters as `clip_chars` would, in one pass (one loop costs the
/// tracker's WebAssembly less than the two).
pub fn clipped_printable(text: &str, max: usize) -> String {
    let mut clipped = String::new();
    for character in text.chars().take(max) {
        clipped.push(if character.is_control() {
            ' '
        } else {
            character
        });
    }
    clipped
}

/// Whether `value` is an id as the wire carries them: a hyphenated UUID, its hex
/// digits in either case (what `uuid::Uuid::try_parse` accepts at this length).
pub fn is_id(value: &str) -> bool {
    value.len() == 36
        && value.bytes().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

fn check_id(field: &'static str, value: &str) -> Result<(), WireError> {
    if is_id(value) {
        Ok(())
    } else {
        Err(WireError::NotAnId { field })
    }
}

fn check_name(field: &'static str, value: &str) -> Result<(), WireError> {
    check_text(field, value, MAX_NAME_LENGTH)
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), WireError> {
    if value.chars().count() > max {
        return Err(WireError::TooLong { field, max });
    }
    check_printable(field, value)
}

fn check_percent(value: u8) -> Result<(), WireError> {
    if value <= 100 {
        Ok(())
    } else {
        Err(WireError::OutOfRange {
            field: "scroll_depth",
            min: 0,
            max: 100,
        })
    }
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
    if url_host(value).is_some() {
        Ok(())
    } else {
        Err(WireError::NotAUrl { field })
    }
}

/// The host (with port, lower-cased as browsers give it) of an absolute http(s)
/// URL: `acme.test:8080` for `http://acme.test:8080/pricing`. `None` for anything
/// else, including `javascript:` and relative URLs.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = until_any(rest, b"/?#");
    // Credentials before an `@` are not part of the host.
    let host = match authority.bytes().rposition(|byte| byte == b'@') {
        Some(at) => authority.get(at + 1..)?,
        None => authority,
    };
    (!host.is_empty()).then_some(host)
}

/// The path of an absolute URL, without query or fragment: `/pricing` for
/// `https://example.com/pricing?plan=pro#faq`. A URL without a path gives `/`.
pub fn url_path(url: &str) -> &str {
    let after_scheme = url
        .as_bytes()
        .windows(3)
        .position(|window| window == b"://")
        .and_then(|start| url.get(start + 3..))
        .unwrap_or(url);
    let authority = until_any(after_scheme, b"/?#");
    let path_and_more = after_scheme.get(authority.len()..).unwrap_or("");
    if !path_and_more.starts_with('/') {
        return "/";
    }
    until_any(path_and_more, b"?#")
}

/// `text` up to the first of these ASCII bytes (all of it if none). Scans bytes:
/// an ASCII byte never occurs inside another character in UTF-8.
pub fn until_any<'a>(text: &'a str, stops: &[u8]) -> &'a str {
    let end = text
        .bytes()
        .position(|byte| stops.contains(&byte))
        .unwrap_or(text.len());
    text.get(..end).unwrap_or(text)
}

/// `text` after the first `stop` byte (ASCII), if there is one.
pub fn after_byte(text: &str, stop: u8) -> Option<&str> {
    let start = text.bytes().position(|byte| byte == stop)?;
    text.get(start + 1..)
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
            detail: EventDetail::PageView {
                title: String::new(),
            },
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
                name: "x\u{85}".into(),
                properties: NameMap::new(),
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
        for seed in 0..=255u8 {
            let random: [u8; 16] =
                core::array::from_fn(|index| seed.wrapping_mul(31) ^ index as u8);
            let expected = uuid::Builder::from_random_bytes(random).into_uuid();
            assert_eq!(new_id(random), expected.hyphenated().to_string());
        }
    }

    #[test]
    fn ids_are_what_uuid_parses_at_their_length() {
        let cases = [
            "0b5e8a8e-7d3c-4b8e-9c1a-2f6d1e0c9a11",
            "0B5E8A8E-7D3C-4B8E-9C1A-2F6D1E0C9A11",
            "0b5e8a8e-7d3c-4b8e-9c1a-2f6d1e0c9a1g",
            "0b5e8a8e07d3c-4b8e-9c1a-2f6d1e0c9a11",
            "0b5e8a8e-7d3c-4b8e-9c1a-2f6d1e0c9a1",
            "{0b5e8a8e-7d3c-4b8e-9c1a-2f6d1e0c9a1}",
            "0b5e8a8e7d3c4b8e9c1a2f6d1e0c9a11",
            "0b5e8a8e-7d3c-4b8e-9c1a-2f6d1e0c9a\u{e9}",
            "",
        ];
        for case in cases {
            let parsed = case.len() == 36 && uuid::Uuid::try_parse(case).is_ok();
            assert_eq!(is_id(case), parsed, "{case}");
        }
    }

    #[test]
    fn paths_of_urls() {
        let cases = [
            ("https://acme.test/pricing?plan=pro#faq", "/pricing"),
            ("https://acme.test", "/"),
            ("https://acme.test/#top", "/"),
            ("http://acme.test/www/blog/post.html", "/www/blog/post.html"),
            ("https://acme.test?next=/admin", "/"),
            ("https://acme.test#/route", "/"),
        ];
        for (url, path) in cases {
            assert_eq!(url_path(url), path, "{url}");
        }
    }

    #[test]
    fn hosts_of_urls() {
        let cases = [
            ("https://acme.test/pricing", Some("acme.test")),
            ("http://127.0.0.1:8080/www/", Some("127.0.0.1:8080")),
            ("https://user:secret@acme.test/x", Some("acme.test")),
            ("https://acme.test?q=1", Some("acme.test")),
            ("https:///nothing", None),
            ("javascript:alert(1)", None),
            ("/relative", None),
        ];
        for (url, host) in cases {
            assert_eq!(url_host(url), host, "{url}");
        }
    }

    #[test]
    fn every_kind_is_flat_json_with_its_tag() {
        let properties = NameMap::from([("plan".to_owned(), "pro".to_owned())]);
        let cases = [
            (
                EventDetail::PageView {
                    title: "Pricing".into(),
                },
                r#"{"kind":"page_view","title":"Pricing"}"#,
            ),
            (
                EventDetail::PageView {
                    title: String::new(),
                },
                r#"{"kind":"page_view"}"#,
            ),
            (
                EventDetail::Scroll { depth: 75 },
                r#"{"kind":"scroll","depth":75}"#,
            ),
            (
                EventDetail::Reached {
                    behaviour: "read".into(),
                },
                r#"{"kind":"reached","behaviour":"read"}"#,
            ),
            (
                EventDetail::Outbound {
                    target: "https://x.test/".into(),
                },
                r#"{"kind":"outbound","target":"https://x.test/"}"#,
            ),
            (
                EventDetail::Download {
                    target: "https://a.test/w.pdf".into(),
                },
                r#"{"kind":"download","target":"https://a.test/w.pdf"}"#,
            ),
            (
                EventDetail::FormStarted {
                    form: "signup".into(),
                },
                r#"{"kind":"form_started","form":"signup"}"#,
            ),
            (
                EventDetail::FormSubmitted {
                    form: "signup".into(),
                },
                r#"{"kind":"form_submitted","form":"signup"}"#,
            ),
            (
                EventDetail::FormAbandoned {
                    form: "signup".into(),
                },
                r#"{"kind":"form_abandoned","form":"signup"}"#,
            ),
            (
                EventDetail::Custom {
                    name: "plan".into(),
                    properties: properties.clone(),
                },
                r#"{"kind":"custom","name":"plan","properties":{"plan":"pro"}}"#,
            ),
        ];
        for (detail, json) in cases {
            assert_eq!(serde_json::to_string(&detail).unwrap(), json);
            assert_eq!(serde_json::from_str::<EventDetail>(json).unwrap(), detail);
            assert!(json.contains(detail.kind()));
        }
    }

    #[test]
    fn new_kinds_are_checked() {
        let with = |detail: EventDetail| {
            let mut event = event(ID, NOW);
            event.detail = detail;
            batch(vec![event]).validate(NOW).err()
        };
        let many: NameMap<String> = (0..=MAX_PROPERTIES)
            .map(|index| (format!("p{index}"), "v".to_owned()))
            .collect();
        let cases = [
            (
                EventDetail::Scroll { depth: 101 },
                Some(WireError::OutOfRange {
                    field: "scroll_depth",
                    min: 0,
                    max: 100,
                }),
            ),
            (
                EventDetail::Outbound {
                    target: "mailto:a@b.test".into(),
                },
                Some(WireError::NotAUrl { field: "target" }),
            ),
            (
                EventDetail::FormStarted {
                    form: "f".repeat(101),
                },
                Some(WireError::TooLong {
                    field: "form",
                    max: MAX_NAME_LENGTH,
                }),
            ),
            (
                EventDetail::PageView {
                    title: "t".repeat(301),
                },
                Some(WireError::TooLong {
                    field: "title",
                    max: MAX_TITLE_LENGTH,
                }),
            ),
            (
                EventDetail::Custom {
                    name: "x".into(),
                    properties: many,
                },
                Some(WireError::TooManyProperties),
            ),
            (
                EventDetail::PageView {
                    title: "Цены — 価格".into(),
                },
                None,
            ),
        ];
        for (detail, expected) in cases {
            assert_eq!(with(detail.clone()), expected, "{detail:?}");
        }
    }

    #[test]
    fn an_empty_visitor_id_is_left_to_the_server() {
        let mut anonymous = batch(vec![event(ID, NOW)]);
        anonymous.visitor_id = String::new();
        assert_eq!(anonymous.validate(NOW), Ok(()));
        anonymous.visitor_id = "not-a-uuid".into();
        assert_eq!(
            anonymous.validate(NOW),
            Err(WireError::NotAnId {
                field: "visitor_id"
            })
        );
    }

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clip_chars("Привет", 3), "При");
        assert_eq!(clip_chars("abc", 10), "abc");
        assert_eq!(clip_bytes("aПр", 2), "a");
        assert_eq!(clip_bytes("aПр", 3), "aП");
        assert_eq!(printable("a\u{0}b\tc"), "a b c");
        for (text, max) in [
            ("a\u{0}b\tc", 3),
            ("Привет\u{85}!", 7),
            ("abc", 10),
            ("", 0),
        ] {
            assert_eq!(
                clipped_printable(text, max),
                printable(clip_chars(text, max))
            );
        }
    }
}
