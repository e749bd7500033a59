//! Telling bots from people: a maintained list of crawler user agents (the isbot
//! crate, which also knows headless browsers), an empty user agent, and the
//! automation flag the tracker reports. Bots are answered as if they were people,
//! so the filter is not revealed, and nothing they send is kept.

use std::sync::LazyLock;

static KNOWN_BOTS: LazyLock<isbot::Bots> = LazyLock::new(isbot::Bots::default);

/// Whether a request comes from a bot.
pub fn is_bot(user_agent: Option<&str>, reports_automation: bool) -> bool {
    let user_agent = user_agent.unwrap_or("").trim();
    reports_automation || user_agent.is_empty() || KNOWN_BOTS.is_bot(user_agent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_and_people() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";
        let headless = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                        HeadlessChrome/156.0.0.0 Safari/537.36";
        let cases = [
            (Some(chrome), false, false),
            (Some(chrome), true, true),
            (Some(headless), false, true),
            (
                Some("Googlebot/2.1 (+http://www.google.com/bot.html)"),
                false,
                true,
            ),
            (Some("curl/8.5.0"), false, true),
            (Some(""), false, true),
            (None, false, true),
        ];
        for (user_agent, automation, expected) in cases {
            assert_eq!(
                is_bot(user_agent, automation),
                expected,
                "{user_agent:?} {automation}"
            );
        }
    }
}
