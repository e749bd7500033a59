//! First-touch attribution for the console: where a contact came from, read off
//! the first event that created it with core's `attribution` (the same reading
//! the collector keeps on visitors): the campaign, the referring site, and the
//! channel, in the labels the waterfall report filters by.

use headwater_core::attribution::{Channel, touch_of};
use headwater_core::wire::{MAX_NAME_LENGTH, clip_chars};

/// Where a contact first came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    /// `utm_campaign` of the first page, if any.
    pub campaign: Option<String>,
    /// The referring site's host, if it was another site.
    pub referrer: Option<String>,
    /// `paid`, `email`, `social`, `organic search`, `referral` or `direct`.
    pub channel: &'static str,
}

impl Default for Touch {
    fn default() -> Self {
        Touch {
            campaign: None,
            referrer: None,
            channel: "direct",
        }
    }
}

/// The touch of an event on page `url` that came from `referrer` (empty if none).
/// Moving within the site is a direct visit.
pub fn first_touch(url: &str, referrer: &str) -> Touch {
    let Some(touch) = touch_of(url, referrer, 0) else {
        return Touch::default();
    };
    let host = touch.referrer_host.trim_start_matches("www.");
    Touch {
        campaign: (!touch.campaign.is_empty()).then(|| touch.campaign.clone()),
        referrer: (!host.is_empty()).then(|| clip_chars(host, MAX_NAME_LENGTH).to_owned()),
        channel: match touch.channel() {
            Channel::Direct => "direct",
            Channel::Paid => "paid",
            Channel::Email => "email",
            Channel::Social => "social",
            Channel::Search => "organic search",
            Channel::Referral | Channel::Campaign => "referral",
        },
    }
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
