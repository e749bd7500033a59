//! The tracker's delivery policy: when a batch goes out, what the collector's
//! answer means for the events in it, and how long to wait before a retry.

/// Deliver at least this often while events wait.
pub const FLUSH_INTERVAL_MS: i64 = 5_000;
/// A queue this long is sent at once rather than at the next interval.
pub const EAGER_BATCH: usize = 20;
/// A batch's body stays under this many bytes: the collector refuses bodies over
/// 64 KiB, and browsers allow 64 KiB in flight for requests that outlive the page.
pub const MAX_BATCH_BYTES: usize = 48 * 1024;
/// The first retry waits this long; each further one twice as long...
pub const FIRST_RETRY_DELAY_MS: i64 = 2_000;
/// ...up to this.
pub const MAX_RETRY_DELAY_MS: i64 = 60_000;

/// What the collector's answer means for the events of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Stored (or stored before): the events leave the queue.
    Delivered,
    /// Refused for good (malformed, unknown site): retrying cannot help, so the
    /// events leave the queue too.
    Refused,
    /// Not stored this time (no network, the collector down or overloaded): the
    /// events stay and go again later.
    Retry,
}

/// The meaning of an HTTP status; 0 stands for a network failure.
pub fn answer(status: u16) -> Answer {
    match status {
        200..=299 => Answer::Delivered,
        // Timeouts, too early, and rate limits pass.
        408 | 425 | 429 => Answer::Retry,
        400..=499 => Answer::Refused,
        _ => Answer::Retry,
    }
}

/// How long to wait after `failures` failed deliveries in a row, given a random
/// `jitter` in `[0, 1)`: exponential backoff with up to a quarter more, so that
/// many browsers coming back after an outage do not all knock at once.
pub fn retry_delay(failures: u32, jitter: f64) -> i64 {
    let doublings = failures.saturating_sub(1).min(16);
    let delay = (FIRST_RETRY_DELAY_MS << doublings).min(MAX_RETRY_DELAY_MS);
    delay + (delay as f64 * 0.25 * jitter.clamp(0.0, 1.0)) as i64
}

/// The state of the queue that decides whether to send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub now: i64,
    /// Events waiting and not already in flight.
    pub waiting: usize,
    /// When the last batch went out; 0 for never on this page.
    pub last_sent_at: i64,
    /// No retry before this.
    pub retry_at: i64,
    /// The page is being hidden or left: last chance for this page.
    pub leaving: bool,
    /// The browser says it is offline.
    pub offline: bool,
}

impl Schedule {
    /// Whether a batch should go out now.
    pub fn is_due(&self) -> bool {
        if self.waiting == 0 || self.offline {
            return false;
        }
        if self.leaving {
            return true;
        }
        let backing_off = self.now < self.retry_at;
        let interval_passed =
            self.last_sent_at == 0 || self.now - self.last_sent_at >= FLUSH_INTERVAL_MS;
        !backing_off && (interval_passed || self.waiting >= EAGER_BATCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let cases = [
            (200, Answer::Delivered),
            (202, Answer::Delivered),
            (0, Answer::Retry),
            (500, Answer::Retry),
            (503, Answer::Retry),
            (429, Answer::Retry),
            (408, Answer::Retry),
            (400, Answer::Refused),
            (403, Answer::Refused),
            (413, Answer::Refused),
        ];
        for (status, expected) in cases {
            assert_eq!(answer(status), expected, "{status}");
        }
    }

    #[test]
    fn retries_back_off_exponentially_with_bounded_jitter() {
        let cases = [
            (1, 0.0, 2_000),
            (2, 0.0, 4_000),
            (3, 0.0, 8_000),
            (5, 0.0, 32_000),
            (6, 0.0, 60_000),
            (40, 0.0, 60_000),
            (1, 0.999, 2_499),
            (40, 1.0, 75_000),
            (1, 7.0, 2_500),
        ];
        for (failures, jitter, expected) in cases {
            assert_eq!(
                retry_delay(failures, jitter),
                expected,
                "{failures} {jitter}"
            );
        }
    }

    #[test]
    fn when_a_batch_is_due() {
        let base = Schedule {
            now: 100_000,
            waiting: 3,
            last_sent_at: 97_000,
            retry_at: 0,
            leaving: false,
            offline: false,
        };
        let cases = [
            (base, false),
            (
                Schedule {
                    last_sent_at: 95_000,
                    ..base
                },
                true,
            ),
            (
                Schedule {
                    last_sent_at: 0,
                    ..base
                },
                true,
            ),
            (
                Schedule {
                    waiting: EAGER_BATCH,
                    ..base
                },
                true,
            ),
            (
                Schedule {
                    leaving: true,
                    ..base
                },
                true,
            ),
            (
                Schedule {
                    waiting: 0,
                    leaving: true,
                    ..base
                },
                false,
            ),
            (
                Schedule {
                    offline: true,
                    leaving: true,
                    ..base
                },
                false,
            ),
            (
                Schedule {
                    last_sent_at: 0,
                    retry_at: 100_001,
                    ..base
                },
                false,
            ),
            (
                Schedule {
                    retry_at: 100_001,
                    leaving: true,
                    ..base
                },
                true,
            ),
            (
                Schedule {
                    last_sent_at: 0,
                    retry_at: 100_000,
                    ..base
                },
                true,
            ),
        ];
        for (schedule, expected) in cases {
            assert_eq!(schedule.is_due(), expected, "{schedule:?}");
        }
    }
}
