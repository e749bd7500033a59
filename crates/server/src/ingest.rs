//! Group commit for the collector. Every accepted batch goes to a writer task,
//! which takes all the batches waiting at that moment and writes them in one
//! transaction with a few set-based statements: one read of the visitors seen
//! (their contacts, whether those are identified, the visitors' kept touches,
//! address and `last_seen`), one multi-row insert of the events, one update of
//! the visitors whose kept columns change (touches, address, `last_seen` once a
//! minute), and an evaluation of the identified contacts only. Each request is answered
//! after that commit, so an acknowledged event survives a crash; a busy site pays
//! for one commit per group instead of one per request.
//!
//! A group that fails is written again batch by batch, so a fault in one batch
//! fails that batch alone.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use headwater_core::attribution::touch_of;
use headwater_core::{Event, EventBatch, EventDetail};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use crate::attribution;
use crate::settings::LiveSites;
use crate::store::{Backend, Store, contacts, events, visitors};
use crate::{leads, telemetry};

/// A group takes at most this many batches, so that its statements stay within
/// both databases' limits on bound parameters...
const MAX_GROUP_BATCHES: usize = 512;
/// ...and stops taking more once it holds this many events, so that one commit
/// stays a matter of milliseconds.
const MAX_GROUP_EVENTS: usize = 4096;
/// Writer tasks per process on PostgreSQL: overlapping transactions hide the
/// network round trips. SQLite has one writer connection, so one task.
const POSTGRES_WRITERS: usize = 4;

/// The way into the writer tasks. Dropping it stops them once they are idle.
pub struct Ingest {
    jobs: mpsc::UnboundedSender<Job>,
}

/// What writing one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Events stored for the first time.
    pub stored: u64,
    /// Events whose id was already stored (by an earlier delivery, or by another
    /// batch of the same group).
    pub duplicates: u64,
}

struct Job {
    batch: EventBatch,
    now: i64,
    /// What the site's privacy setting keeps of the sender's address, if anything.
    address: Option<String>,
    reply: oneshot::Sender<anyhow::Result<Written>>,
}

impl Ingest {
    /// Starts the writer tasks. `handoffs` is woken when a promotion queued a
    /// handoff.
    ///
    /// On SQLite the writer runs on a thread of its own: each of its statements is
    /// a trip to sqlx's SQLite thread and back, and woken from there on the shared
    /// runtime it would wait behind every request task queued meanwhile, once per
    /// statement. On PostgreSQL the writers stay on the current runtime, whose
    /// reactor drives their connections.
    pub fn start(store: Store, sites: Arc<LiveSites>, handoffs: Arc<Notify>) -> Ingest {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(Mutex::new(receiver));
        let writer = |receiver| {
            let writer = Writer {
                store: store.clone(),
                sites: sites.clone(),
                handoffs: handoffs.clone(),
            };
            writer.run(receiver)
        };
        match store.backend() {
            Backend::Sqlite => {
                let run = writer(receiver);
                let thread = std::thread::Builder::new()
                    .name("headwater-writer".into())
                    .spawn(move || {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build();
                        match runtime {
                            Ok(runtime) => runtime.block_on(run),
                            Err(error) => {
                                tracing::error!(error = %error, "the event writer cannot start");
                            }
                        }
                    });
                if let Err(error) = thread {
                    tracing::error!(error = %error, "the event writer cannot start");
                }
            }
            Backend::Postgres => {
                for _ in 0..POSTGRES_WRITERS {
                    tokio::spawn(writer(receiver.clone()));
                }
            }
        }
        Ingest { jobs }
    }

    /// Writes a validated batch and answers once it is committed. The time `now`
    /// is when the server received it; `address` is what the site keeps of the
    /// sender's address.
    pub async fn write(
        &self,
        batch: EventBatch,
        now: i64,
        address: Option<String>,
    ) -> anyhow::Result<Written> {
        let (reply, written) = oneshot::channel();
        self.jobs
            .send(Job {
                batch,
                now,
                address,
                reply,
            })
            .map_err(|_| anyhow!("the event writer has stopped"))?;
        written.await.context("the event writer has stopped")?
    }
}

struct Writer {
    store: Store,
    sites: Arc<LiveSites>,
    handoffs: Arc<Notify>,
}

impl Writer {
    async fn run(self, receiver: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>) {
        loop {
            let group = {
                let mut receiver = receiver.lock().await;
                let Some(first) = receiver.recv().await else {
                    return;
                };
                take_group(first, &mut receiver)
            };
            self.write_and_answer(group).await;
        }
    }

    async fn write_and_answer(&self, group: Vec<Job>) {
        let written = self.write_group(&group).await;
        match written {
            Ok(written) => {
                for (job, written) in group.into_iter().zip(written) {
                    // A client that went away still had its events stored; its retry
                    // will count them as duplicates.
                    let _ = job.reply.send(Ok(written));
                }
            }
            Err(error) if group.len() > 1 => {
                tracing::warn!(batches = group.len(), error = %error,
                    "a group of batches failed; writing them one by one");
                for job in group {
                    let alone = self.write_group(std::slice::from_ref(&job)).await;
                    let _ = job.reply.send(alone.map(|written| written[0]));
                }
            }
            Err(error) => {
                for job in group {
                    let _ = job.reply.send(Err(anyhow!("{error:#}")));
                }
            }
        }
    }

