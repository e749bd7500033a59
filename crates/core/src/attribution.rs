//! Campaign attribution: where a visit came from, read from the landing page's
//! address (UTM parameters, advertisers' click ids) and the referrer. The server
//! keeps the first touch and the latest non-direct touch on each visitor.
//!
//! Query values are percent-decoded exactly once (`%2520` stays `%20`), with `+`
//! read as a space as browsers' forms send it. A value that does not decode to
//! text is kept as it came; a value holding a control character is dropped.

use alloc::borrow::ToOwned;
use alloc::string::String;

use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

use crate::wire::{MAX_NAME_LENGTH, clip_chars, has_control_character, url_host, url_path};

/// Advertisers' click ids: the parameter, the source it names, and the medium.
const CLICK_IDS: &[(&str, &str, &str)] = &[
    ("gclid", "google", "cpc"),
    ("gbraid", "google", "cpc"),
    ("wbraid", "google", "cpc"),
    ("dclid", "google", "display"),
    ("msclkid", "bing", "cpc"),
    ("yclid", "yandex", "cpc"),
    ("fbclid", "facebook", "paid_social"),
    ("ttclid", "tiktok", "paid_social"),
    ("li_fat_id", "linkedin", "paid_social"),
    ("twclid", "twitter", "paid_social"),
];

/// Referrers that are search engines (a host containing one of these labels).
const SEARCH_ENGINES: &[&str] = &[
    "google",
    "bing",
    "yandex",
    "duckduckgo",
    "yahoo",
    "baidu",
    "ecosia",
    "qwant",
    "startpage",
];

/// Referrers that are social networks, by registered domain.
const SOCIAL_NETWORKS: &[&str] = &[
    "facebook.com",
    "fb.com",
    "instagram.com",
    "linkedin.com",
    "lnkd.in",
    "t.co",
    "twitter.com",
    "x.com",
    "reddit.com",
    "youtube.com",
    "vk.com",
    "ok.ru",
    "t.me",
    "tiktok.com",
    "pinterest.com",
];

/// Where one visit came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touch {
    /// `utm_source`, the advertiser of a click id, the referring host, or `(direct)`.
    pub source: String,
    /// `utm_medium`, or `cpc`, `paid_social`, `organic`, `social`, `referral`,
    /// `(none)` as inferred.
    pub medium: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub campaign: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub term: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    /// The click id's parameter name (e.g. `gclid`) and value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub click_id_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub click_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub referrer_host: String,
    /// The path of the page the visit landed on.
    pub landing_page: String,
    pub at: i64,
}

/// Touches grouped as marketers report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Direct,
    Paid,
    Email,
    Search,
    Social,
    Referral,
    /// Tagged with UTM parameters that say nothing of the above.
    Campaign,
}

impl Touch {
    /// Nothing said where the visit came from.
    pub fn is_direct(&self) -> bool {
        self.channel() == Channel::Direct
    }

    pub fn channel(&self) -> Channel {
        let medium = self.medium.to_ascii_lowercase();
        match medium.as_str() {
            "(none)" | "" => Channel::Direct,
            "cpc" | "ppc" | "paid" | "paidsearch" | "paid_social" | "display" | "cpm" => {
                Channel::Paid
            }
            "email" | "e-mail" | "newsletter" => Channel::Email,
            "organic" => Channel::Search,
            "social" | "social-network" | "social_network" => Channel::Social,
            "referral" => Channel::Referral,
            _ => Channel::Campaign,
        }
    }
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Direct => "direct",
            Channel::Paid => "paid",
            Channel::Email => "email",
            Channel::Search => "search",
            Channel::Social => "social",
            Channel::Referral => "referral",
            Channel::Campaign => "campaign",
        }
    }
}

/// The touch a page view at `url`, referred by `referrer`, makes at time `at`; `None`
/// when it continues a visit (referred by the same host, no campaign parameters).
pub fn touch_of(url: &str, referrer: &str, at: i64) -> Option<Touch> {
    let mut touch = Touch {
        landing_page: url_path(url).to_owned(),
        at,
        ..Touch::default()
    };
    for (name, value) in query_parameters(url) {
        let Some(value) = decode(value) else { continue };
        match name {
            "utm_source" => touch.source = value,
            "utm_medium" => touch.medium = value,
            "utm_campaign" => touch.campaign = value,
            "utm_term" => touch.term = value,
            "utm_content" => touch.content = value,
            _ => {
                let known = CLICK_IDS.iter().find(|(parameter, ..)| *parameter == name);
                if let Some((parameter, _, _)) = known.filter(|_| touch.click_id.is_empty()) {
                    touch.click_id_name = (*parameter).to_owned();
                    touch.click_id = value;
                }
            }
        }
    }

    let referrer_host = url_host(referrer).map(str::to_ascii_lowercase);
    let internal = referrer_host.is_some()
        && referrer_host.as_deref() == url_host(url).map(str::to_ascii_lowercase).as_deref();
    if let Some(host) = referrer_host.filter(|_| !internal) {
        touch.referrer_host = host;
    }
    let tagged = !touch.source.is_empty() || !touch.click_id.is_empty();
    if internal && !tagged {
        return None;
    }

    infer_source_and_medium(&mut touch);
    Some(touch)
}

