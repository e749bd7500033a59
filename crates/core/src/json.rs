//! A small JSON writer for the tracker, which cannot afford serde_json's size in
//! the browser: it writes the wire types exactly as serde renders them (the tests
//! hold it to serde_json's output), and nothing else. The server and the form use
//! serde_json.

use alloc::string::String;

use crate::profile::EngagementProfile;
use crate::wire::{Event, EventDetail};

/// A JSON object being written: `{"key":value,...}`.
pub struct JsonObject {
    text: String,
    empty: bool,
}

impl JsonObject {
    pub fn new() -> JsonObject {
        JsonObject {
            text: String::from("{"),
            empty: true,
        }
    }

    pub fn string(&mut self, key: &str, value: &str) -> &mut JsonObject {
        self.key(key);
        quote(value, &mut self.text);
        self
    }

    pub fn number(&mut self, key: &str, value: i64) -> &mut JsonObject {
        self.key(key);
        self.text.push_str(itoa::Buffer::new().format(value));
        self
    }

    pub fn boolean(&mut self, key: &str, value: bool) -> &mut JsonObject {
        self.key(key);
        self.text.push_str(if value { "true" } else { "false" });
        self
    }

    /// A value that is JSON already (an object or an array written elsewhere).
    pub fn raw(&mut self, key: &str, json: &str) -> &mut JsonObject {
        self.key(key);
        self.text.push_str(json);
        self
    }

    pub fn finish(mut self) -> String {
        self.text.push('}');
        self.text
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.text.push(',');
        }
        self.empty = false;
        quote(key, &mut self.text);
        self.text.push(':');
    }
}

impl Default for JsonObject {
    fn default() -> Self {
        JsonObject::new()
    }
}

/// Appends `text` as a JSON string: quoted, with `"`, `\` and control characters
/// escaped. Everything else, non-ASCII included, goes as it is (JSON is UTF-8).
pub fn quote(text: &str, into: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    into.push('"');
    for character in text.chars() {
        match character {
            '"' => into.push_str("\\\""),
            '\\' => into.push_str("\\\\"),
            '\n' => into.push_str("\\n"),
            '\r' => into.push_str("\\r"),
            '\t' => into.push_str("\\t"),
            control if (control as u32) < 0x20 => {
                let code = control as usize;
                into.push_str("\\u00");
                into.push(char::from(HEX[code >> 4]));
                into.push(char::from(HEX[code & 0xf]));
            }
            other => into.push(other),
        }
    }
    into.push('"');
}

impl Event {
    /// The event as JSON, as serde would write it.
    pub fn to_json(&self) -> String {
        let mut json = JsonObject::new();
        json.string("id", &self.id)
            .string("session_id", &self.session_id)
            .number("at", self.at)
            .string("url", &self.url)
            .string("referrer", &self.referrer)
            .string("kind", self.detail.kind());
        match &self.detail {
            EventDetail::PageView { title } => {
                if !title.is_empty() {
                    json.string("title", title);
                }
            }
            EventDetail::Engagement {
                engaged_ms,
                scroll_depth,
            } => {
                json.number("engaged_ms", saturating_i64(*engaged_ms))
                    .number("scroll_depth", i64::from(*scroll_depth));
            }
            EventDetail::Scroll { depth } => {
                json.number("depth", i64::from(*depth));
            }
            EventDetail::Click { behaviour } | EventDetail::Reached { behaviour } => {
                json.string("behaviour", behaviour);
            }
            EventDetail::Outbound { target } | EventDetail::Download { target } => {
                json.string("target", target);
            }
            EventDetail::FormStarted { form }
            | EventDetail::FormSubmitted { form }
            | EventDetail::FormAbandoned { form } => {
                json.string("form", form);
            }
            EventDetail::Custom { name, properties } => {
                json.string("name", name);
                if !properties.is_empty() {
                    let mut object = JsonObject::new();
                    for (key, value) in properties {
                        object.string(key, value);
                    }
                    json.raw("properties", &object.finish());
                }
            }
        }
        json.finish()
    }
}

