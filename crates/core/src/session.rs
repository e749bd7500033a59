//! Sessions: a visitor's session ends after thirty minutes without an event. The
//! tracker keeps the session's id and the time of its last event in the browser's
//! storage, which every tab of the visitor shares, so two tabs open at once are one
//! session.

/// A session ends after this long without an event, as in most analytics tools.
pub const SESSION_TIMEOUT_MS: i64 = 30 * 60 * 1000;

/// Whether a session whose last event happened at `last_event_at` is still going
/// at `now`. A last event in the future (another tab's clock, a clock set back)
/// by more than the timeout ends the session too: it cannot be trusted.
pub fn is_current(last_event_at: i64, now: i64) -> bool {
    let quiet_for = now.saturating_sub(last_event_at);
    quiet_for < SESSION_TIMEOUT_MS && quiet_for > -SESSION_TIMEOUT_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lasts_until_thirty_quiet_minutes() {
        let minute = 60_000;
        let cases = [
            (0, true),
            (29 * minute, true),
            (30 * minute - 1, true),
            (30 * minute, false),
            (3 * 60 * minute, false),
            (-minute, true),
            (-31 * minute, false),
        ];
        let last = 1_800_000_000_000;
        for (quiet, expected) in cases {
            assert_eq!(
                is_current(last, last + quiet),
                expected,
                "quiet for {quiet} ms"
            );
        }
    }
}
