//! The tracker's state on a page, how an event is made and queued, and what the
//! visitor and the site allow: the site's consent mode, Do Not Track and Global
//! Privacy Control, and the visitor's consent calls.
//!
//! Until the site's configuration arrives nothing is kept in the browser: events
//! wait in memory, and move to storage (or are sent, or dropped) once the tracker
//! knows what the site and the visitor allow.

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use headwater_core::session::is_current;
use headwater_core::wire::{MAX_URL_LENGTH, after_byte, clip_bytes, is_id, until_any};
use headwater_core::{EngagementProfile, Event, EventDetail};

use crate::browser;
use crate::config::{Consent, SiteConfig};
use crate::delivery::{self, Delivery, Queued};
use crate::forms;
use crate::page::Page;

const VISITOR_KEY: &str = "hw.visitor";
const SESSION_KEY: &str = "hw.session";
const PROFILE_KEY: &str = "hw.profile";
/// `granted` or `denied`: the visitor's last consent call.
const CONSENT_KEY: &str = "hw.consent";
const DEBUG_KEY: &str = "hw.debug";
const DEBUG_LOG_KEY: &str = "hw.debug.produced";

/// The tracker, shared by its listeners.
pub type Shared = RefCell<Tracker>;

pub struct Tracker {
    pub site: String,
    pub status: Status,
    /// Empty while unknown, and for a tracker that keeps nothing in storage.
    pub visitor_id: String,
    /// The session as this page knows it: its id and its last event's time.
    session: (String, i64),
    pub config: Option<SiteConfig>,
    /// The configuration as the glue hands it over, piece by piece.
    pub incoming: SiteConfig,
    pub profile: EngagementProfile,
    /// Events recorded before the behaviours they may match were known.
    unprofiled: Vec<Event>,
    pub page: Page,
    pub delivery: Delivery,
    /// A consent call made before the configuration arrived.
    consent_call: Option<bool>,
    /// Overlays opened on this page, by form id.
    pub overlays_shown: Vec<String>,
    debug: bool,
}

/// What the tracker may do.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The site's configuration has not arrived yet: events wait in memory.
    Waiting,
    /// Tracking; `persist` says whether ids and the queue live in storage.
    Tracking { persist: bool },
    /// The site requires consent and has not had it: events wait in memory and
    /// nothing is sent.
    AwaitingConsent,
    /// The visitor asked not to be tracked, or declined: nothing is recorded.
    Off,
}

impl Tracker {
    pub fn new(site: String) -> Tracker {
        Tracker {
            site,
            status: Status::Waiting,
            visitor_id: String::new(),
            session: (String::new(), 0),
            config: None,
            incoming: SiteConfig::default(),
            // What earlier pages saw. Reading what was stored with the visitor's
            // leave is allowed before the mode is known; nothing is written until then.
            profile: browser::load(PROFILE_KEY)
                .and_then(|text| EngagementProfile::from_storage(&text))
                .unwrap_or_default(),
            unprofiled: Vec::new(),
            page: Page::new(browser::now()),
            delivery: Delivery::new(browser::now()),
            consent_call: None,
            overlays_shown: Vec::new(),
            debug: browser::load(DEBUG_KEY).as_deref() == Some("1"),
        }
    }

    pub fn may_send(&self) -> bool {
        matches!(self.status, Status::Tracking { .. })
    }

    pub fn persists(&self) -> bool {
        self.status == Status::Tracking { persist: true }
    }

    /// The visitor id a form identifies with: the tracked visitor's, or, where the
    /// tracker keeps no id, one for this page alone.
    pub fn form_visitor_id(&mut self) -> String {
        if self.visitor_id.is_empty() {
            self.visitor_id = browser::new_id();
        }
        self.visitor_id.clone()
    }

    /// The session's id as an event now would carry it.
    pub fn session_id_now(&mut self) -> String {
        self.session_id(browser::now())
    }

    /// The current session's id, starting a new one after a long pause. Kept in
    /// storage when allowed, so that every tab of the visitor shares it; read from
    /// there while the consent mode is unknown, so a page's first events join the
    /// session of the page before.
    fn session_id(&mut self, now: i64) -> String {
        let may_read = matches!(
            self.status,
            Status::Waiting | Status::Tracking { persist: true }
        );
        let stored = if may_read {
            browser::load(SESSION_KEY)
        } else {
            None
        };
        let stored = stored.as_deref().and_then(parse_session);
        let (id, last) = match stored {
            Some((id, last)) if last > self.session.1 => (String::from(id), last),
            _ => self.session.clone(),
        };
        let id = if !id.is_empty() && is_current(last, now) {
            id
        } else {
            browser::new_id()
        };
        if self.persists() {
            let mut at = itoa::Buffer::new();
            browser::save(SESSION_KEY, &[id.as_str(), " ", at.format(now)].concat());
        }
        self.session = (id.clone(), now);
        id
    }
}

/// Makes an event of what happened, adds it to the profile and queues it.
pub fn record(shared: &Shared, detail: EventDetail) {
    {
        let mut tracker = shared.borrow_mut();
        if tracker.status == Status::Off {
            return;
        }
        let now = browser::now();
        let event = Event {
            id: browser::new_id(),
            session_id: tracker.session_id(now),
            at: now,
            url: String::from(clip_bytes(&tracker.page.url, MAX_URL_LENGTH)),
            referrer: String::from(clip_bytes(&tracker.page.referrer, MAX_URL_LENGTH)),
            detail,
        };
        if tracker.debug {
            log_for_debugging(&event);
        }
        let queued = Queued::new(&tracker.visitor_id, now, &event.id, event.to_json());
        let persist = tracker.persists();
        tracker.delivery.enqueue(queued, persist);
        let tracker = &mut *tracker;
        match &tracker.config {
            Some(config) => {
                tracker.profile.record(&event, &config.behaviours);
                save_profile(tracker);
            }
            None => tracker.unprofiled.push(event),
        }
    }
    forms::check_engagement(shared);
}