impl EngagementProfile {
    /// The profile as JSON, as serde would write it.
    pub fn to_json(&self) -> String {
        let mut behaviours = JsonObject::new();
        for (name, tally) in &self.behaviours {
            let mut occurrences = String::from("[");
            for (index, at) in tally.occurrences.iter().enumerate() {
                if index > 0 {
                    occurrences.push(',');
                }
                occurrences.push_str(itoa::Buffer::new().format(*at));
            }
            occurrences.push(']');
            let mut object = JsonObject::new();
            object
                .number("count", i64::from(tally.count))
                .number("points", tally.points)
                .raw("occurrences", &occurrences);
            behaviours.raw(name, &object.finish());
        }
        let mut json = JsonObject::new();
        json.number("pages_seen", i64::from(self.pages_seen))
            .number("engaged_ms", saturating_i64(self.engaged_ms))
            .number("deepest_scroll", i64::from(self.deepest_scroll))
            .raw("behaviours", &behaviours.finish());
        json.finish()
    }
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::{Behaviour, Trigger};
    use crate::names::NameMap;

    fn event(detail: EventDetail) -> Event {
        Event {
            id: "0b5e8a8e-7d3c-4b8e-9c1a-2f6d1e0c9a11".into(),
            session_id: "1b5e8a8e-7d3c-4b8e-9c1a-2f6d1e0c9a11".into(),
            at: 1_800_000_000_123,
            url: "https://acme.test/p?q=\"x\"&r=\\".into(),
            referrer: String::new(),
            detail,
        }
    }

    #[test]
    fn events_are_written_as_serde_writes_them() {
        let properties = NameMap::from([
            ("plan".to_owned(), "pro \"annual\"".to_owned()),
            ("seats".to_owned(), "12".to_owned()),
        ]);
        let details = [
            EventDetail::PageView {
                title: "Цены\t— \u{1}価格".into(),
            },
            EventDetail::PageView {
                title: String::new(),
            },
            EventDetail::Engagement {
                engaged_ms: 12_345,
                scroll_depth: 80,
            },
            EventDetail::Scroll { depth: 25 },
            EventDetail::Click {
                behaviour: "demo".into(),
            },
            EventDetail::Reached {
                behaviour: "read".into(),
            },
            EventDetail::Outbound {
                target: "https://x.test/".into(),
            },
            EventDetail::Download {
                target: "https://a.test/w.pdf".into(),
            },
            EventDetail::FormStarted {
                form: "signup".into(),
            },
            EventDetail::FormSubmitted {
                form: "signup".into(),
            },
            EventDetail::FormAbandoned {
                form: "signup".into(),
            },
            EventDetail::Custom {
                name: "plan".into(),
                properties,
            },
            EventDetail::Custom {
                name: "plain".into(),
                properties: NameMap::new(),
            },
        ];
        for detail in details {
            let event = event(detail);
            let ours = event.to_json();
            let parsed: serde_json::Value = serde_json::from_str(&ours).expect(&ours);
            assert_eq!(parsed, serde_json::to_value(&event).unwrap(), "{ours}");
            assert_eq!(serde_json::from_str::<Event>(&ours).unwrap(), event);
        }
    }

    #[test]
    fn profiles_are_written_as_serde_writes_them() {
        let behaviours = [Behaviour {
            name: "demo \"click\"".into(),
            trigger: Trigger::Click("[data-demo]".into()),
            points: 20,
            limit: 2,
        }];
        let mut profile = EngagementProfile::default();
        for at in [5, 9, 3] {
            let mut click = event(EventDetail::Click {
                behaviour: "demo \"click\"".into(),
            });
            click.at = at;
            profile.record(&click, &behaviours);
        }
        profile.record(
            &event(EventDetail::PageView {
                title: String::new(),
            }),
            &behaviours,
        );
        profile.record(
            &event(EventDetail::Engagement {
                engaged_ms: 9_000,
                scroll_depth: 60,
            }),
            &behaviours,
        );
        for profile in [profile, EngagementProfile::default()] {
            let ours = profile.to_json();
            let parsed: serde_json::Value = serde_json::from_str(&ours).expect(&ours);
            assert_eq!(parsed, serde_json::to_value(&profile).unwrap(), "{ours}");
        }
    }

    #[test]
    fn strings_are_escaped() {
        let cases = [
            ("plain", r#""plain""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("line\nbreak\r\t", r#""line\nbreak\r\t""#),
            ("\u{0}\u{1f}\u{7f}", "\"\\u0000\\u001f\u{7f}\""),
            ("кириллица 漢字", "\"кириллица 漢字\""),
        ];
        for (text, expected) in cases {
            let mut written = String::new();
            quote(text, &mut written);
            assert_eq!(written, expected);
            assert_eq!(serde_json::from_str::<String>(&written).unwrap(), text);
        }
    }
}
