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

/// An event waiting for the collector's acknowledgement.
pub struct Queued {
    pub visitor: String,
    pub at: i64,
    pub id: String,
    pub json: String,
}

/// A request sent and not answered yet.
enum Request {
    /// A batch of events: their ids, and their storage keys.
    Batch { ids: Vec<String>, keys: Vec<String> },
    /// `headwater('identify', traits)`.
    Identification,
}

/// The queue's bookkeeping on this page.
pub struct Delivery {
    memory: Vec<Queued>,
    /// Ids sent and not answered yet (a handful: a plain list is cheapest).
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
        if persist && browser::save(&key(&event), &event.json) {
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
        for mut event in core::mem::take(&mut self.memory) {
            event.visitor = String::from(visitor);
            self.enqueue(event, persist);
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
        Request::Batch { ids, keys } => acknowledge(shared, &ids, &keys, status),
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

/// Sends the next batch if one is due; false when nothing was sent.
fn send_one_batch(shared: &Shared, leaving: bool, sent_now: &mut Vec<String>) -> bool {
    let Some((envelope, events)) = next_batch(shared, leaving, sent_now) else {
        return false;
    };
    let ids: Vec<String> = events.iter().map(|event| event.id.clone()).collect();
    let mut body = envelope;
    body.push_str(",\"events\":[");
    for (index, event) in events.iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str(&event.json);
    }
    body.push_str("]}");

    let keys: Vec<String> = events.iter().map(key).collect();
    sent_now.extend(ids.iter().cloned());
    let mut tracker = shared.borrow_mut();
    let delivery = &mut tracker.delivery;
    delivery.last_sent_at = browser::now();
    delivery.in_flight.extend(ids.iter().cloned());
    delivery.post("/api/v1/events", &body, Request::Batch { ids, keys });
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
    let waiting: Vec<Queued> = stored_events()
        .into_iter()
        .chain(delivery.memory.iter().map(Queued::copy))
        .filter(|event| !sent_now.contains(&event.id))
        .filter(|event| leaving || !delivery.in_flight.contains(&event.id))
        .collect();
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
    let visitor = waiting.iter().min_by_key(|event| event.at)?.visitor.clone();
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
    let batch: Vec<Queued> = waiting
        .into_iter()
        .filter(|event| event.visitor == visitor)
        .filter_map(with_json)
        .take(MAX_EVENTS_PER_BATCH)
        .take_while(|event| {
            size += event.json.len() + 1;
            size < MAX_BATCH_BYTES
        })
        .collect();
    (!batch.is_empty()).then_some((envelope, batch))
}

/// Handles the collector's answer to a batch: delivered or refused for good, the
/// events leave the queue; otherwise they stay for a retry with backoff.
fn acknowledge(shared: &Shared, ids: &[String], keys: &[String], status: u16) {
    let outcome = answer(status);
    if outcome == Answer::Refused {
        browser::warn("headwater: the collector refused a batch; see the network panel");
    }
    let mut tracker = shared.borrow_mut();
    let delivery = &mut tracker.delivery;
    for id in ids {
        delivery.in_flight.retain(|flying| flying != id);
    }
    if outcome == Answer::Retry {
        delivery.failures = delivery.failures.saturating_add(1);
        delivery.retry_at = browser::now() + retry_delay(delivery.failures, browser::random());
        return;
    }
    delivery.failures = 0;
    delivery.retry_at = 0;
    delivery.memory.retain(|event| !ids.contains(&event.id));
    for key in keys {
        browser::remove(key);
    }
}

/// Every event queued in storage, by any tab of any visitor of this browser,
/// without its JSON yet (see [`with_json`]): deciding whether a batch is due must
/// stay cheap.
fn stored_events() -> Vec<Queued> {
    browser::stored_keys(QUEUE_PREFIX)
        .iter()
        .filter_map(|key| {
            let (visitor, at, id) = parse_key(key)?;
            Some(Queued {
                visitor: String::from(visitor),
                at,
                id: String::from(id),
                json: String::new(),
            })
        })
        .collect()
}

/// The event with its JSON, read from storage if it came from there; `None` if
/// another tab has delivered it in the meantime.
fn with_json(mut event: Queued) -> Option<Queued> {
    if event.json.is_empty() {
        event.json = browser::load(&key(&event))?;
    }
    Some(event)
}

/// Keeps the stored queue within its bound, dropping the oldest events.
fn bound_stored_queue() {
    let mut keys: Vec<(i64, String)> = browser::stored_keys(QUEUE_PREFIX)
        .into_iter()
        .filter_map(|key| Some((parse_key(&key)?.1, key)))
        .collect();
    // Rarely more than a few over: a scan per event dropped beats a sort.
    while keys.len() > MAX_QUEUED_EVENTS {
        let Some(oldest) = (0..keys.len()).min_by_key(|&index| keys[index].0) else {
            return;
        };
        browser::remove(&keys.swap_remove(oldest).1);
    }
}

/// `hw.q.<visitor>.<time>.<event id>`
fn key(event: &Queued) -> String {
    let mut at = itoa::Buffer::new();
    [
        QUEUE_PREFIX,
        &event.visitor,
        ".",
        at.format(event.at),
        ".",
        &event.id,
    ]
    .concat()
}

fn parse_key(key: &str) -> Option<(&str, i64, &str)> {
    let rest = key.strip_prefix(QUEUE_PREFIX)?;
    let visitor = until_any(rest, b".");
    let rest = after_byte(rest, b'.')?;
    let at = until_any(rest, b".");
    Some((visitor, browser::whole_number(at)?, after_byte(rest, b'.')?))
}

impl Queued {
    fn copy(&self) -> Queued {
        Queued {
            visitor: self.visitor.clone(),
            at: self.at,
            id: self.id.clone(),
            json: self.json.clone(),
        }
    }
}