    /// Writes the group's batches in one transaction; what each batch did, in order.
    async fn write_group(&self, group: &[Job]) -> anyhow::Result<Vec<Written>> {
        let now = group.iter().map(|job| job.now).max().unwrap_or_default();
        let mut tx = self.store.begin_write_first().await?;

        // A visitor first seen here is attributed to its first event in the group.
        let mut visitors: BTreeMap<(&str, &str), attribution::Touch> = BTreeMap::new();
        for job in group {
            let visitor = (job.batch.site.as_str(), job.batch.visitor_id.as_str());
            visitors.entry(visitor).or_insert_with(|| {
                let first = job.batch.events.iter().min_by_key(|event| event.at);
                first.map_or_else(attribution::Touch::default, |event| {
                    attribution::first_touch(&event.url, &event.referrer)
                })
            });
        }
        let seen = contacts::contacts_of_visitors(&mut tx, &visitors, now).await?;

        let rows: Vec<events::NewEvent> = group
            .iter()
            .flat_map(|job| {
                job.batch.events.iter().map(|event| events::NewEvent {
                    batch: &job.batch,
                    event,
                    occurred_at: job.batch.corrected_time(event.at, job.now),
                    received_at: job.now,
                })
            })
            .collect();
        let inserted = events::insert_new(&mut tx, &rows).await?;
        note_visits(&mut tx, group, &seen, &inserted, now).await?;

        // The first occurrence of an inserted id is the stored one; any other
        // occurrence, in this group or before it, is a duplicate. Only identified
        // contacts have a lead definition to evaluate, so only their events are kept
        // for it.
        let mut written = vec![Written::default(); group.len()];
        let mut claimed: HashSet<&str> = HashSet::new();
        let mut new_events: BTreeMap<&str, (&str, Vec<Event>)> = BTreeMap::new();
        let mut row = rows.iter();
        for (index, job) in group.iter().enumerate() {
            let site = job.batch.site.as_str();
            let visitor = &seen[&(site, job.batch.visitor_id.as_str())];
            let contact = visitor.contact_id.as_str();
            for new in row.by_ref().take(job.batch.events.len()) {
                let id = new.event.id.as_str();
                if inserted.contains(id) && claimed.insert(id) {
                    written[index].stored += 1;
                    if !visitor.identified {
                        continue;
                    }
                    let stored = Event {
                        at: new.occurred_at,
                        ..new.event.clone()
                    };
                    new_events
                        .entry(contact)
                        .or_insert((site, Vec::new()))
                        .1
                        .push(stored);
                } else {
                    written[index].duplicates += 1;
                }
            }
        }

        // Evaluated in the same transaction: the kept profile then counts each
        // stored event exactly once. Contacts in id order, so that concurrent
        // writers on PostgreSQL take their locks in one order.
        let mut queued = 0;
        let sites = self.sites.snapshot();
        for (contact, (site_id, stored)) in &new_events {
            let site = sites.site(site_id).context("a batch names no site")?;
            let update = leads::Update::NewEvents(stored);
            let evaluation = leads::evaluate_in(&mut tx, site, contact, update, now).await?;
            queued += evaluation.map_or(0, |evaluation| evaluation.queued);
        }
        tx.commit().await?;
        telemetry::group_committed(group.len());

        if queued > 0 {
            self.handoffs.notify_one();
        }
        Ok(written)
    }
}

/// What the group brings to each visitor: the campaign touches of the page views
/// stored now (in the order the batches came), what the site keeps of the
/// visitor's latest address, and that it was seen at `now`. Noted in one
/// statement for the whole group, on the visitors whose kept columns change.
async fn note_visits(
    tx: &mut crate::store::Tx,
    group: &[Job],
    seen: &HashMap<(&str, &str), contacts::SeenVisitor>,
    inserted: &HashSet<&str>,
    now: i64,
) -> anyhow::Result<()> {
    let mut visits: BTreeMap<(&str, &str), visitors::Visit> = BTreeMap::new();
    for job in group {
        let batch = &job.batch;
        let key = (batch.site.as_str(), batch.visitor_id.as_str());
        let visit = visits.entry(key).or_insert_with(|| {
            let visitor = &seen[&key];
            visitors::Visit {
                kept: visitor.touches.clone(),
                kept_address: visitor.address.clone(),
                kept_last_seen: visitor.last_seen,
                seen_at: now,
                ..visitors::Visit::default()
            }
        });
        let touches = batch
            .events
            .iter()
            .filter(|event| inserted.contains(event.id.as_str()))
            .filter(|event| matches!(event.detail, EventDetail::PageView { .. }))
            .filter_map(|event| {
                let at = batch.corrected_time(event.at, job.now);
                touch_of(&event.url, &event.referrer, at)
            });
        visit.touches.extend(touches);
        if job.address.is_some() {
            visit.address.clone_from(&job.address);
        }
    }
    visitors::note_visits(tx, &visits).await
}

/// The first job and whatever else is waiting, within the group's limits.
///
/// FIXME: the collector stays well short of issue 6's 50,000 events a second.
/// A visitor's row is no longer rewritten for every batch, but each event still
/// lands in two random pages (the events' id index and the events-by-visitor
/// index), and each group costs its statements' round trips to sqlx's SQLite
/// thread and their parsing: about 100 us of CPU per one-event request on two
/// shared cores. Waiting a moment for more batches, a larger SQLite cache and
/// rarer checkpoints measured no better (README, Benchmarks). Closing the gap
/// needs a cheaper path per event (statements prepared once per group shape, no
/// `Any` conversion), not more batching.
fn take_group(first: Job, receiver: &mut mpsc::UnboundedReceiver<Job>) -> Vec<Job> {
    let mut events = first.batch.events.len();
    let mut group = vec![first];
    while group.len() < MAX_GROUP_BATCHES && events < MAX_GROUP_EVENTS {
        let Ok(job) = receiver.try_recv() else { break };
        events += job.batch.events.len();
        group.push(job);
    }
    group
}
