//! Delivery: every event is stored before anything is sent, and leaves storage
//! only when the collector has acknowledged it. Each event has a storage key of its
//! own (`hw.q.<visitor>.<time>.<event id>`), written once and removed once, so tabs
//! of one visitor never overwrite each other's queue: any tab may send any queued
//! event, and the collector stores each id once, so a batch two tabs both sent is
//! harmless. Events the tracker may not store (before the site's consent mode is
//! known, on a cookieless site, where storage is refused) wait in memory instead.
//!
//! When to send and what the collector's answer means is
//! `headwater_core::delivery`'s policy.

use alloc::string::String;
use alloc::vec::Vec;

use headwater_core::delivery::{Answer, MAX_BATCH_BYTES, Schedule, answer, retry_delay};
use headwater_core::json::JsonObject;
use headwater_core::wire::{MAX_EVENTS_PER_BATCH, after_byte, until_any};

use crate::browser;
use crate::tracker::Shared;

const QUEUE_PREFIX: &str = "hw.q.";
/// Beyond this many queued events the oldest give way: months offline should not
/// fill the site's storage, which it shares with us.
// FIXME: dropping is a loss; merging a page's engagement events would keep more
// within the same room.
const MAX_QUEUED_EVENTS: usize = 1_000;
/// The queue's length is checked against its bound every this many events.
const BOUND_CHECK_EVERY: u32 = 50;
/// At most this many batches go out together as a page is left.
const MAX_BATCHES_WHEN_LEAVING: usize = 4;

/// An event waiting for the collector's acknowledgement: its storage key, which
/// names its visitor, time and id (see [`key`]), and its JSON (empty for an event
/// read from storage, until its batch is made).
#[derive(Clone)]
pub struct Queued {
    key: String,
    json: String,
}

impl Queued {
    pub fn new(visitor: &str, at: i64, id: &str, json: String) -> Queued {
        Queued {
            key: key(visitor, at, id),
            json,
        }
    }
}

/// A request sent and not answered yet.
enum Request {
    /// A batch of events, by their storage keys.
    Batch(Vec<String>),
    /// `headwater('identify', traits)`.
    Identification,
}

/// The queue's bookkeeping on this page.
pub struct Delivery {
    memory: Vec<Queued>,
    /// Events sent and not answered yet, by key (a handful: a plain list is
    /// cheapest).
    in_flight: Vec<String>,
    /// Requests not answered yet, by the number the glue answers with.
    requests: Vec<(u32, Request)>,
    last_request: u32,
    last_sent_at: i64,
    failures: u32,
    retry_at: i64,
    enqueued: u32,
}

impl Delivery {
    /// A page's delivery: the first batch waits for the interval like the others,
    /// so that a short visit goes out in one request as the page is left.
    pub fn new(now: i64) -> Delivery {
        Delivery {
            memory: Vec::new(),
            in_flight: Vec::new(),
            requests: Vec::new(),
            last_request: 0,
            last_sent_at: now,
            failures: 0,
            retry_at: 0,
            enqueued: 0,
        }
    }

    /// Queues an event: in storage when `persist` and the browser allows it, in
    /// memory otherwise.
    pub fn enqueue(&mut self, event: Queued, persist: bool) {
        if persist && browser::save(&event.key, &event.json) {
            self.enqueued = self.enqueued.wrapping_add(1);
            if self.enqueued.is_multiple_of(BOUND_CHECK_EVERY) {
                bound_stored_queue();
            }
            return;
        }
        self.memory.push(event);
        if self.memory.len() > MAX_QUEUED_EVENTS {
            self.memory.remove(0);
        }
    }

    /// Moves the events waiting in memory to `visitor`, and to storage when
    /// `persist`: the site's consent mode is now known.
    pub fn adopt_memory(&mut self, visitor: &str, persist: bool) {
        for event in core::mem::take(&mut self.memory) {
            let Some((_, at, id)) = parse_key(&event.key) else {
                continue;
            };
            let key = key(visitor, at, id);
            self.enqueue(
                Queued {
                    key,
                    json: event.json,
                },
                persist,
            );
        }
    }