/// The configuration has arrived: decide what the site and the visitor allow,
/// then begin.
pub fn configure(shared: &Shared, config: SiteConfig) {
    {
        let mut tracker = shared.borrow_mut();
        let tracker = &mut *tracker;
        for event in core::mem::take(&mut tracker.unprofiled) {
            tracker.profile.record(&event, &config.behaviours);
        }
        let declined = tracker.consent_call == Some(false)
            || browser::load(CONSENT_KEY).as_deref() == Some("denied");
        let granted = tracker.consent_call == Some(true)
            || browser::load(CONSENT_KEY).as_deref() == Some("granted");
        let refuses = config.respect_do_not_track && browser::asks_not_to_be_tracked();
        let consent = config.consent;
        tracker.config = Some(config);
        if refuses || declined {
            stop(tracker);
        } else {
            match consent {
                Consent::NotNeeded => begin(tracker, true),
                Consent::Required if granted => begin(tracker, true),
                Consent::Required => tracker.status = Status::AwaitingConsent,
                Consent::Cookieless => begin(tracker, false),
            }
        }
    }
    crate::page::watch_configured(shared);
    forms::mount_inline(shared);
    forms::check_engagement(shared);
    delivery::flush(shared, false);
}

/// `headwater('consent', grant)`: the visitor's answer, kept for later pages.
pub fn consent(shared: &Shared, grant: bool) {
    {
        let mut tracker = shared.borrow_mut();
        let tracker = &mut *tracker;
        tracker.consent_call = Some(grant);
        browser::save(CONSENT_KEY, if grant { "granted" } else { "denied" });
        match (grant, tracker.status) {
            (true, Status::AwaitingConsent) => begin(tracker, true),
            (true, Status::Off) if !refuses_tracking(tracker) => begin(tracker, true),
            (false, _) => {
                stop(tracker);
                forget_visitor();
            }
            _ => {}
        }
    }
    delivery::flush(shared, false);
}

/// `headwater('reset')`: somebody else is at this computer. The queued events go
/// out as the old visitor's (each remembers its visitor); the new visitor gets a
/// new anonymous id, session and profile.
pub fn reset(shared: &Shared) {
    delivery::flush(shared, true);
    let mut tracker = shared.borrow_mut();
    let tracker = &mut *tracker;
    if tracker.persists() {
        tracker.visitor_id = browser::new_id();
        browser::save(VISITOR_KEY, &tracker.visitor_id);
        browser::remove(SESSION_KEY);
    } else if !tracker.visitor_id.is_empty() {
        tracker.visitor_id = browser::new_id();
    }
    tracker.session = (String::new(), 0);
    tracker.profile = EngagementProfile::default();
    save_profile(tracker);
}

/// Starts tracking, in storage (`persist`) if the browser allows it.
fn begin(tracker: &mut Tracker, persist: bool) {
    let stored_visitor = if persist { stored_visitor_id() } else { None };
    let persist = stored_visitor.is_some();
    tracker.status = Status::Tracking { persist };
    if let Some(visitor) = stored_visitor {
        tracker.visitor_id = visitor;
        save_profile(tracker);
    }
    let visitor = tracker.visitor_id.clone();
    tracker.delivery.adopt_memory(&visitor, persist);
}

fn stop(tracker: &mut Tracker) {
    tracker.status = Status::Off;
    tracker.delivery.discard_memory();
}

fn refuses_tracking(tracker: &Tracker) -> bool {
    tracker
        .config
        .as_ref()
        .is_some_and(|config| config.respect_do_not_track)
        && browser::asks_not_to_be_tracked()
}

/// Removes what identifies the visitor from storage: its id, session, profile and
/// queued events. The consent answer itself stays, so later pages honour it.
fn forget_visitor() {
    for key in [VISITOR_KEY, SESSION_KEY, PROFILE_KEY] {
        browser::remove(key);
    }
    delivery::discard_stored();
}

/// The visitor's id in storage, made and stored on first use; `None` when the
/// browser refuses storage.
fn stored_visitor_id() -> Option<String> {
    if let Some(id) = browser::load(VISITOR_KEY).filter(|id| is_id(id)) {
        return Some(id);
    }
    let id = browser::new_id();
    browser::save(VISITOR_KEY, &id).then_some(id)
}

fn parse_session(text: &str) -> Option<(&str, i64)> {
    let last = after_byte(text, b' ')?;
    Some((until_any(text, b" "), browser::whole_number(last)?))
}

fn save_profile(tracker: &Tracker) {
    if tracker.persists() {
        browser::save(PROFILE_KEY, &tracker.profile.to_storage());
    }
}

/// With `localStorage['hw.debug'] = '1'`, every event is logged to the console and
/// its id kept, so a developer (or a test) can compare with what the server stored.
fn log_for_debugging(event: &Event) {
    let produced = browser::load(DEBUG_LOG_KEY).unwrap_or_default();
    let earlier = produced
        .trim()
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or("");
    let separator = if earlier.trim().is_empty() { "" } else { "," };
    let log = ["[", earlier, separator, "\"", &event.id, "\"]"].concat();
    browser::save(DEBUG_LOG_KEY, &log);
    browser::log(event.detail.kind());
}