/// Fills in what the parameters left out, from the click id or the referrer.
fn infer_source_and_medium(touch: &mut Touch) {
    if let Some((_, source, medium)) = CLICK_IDS
        .iter()
        .find(|(parameter, ..)| *parameter == touch.click_id_name)
    {
        if touch.source.is_empty() {
            touch.source = (*source).to_owned();
        }
        if touch.medium.is_empty() {
            touch.medium = (*medium).to_owned();
        }
    }
    if touch.source.is_empty() && !touch.referrer_host.is_empty() {
        let host = touch.referrer_host.split(':').next().unwrap_or("");
        touch.source = host.strip_prefix("www.").unwrap_or(host).to_owned();
    }
    if touch.medium.is_empty() && touch.source.eq_ignore_ascii_case("newsletter") {
        touch.medium = "email".to_owned();
    }
    if touch.medium.is_empty() && !touch.referrer_host.is_empty() {
        touch.medium = referrer_medium(&touch.source).to_owned();
    }
    if touch.source.is_empty() {
        touch.source = "(direct)".to_owned();
    }
    if touch.medium.is_empty() {
        touch.medium = if touch.source == "(direct)" {
            "(none)"
        } else {
            "referral"
        }
        .to_owned();
    }
}

fn referrer_medium(host: &str) -> &'static str {
    let is_social = SOCIAL_NETWORKS
        .iter()
        .any(|domain| host == *domain || host.ends_with(&[".", domain].concat()));
    let is_search = host.split('.').any(|label| SEARCH_ENGINES.contains(&label));
    if is_social {
        "social"
    } else if is_search {
        "organic"
    } else {
        "referral"
    }
}

/// The `name=value` pairs of a URL's query, undecoded.
fn query_parameters(url: &str) -> impl Iterator<Item = (&str, &str)> {
    let without_fragment = url.split('#').next().unwrap_or("");
    let query = without_fragment
        .split_once('?')
        .map_or("", |(_, query)| query);
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// One query value decoded once: `+` as a space, then percent-decoding. Kept as
/// it came if it does not decode to UTF-8; `None` if empty or holding a control
/// character. Clipped to a name's length.
fn decode(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    let decoded = match percent_decode_str(&spaced).decode_utf8() {
        Ok(text) => text.into_owned(),
        Err(_) => raw.to_owned(),
    };
    let trimmed = decoded.trim();
    if trimmed.is_empty() || has_control_character(trimmed) {
        return None;
    }
    Some(clip_chars(trimmed, MAX_NAME_LENGTH).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The touch as `source / medium / campaign / click id / referrer host`.
    fn check(url: &str, referrer: &str, expected: Option<&str>) {
        let actual = touch_of(url, referrer, 7).map(|touch| {
            format!(
                "{} / {} / {} / {} / {}",
                touch.source, touch.medium, touch.campaign, touch.click_id, touch.referrer_host
            )
        });
        assert_eq!(actual.as_deref(), expected, "{url} from {referrer:?}");
    }

    #[test]
    fn touches() {
        let site = "https://acme.test";
        check(&format!("{site}/"), "", Some("(direct) / (none) /  /  / "));
        check(
            &format!("{site}/?utm_source=newsletter&utm_medium=email&utm_campaign=spring+sale"),
            "",
            Some("newsletter / email / spring sale /  / "),
        );
        check(
            &format!("{site}/pricing?gclid=abc123"),
            "https://www.google.com/",
            Some("google / cpc /  / abc123 / www.google.com"),
        );
        check(
            &format!("{site}/"),
            "https://www.google.de/search?q=x",
            Some("google.de / organic /  /  / www.google.de"),
        );
        check(
            &format!("{site}/"),
            "https://t.co/abc",
            Some("t.co / social /  /  / t.co"),
        );
        check(
            &format!("{site}/"),
            "https://blog.partner.test/review",
            Some("blog.partner.test / referral /  /  / blog.partner.test"),
        );
        // Moving within the site is no new touch, unless the link was tagged.
        check(&format!("{site}/pricing"), &format!("{site}/"), None);
        check(
            &format!("{site}/pricing?utm_source=banner"),
            &format!("{site}/"),
            Some("banner / referral /  /  / "),
        );
    }

    #[test]
    fn values_are_decoded_exactly_once() {
        let campaign = |query: &str| {
            touch_of(
                &format!("https://acme.test/?utm_source=x&utm_campaign={query}"),
                "",
                0,
            )
            .map(|touch| touch.campaign)
            .unwrap_or_default()
        };
        let cases = [
            ("spring%20sale", "spring sale"),
            ("spring+sale", "spring sale"),
            ("100%2525", "100%25"),
            ("%D0%B2%D0%B5%D1%81%D0%BD%D0%B0", "весна"),
            ("%E0%A4%A", "%E0%A4%A"),
            ("50%off", "50%off"),
            ("%ZZ", "%ZZ"),
            ("bad%00value", ""),
            ("", ""),
            ("a%2Bb", "a+b"),
        ];
        for (raw, expected) in cases {
            assert_eq!(campaign(raw), expected, "{raw}");
        }
    }

    #[test]
    fn channels() {
        let channel = |url: &str, referrer: &str| {
            touch_of(url, referrer, 0).map(|touch| touch.channel().as_str())
        };
        let cases = [
            ("https://a.test/", "", "direct"),
            ("https://a.test/?gclid=1", "", "paid"),
            ("https://a.test/?utm_source=n&utm_medium=email", "", "email"),
            ("https://a.test/?utm_source=newsletter", "", "email"),
            (
                "https://a.test/?utm_source=n&utm_medium=podcast",
                "",
                "campaign",
            ),
            ("https://a.test/", "https://duckduckgo.com/", "search"),
            ("https://a.test/", "https://www.linkedin.com/feed", "social"),
            ("https://a.test/", "https://partner.test/", "referral"),
        ];
        for (url, referrer, expected) in cases {
            assert_eq!(channel(url, referrer), Some(expected), "{url} {referrer}");
        }
    }
}