    /// Forgets what waits in memory: the visitor declined.
    pub fn discard_memory(&mut self) {
        self.memory.clear();
    }

    /// Sends `body` to the collector's `path`, to be answered as `request`.
    fn post(&mut self, path: &str, body: &str, request: Request) {
        self.last_request = self.last_request.wrapping_add(1);
        self.requests.push((self.last_request, request));
        browser::post(path, body, self.last_request);
    }
}

/// Sends `headwater('identify', traits)`'s body.
pub fn send_identification(shared: &Shared, body: &str) {
    let mut tracker = shared.borrow_mut();
    tracker
        .delivery
        .post("/api/v1/identify", body, Request::Identification);
}

/// The collector answered `request` with `status` (0: no answer came).
pub fn answered(shared: &Shared, request: u32, status: u16) {
    let request = {
        let mut tracker = shared.borrow_mut();
        let requests = &mut tracker.delivery.requests;
        let Some(index) = requests.iter().position(|(id, _)| *id == request) else {
            return;
        };
        requests.swap_remove(index).1
    };
    match request {
        Request::Batch(keys) => acknowledge(shared, &keys, status),
        Request::Identification if !(200..300).contains(&status) => {
            browser::warn("headwater('identify'): the collector refused the traits");
        }
        Request::Identification => {}
    }
}

/// Removes every queued event from storage: the visitor withdrew consent.
pub fn discard_stored() {
    for key in browser::stored_keys(QUEUE_PREFIX) {
        browser::remove(&key);
    }
}

/// Sends queued events if it is time, or everything queued when `leaving`
/// (including events already in flight: a duplicate is harmless, a loss is not).
pub fn flush(shared: &Shared, leaving: bool) {
    let batches = if leaving { MAX_BATCHES_WHEN_LEAVING } else { 1 };
    let mut sent_now = Vec::new();
    for _ in 0..batches {
        if !send_one_batch(shared, leaving, &mut sent_now) {
            break;
        }
    }
}

/// Sends the next batch if one is due; false when nothing was sent. `sent_now`
/// holds the keys of the events sent by this flush.
fn send_one_batch(shared: &Shared, leaving: bool, sent_now: &mut Vec<String>) -> bool {
    let Some((mut body, events)) = next_batch(shared, leaving, sent_now) else {
        return false;
    };
    body.push_str(",\"events\":[");
    for (index, event) in events.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str(&event.json);
    }
    body.push_str("]}");

    let mut keys = Vec::new();
    for event in events {
        keys.push(event.key);
    }
    sent_now.extend_from_slice(&keys);
    let mut tracker = shared.borrow_mut();
    let delivery = &mut tracker.delivery;
    delivery.last_sent_at = browser::now();
    delivery.in_flight.extend_from_slice(&keys);
    delivery.post("/api/v1/events", &body, Request::Batch(keys));
    true
}

