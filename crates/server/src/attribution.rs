//! First-touch attribution: where a contact came from, read off the first event
//! that created it: the campaign in the page URL's UTM parameters, the referring
//! site, and the channel these add up to. The waterfall report filters by them.
// FIXME: core's `attribution` (kept on visitors by the collector) reads the same
// UTM parameters and referrer; the contact's source should be derived from it,
// with the channel rules moved to core, once both have settled.

use std::borrow::Cow;

use crate::config::origin_of;

/// Where a contact first came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touch {
    /// `utm_campaign` of the first page, if any.
    pub campaign: Option<String>,
    /// The referring site's host, if it was another site.
    pub referrer: Option<String>,
    /// `paid`, `email`, `social`, `organic search`, `referral` or `direct`.
    pub channel: &'static str,
}

/// Search engines whose referrals count as organic search.
const SEARCH_ENGINES: [&str; 6] = [
    "google.",
    "bing.",
    "duckduckgo.",
    "yandex.",
    "yahoo.",
    "ecosia.",
];
/// Social networks whose referrals count as social.
const SOCIAL_NETWORKS: [&str; 6] = [
    "linkedin.",
    "facebook.",
    "twitter.",
    "x.com",
    "t.co",
    "reddit.",
];
/// Campaign values longer than this are cut: they are labels, not payloads.
const MAX_LABEL: usize = 100;

/// The touch of an event on page `url` that came from `referrer` (empty if none).
pub fn first_touch(url: &str, referrer: &str) -> Touch {
    let parameter = |name: &str| query_parameter(url, name).filter(|value| !value.is_empty());
    let campaign = parameter("utm_campaign").map(|value| label(&value));
    let medium = parameter("utm_medium").unwrap_or_default().to_lowercase();
    let source = parameter("utm_source").unwrap_or_default().to_lowercase();

    let referrer_host = origin_of(referrer)
        .filter(|origin| origin_of(url).as_ref() != Some(origin))
        .and_then(|origin| origin.split_once("://").map(|(_, host)| host.to_owned()))
        .map(|host| label(host.trim_start_matches("www.")));
    let host = referrer_host.as_deref().unwrap_or("");
    let is_among = |list: &[&str], text: &str| list.iter().any(|name| text.contains(name));

    let channel = if ["cpc", "ppc", "paid", "paid_social", "display"].contains(&medium.as_str()) {
        "paid"
    } else if medium == "email" || source == "newsletter" {
        "email"
    } else if medium == "social" || is_among(&SOCIAL_NETWORKS, host) {
        "social"
    } else if is_among(&SEARCH_ENGINES, host) {
        "organic search"
    } else if referrer_host.is_some() || !medium.is_empty() {
        "referral"
    } else {
        "direct"
    };
    Touch {
        campaign,
        referrer: referrer_host,
        channel,
    }
}

/// The decoded value of a query parameter of `url`.
fn query_parameter<'a>(url: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| {
            let value = value.replace('+', " ");
            Cow::Owned(
                percent_encoding::percent_decode_str(&value)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        })
    })
}

fn label(text: &str) -> String {
    text.chars()
        .filter(|character| !character.is_control())
        .take(MAX_LABEL)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, referrer: &str, expected: (Option<&str>, Option<&str>, &str)) {
        let touch = first_touch(url, referrer);
        let actual = (
            touch.campaign.as_deref(),
            touch.referrer.as_deref(),
            touch.channel,
        );
        assert_eq!(actual, expected, "{url} from {referrer:?}");
    }

    #[test]
    fn channels_campaigns_and_referrers() {
        let site = "https://acme.example";
        check(
            &format!("{site}/?utm_source=google&utm_medium=cpc&utm_campaign=spring%20launch"),
            "https://www.google.com/",
            (Some("spring launch"), Some("google.com"), "paid"),
        );
        check(
            &format!("{site}/p?utm_source=newsletter&utm_campaign=may+news#top"),
            "",
            (Some("may news"), None, "email"),
        );
        check(
            &format!("{site}/"),
            "https://www.google.com/search",
            (None, Some("google.com"), "organic search"),
        );
        check(
            &format!("{site}/"),
            "https://www.linkedin.com/feed",
            (None, Some("linkedin.com"), "social"),
        );
        check(
            &format!("{site}/"),
            "https://news.ycombinator.com/item?id=1",
            (None, Some("news.ycombinator.com"), "referral"),
        );
        check(
            &format!("{site}/pricing"),
            &format!("{site}/"),
            (None, None, "direct"),
        );
        check(&format!("{site}/"), "", (None, None, "direct"));
    }
}
