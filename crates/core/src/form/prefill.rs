//! Answers that come with the page's address: a hidden field filled from a
//! campaign parameter (`?utm_campaign=spring`), a visible one pre-filled from a
//! link in an e-mail (`?email=ana%2Bnews@example.org`).

use super::field::{FieldKind, FormField};

impl FormField {
    /// The value the page's query string (`location.search`, with or without the
    /// `?`) gives this field, if it names one in `from_query`.
    pub fn prefill(&self, query: &str) -> Option<String> {
        let name = self.from_query.as_deref()?;
        // An address holds no spaces, so a `+` in one is the address's own
        // (`ana+news@...`), which mail tools often leave unescaped.
        let plus_is_space = self.kind != FieldKind::Email;
        query_value(query, name, plus_is_space).filter(|value| !value.trim().is_empty())
    }
}

/// The first value of the parameter `name` in a query string, decoded: percent
/// escapes always, and `+` as a space when `plus_is_space`, as HTML forms encode
/// it. `None` when the parameter is absent or does not decode to UTF-8.
pub fn query_value(query: &str, name: &str, plus_is_space: bool) -> Option<String> {
    let query = query.strip_prefix('?').unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key, true)? == name).then(|| decode(value, plus_is_space))?
    })
}

fn decode(text: &str, plus_is_space: bool) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        match byte {
            b'%' if after.len() >= 2 => match hex_pair(after[0], after[1]) {
                Some(decoded) => {
                    bytes.push(decoded);
                    rest = &after[2..];
                    continue;
                }
                None => bytes.push(b'%'),
            },
            b'+' if plus_is_space => bytes.push(b' '),
            other => bytes.push(other),
        }
        rest = after;
    }
    String::from_utf8(bytes).ok()
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |byte: u8| (byte as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::Texts;

    fn check(query: &str, name: &str, plus_is_space: bool, expected: Option<&str>) {
        assert_eq!(
            query_value(query, name, plus_is_space).as_deref(),
            expected,
            "{query} {name}"
        );
    }

    #[test]
    fn query_values() {
        let cases = [
            (
                "?utm_campaign=spring-26",
                "utm_campaign",
                true,
                Some("spring-26"),
            ),
            (
                "a=1&utm_campaign=spring&utm_campaign=autumn",
                "utm_campaign",
                true,
                Some("spring"),
            ),
            ("?name=Ana+P%C3%A9rez", "name", true, Some("Ana Pérez")),
            ("?name=%D0%90%D0%BD%D0%B0", "name", true, Some("Ана")),
            (
                "?email=ana+news@example.org",
                "email",
                false,
                Some("ana+news@example.org"),
            ),
            (
                "?email=ana%2Bnews@example.org",
                "email",
                false,
                Some("ana+news@example.org"),
            ),
            (
                "?email=ana%2Bnews@example.org",
                "email",
                true,
                Some("ana+news@example.org"),
            ),
            ("?utm%5Fcampaign=x", "utm_campaign", true, Some("x")),
            ("?flag", "flag", true, Some("")),
            ("?discount=100%", "discount", true, Some("100%")),
            ("?bad=%FF", "bad", true, None),
            ("?other=1", "utm_campaign", true, None),
            ("", "utm_campaign", true, None),
        ];
        for (query, name, plus_is_space, expected) in cases {
            check(query, name, plus_is_space, expected);
        }
    }

    #[test]
    fn a_plus_in_a_prefilled_address_stays_a_plus() {
        let field = |kind| FormField {
            name: "x".into(),
            kind,
            label: Texts::default(),
            hint: None,
            required: false,
            max_length: None,
            options: Vec::new(),
            pattern: None,
            min: None,
            max: None,
            from_query: Some("p".into()),
            value: None,
        };
        let query = "?p=ana+news@example.org";
        assert_eq!(
            field(FieldKind::Email).prefill(query).as_deref(),
            Some("ana+news@example.org")
        );
        assert_eq!(
            field(FieldKind::Text).prefill(query).as_deref(),
            Some("ana news@example.org")
        );
        assert_eq!(field(FieldKind::Text).prefill("?p=").as_deref(), None);
        assert_eq!(field(FieldKind::Text).prefill("?q=1").as_deref(), None);
    }
}