/// The batch's envelope (all but its events, unclosed) and its events, if a batch
/// is due.
fn next_batch(
    shared: &Shared,
    leaving: bool,
    sent_now: &[String],
) -> Option<(String, Vec<Queued>)> {
    let tracker = shared.borrow();
    if !tracker.may_send() {
        return None;
    }
    let delivery = &tracker.delivery;
    // Every event queued in storage, by any tab of any visitor of this browser, by
    // its key alone: the JSON is read for the batch only, so that deciding whether
    // one is due stays cheap.
    let mut waiting = Vec::new();
    let stored = browser::stored_keys(QUEUE_PREFIX)
        .into_iter()
        .map(|key| Queued {
            key,
            json: String::new(),
        });
    for event in stored.chain(delivery.memory.iter().cloned()) {
        let sent =
            sent_now.contains(&event.key) || !leaving && delivery.in_flight.contains(&event.key);
        if !sent && parse_key(&event.key).is_some() {
            waiting.push(event);
        }
    }
    let schedule = Schedule {
        now: browser::now(),
        waiting: waiting.len(),
        last_sent_at: delivery.last_sent_at,
        retry_at: delivery.retry_at,
        leaving,
        offline: browser::is_offline(),
    };
    if !schedule.is_due() {
        return None;
    }

    // One visitor per batch (there are two after `reset`): the oldest event's.
    let mut oldest: Option<(&str, i64)> = None;
    for (visitor, at, _) in waiting.iter().filter_map(|event| parse_key(&event.key)) {
        if oldest.is_none_or(|(_, oldest_at)| at < oldest_at) {
            oldest = Some((visitor, at));
        }
    }
    let visitor = String::from(oldest?.0);
    let mut envelope = JsonObject::new();
    envelope
        .string("site", &tracker.site)
        .string("visitor_id", &visitor)
        .number("sent_at", schedule.now)
        .boolean("automation", browser::is_automated())
        .raw("profile", &tracker.profile.to_json());
    let mut envelope = envelope.finish();
    envelope.pop();
    let mut size = envelope.len();
    let mut batch = Vec::new();
    for mut event in waiting {
        if batch.len() == MAX_EVENTS_PER_BATCH {
            break;
        }
        if parse_key(&event.key).is_none_or(|(of, _, _)| of != visitor) {
            continue;
        }
        // Read from storage now; gone if another tab has delivered it meanwhile.
        if event.json.is_empty() {
            match browser::load(&event.key) {
                Some(json) => event.json = json,
                None => continue,
            }
        }
        size += event.json.len() + 1;
        if size >= MAX_BATCH_BYTES {
            break;
        }
        batch.push(event);
    }
    (!batch.is_empty()).then_some((envelope, batch))
}

/// Handles the collector's answer to a batch: delivered or refused for good, the
/// events leave the queue; otherwise they stay for a retry with backoff.
fn acknowledge(shared: &Shared, keys: &[String], status: u16) {
    let outcome = answer(status);
    if outcome == Answer::Refused {
        browser::warn("headwater: the collector refused a batch; see the network panel");
    }
    let mut tracker = shared.borrow_mut();
    let delivery = &mut tracker.delivery;
    delivery.in_flight.retain(|flying| !keys.contains(flying));
    if outcome == Answer::Retry {
        delivery.failures = delivery.failures.saturating_add(1);
        delivery.retry_at = browser::now() + retry_delay(delivery.failures, browser::random());
        return;
    }
    delivery.failures = 0;
    delivery.retry_at = 0;
    delivery.memory.retain(|event| !keys.contains(&event.key));
    for key in keys {
        browser::remove(key);
    }
}

/// Keeps the stored queue within its bound, dropping the oldest events.
fn bound_stored_queue() {
    let mut keys = browser::stored_keys(QUEUE_PREFIX);
    keys.retain(|key| parse_key(key).is_some());
    // Rarely more than a few over: a scan per event dropped beats a sort.
    while keys.len() > MAX_QUEUED_EVENTS {
        let mut oldest = (0, i64::MAX);
        for (index, key) in keys.iter().enumerate() {
            let at = parse_key(key).map_or(i64::MAX, |(_, at, _)| at);
            if at < oldest.1 {
                oldest = (index, at);
            }
        }
        browser::remove(&keys.swap_remove(oldest.0));
    }
}

/// `hw.q.<visitor>.<time>.<event id>`
fn key(visitor: &str, at: i64, id: &str) -> String {
    let mut at_digits = itoa::Buffer::new();
    [QUEUE_PREFIX, visitor, ".", at_digits.format(at), ".", id].concat()
}

fn parse_key(key: &str) -> Option<(&str, i64, &str)> {
    let rest = key.strip_prefix(QUEUE_PREFIX)?;
    let visitor = until_any(rest, b".");
    let rest = after_byte(rest, b'.')?;
    let at = until_any(rest, b".");
    Some((visitor, browser::whole_number(at)?, after_byte(rest, b'.')?))
}
