//! Handoffs to the backend pipeline: the JSON a receiver gets, its signature, and the
//! worker that drains the outbox with retries.
//!
//! Every delivery is a POST with these headers:
//! - `Headwater-Event`: what happened (`mql`);
//! - `Idempotency-Key`: the handoff's id, the same on every retry;
//! - `Headwater-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//!   `"<t>.<body>"` with the site's handoff secret. Receivers recompute it and
//!   should refuse timestamps more than a few minutes old.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::{Notify, watch};

use crate::clock::{now_ms, rfc3339};
use crate::config::{Config, SiteConfig, WebhookConfig, WebhookEvent};
use crate::store::Store;
use crate::store::contacts::Contact;
use crate::store::outbox::{self, PendingHandoff};
use crate::telemetry;
use headwater_core::stage::{Actor, Stage};
use headwater_core::{Event, Verdict};
use sqlx::AnyConnection;

pub const SIGNATURE_HEADER: &str = "headwater-signature";
pub const EVENT_HEADER: &str = "headwater-event";
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// How many of the contact's latest events a handoff carries.
const RECENT_EVENTS: usize = 20;
/// Due handoffs taken per round.
const DELIVERIES_PER_ROUND: i64 = 32;
/// The worker looks at the outbox at least this often, even if nobody wakes it.
const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// A claimed handoff stays with its worker for the delivery timeout plus this.
const LEASE_MARGIN_MS: u64 = 30_000;

/// A stage change to tell webhooks about.
pub struct Announcement<'a> {
    pub event: WebhookEvent,
    pub contact: &'a Contact,
    pub from: Stage,
    pub actor: &'a Actor,
    pub reason: &'a str,
    /// The verdict the lead was judged on, when it has one.
    pub verdict: Option<&'a Verdict>,
    /// The contact's events, oldest first; the latest ones travel with the handoff.
    pub events: &'a [Event],
}

/// Queues the announcement for every webhook of the site that listens for it, one
/// outbox row (and id) each. Returns how many were queued.
pub async fn enqueue(
    connection: &mut AnyConnection,
    site: &SiteConfig,
    announcement: &Announcement<'_>,
    now: i64,
) -> anyhow::Result<usize> {
    let mut queued = 0;
    for webhook in site.webhooks_for(announcement.event) {
        let id = outbox::new_id();
        let body = payload(&id, announcement, now).to_string();
        let kind = event_name(announcement.event);
        let contact = &announcement.contact.id;
        outbox::enqueue(
            connection,
            &id,
            &site.id,
            &webhook.name,
            contact,
            kind,
            &body,
            now,
        )
        .await?;
        queued += 1;
    }
    Ok(queued)
}

/// The body of a handoff.
pub fn payload(id: &str, announcement: &Announcement<'_>, now: i64) -> Value {
    let contact = announcement.contact;
    let recent: Vec<Value> = announcement
        .events
        .iter()
        .rev()
        .take(RECENT_EVENTS)
        .map(|event| {
            let behaviour = event.detail.name();
            json!({
                "kind": event.detail.kind(),
                "url": event.url,
                "behaviour": behaviour,
                "at": rfc3339(event.at),
            })
        })
        .collect();
    let answer = |name: &str| contact.answers.get(name).cloned();
    let verdict = announcement.verdict;
    json!({
        "id": id,
        "event": event_name(announcement.event),
        "site": contact.site_id,
        "occurred_at": rfc3339(now),
        "stage_change": {
            "from": announcement.from,
            "to": contact.stage,
            "actor": announcement.actor.to_string(),
            "reason": announcement.reason,
        },
        "contact": {
            "id": contact.id,
            "email": contact.email,
            "name": answer("name"),
            "role": answer("role"),
            "answers": contact.answers,
        },
        "company": { "name": answer("company"), "size": answer("company_size") },
        "score": verdict.map(|verdict| {
            json!({ "fit": verdict.fit, "engagement": verdict.engagement })
        }),
        "explanation": verdict.map(|verdict| {
            json!({ "summary": verdict.to_string(), "reasons": verdict.reasons })
        }),
        "recent_behaviour": recent,
    })
}

fn event_name(event: WebhookEvent) -> &'static str {
    match event {
        WebhookEvent::Mql => "mql",
        WebhookEvent::Sal => "sal",
        WebhookEvent::Sql => "sql",
        WebhookEvent::Customer => "customer",
        WebhookEvent::Recycled => "recycled",
        WebhookEvent::SlaBreach => "sla_breach",
    }
}

/// The `Headwater-Signature` value for a body sent at `timestamp` (Unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The delay before attempt `attempts + 1`: doubling from the initial delay up to
/// the cap, then jittered down by up to half so that retries spread out.
pub fn backoff_ms(handoff: &WebhookConfig, attempts: u32, jitter: f64) -> u64 {
    let doubling = 1u64
        .checked_shl(attempts.saturating_sub(1))
        .unwrap_or(u64::MAX);
    let full = handoff
        .initial_backoff_ms
        .saturating_mul(doubling)
        .min(handoff.max_backoff_ms);
    let jitter = jitter.clamp(0.0, 1.0);
    full - (full as f64 * 0.5 * jitter) as u64
}

/// Delivers the outbox until `shutdown` turns true. `wake` is notified whenever a
/// handoff is queued, so deliveries start at once rather than at the next poll.
pub async fn run(
    store: Store,
    config: Arc<Config>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = reqwest::Client::new();
    while !*shutdown.borrow() {
        let delivered_some = match deliver_due(&store, &config, &client).await {
            Ok(count) => count > 0,
            Err(error) => {
                tracing::error!(error = ?error, "handoff worker could not read the outbox");
                false
            }
        };
        if delivered_some {
            continue;
        }

        if let Ok(pending) = outbox::pending_count(store.reader()).await {
            telemetry::outbox_pending(pending);
        }
        let wait = match outbox::next_due_at(store.reader()).await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)),
            _ => POLL_INTERVAL,
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait.min(POLL_INTERVAL)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn deliver_due(
    store: &Store,
    config: &Config,
    client: &reqwest::Client,
) -> anyhow::Result<usize> {
    let longest_timeout = config
        .sites
        .iter()
        .flat_map(|site| &site.webhooks)
        .map(|webhook| webhook.timeout_ms)
        .max()
        .unwrap_or(0);
    let lease = i64::try_from(longest_timeout + LEASE_MARGIN_MS).unwrap_or(i64::MAX / 4);
    let due = outbox::claim_due(store, now_ms(), DELIVERIES_PER_ROUND, lease).await?;
    for handoff in &due {
        deliver(store, config, client, handoff).await?;
    }
    Ok(due.len())
}

async fn deliver(
    store: &Store,
    config: &Config,
    client: &reqwest::Client,
    handoff: &PendingHandoff,
) -> anyhow::Result<()> {
    let span = tracing::info_span!(
        "handoff",
        id = %handoff.id,
        site = %handoff.site_id,
        kind = %handoff.kind,
        webhook = handoff.webhook.as_deref().unwrap_or("")
    );
    let _entered = span.enter();
    let attempts = handoff.attempts + 1;
    let site = config.site(&handoff.site_id);
    let target = site.and_then(|site| match &handoff.webhook {
        Some(name) => site.webhook(name),
        None => site.webhooks.first(),
    });
    let Some(target) = target else {
        let mut tx = store.begin().await?;
        outbox::mark_failed(
            &mut tx,
            &handoff.id,
            attempts,
            None,
            "the webhook is no longer configured",
        )
        .await?;
        tx.commit().await?;
        tracing::warn!("handoff dead: its webhook is no longer configured");
        return Ok(());
    };

    let now = now_ms();
    let signature = sign(&target.secret, now / 1000, handoff.payload.as_bytes());
    let response = client
        .post(&target.url)
        .timeout(Duration::from_millis(target.timeout_ms))
        .header("content-type", "application/json")
        .header(EVENT_HEADER, &handoff.kind)
        .header(IDEMPOTENCY_HEADER, &handoff.id)
        .header(SIGNATURE_HEADER, signature)
        .body(handoff.payload.clone())
        .send()
        .await;
    let failure = match response {
        Ok(response) if response.status().is_success() => None,
        Ok(response) => Some(format!("receiver answered {}", response.status())),
        Err(error) => Some(format!("could not reach the receiver: {error}")),
    };

    let mut tx = store.begin().await?;
    match failure {
        None => {
            outbox::mark_delivered(&mut tx, &handoff.id, attempts, now_ms()).await?;
            telemetry::handoff("delivered");
            tracing::info!(attempts, "handoff delivered");
        }
        Some(error) if attempts >= i64::from(target.max_attempts) => {
            outbox::mark_failed(&mut tx, &handoff.id, attempts, None, &error).await?;
            telemetry::handoff("dead");
            tracing::warn!(attempts, %error, "handoff dead after its last attempt");
        }
        Some(error) => {
            let attempts_made = u32::try_from(attempts).unwrap_or(u32::MAX);
            let delay = backoff_ms(target, attempts_made, rand::thread_rng().r#gen::<f64>());
            let retry_at = now_ms() + i64::try_from(delay).unwrap_or(i64::MAX / 2);
            outbox::mark_failed(&mut tx, &handoff.id, attempts, Some(retry_at), &error).await?;
            telemetry::handoff("failed");
            tracing::info!(attempts, delay_ms = delay, %error, "handoff failed, will retry");
        }
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handoff() -> WebhookConfig {
        WebhookConfig {
            name: "crm".into(),
            events: vec![WebhookEvent::Mql],
            url: "http://127.0.0.1:9/".into(),
            secret: "0123456789abcdef".into(),
            max_attempts: 5,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 60_000,
            timeout_ms: 1_000,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_takes_at_most_half() {
        let cases = [
            (1, 0.0, 1_000),
            (2, 0.0, 2_000),
            (3, 0.0, 4_000),
            (7, 0.0, 60_000),
            (40, 0.0, 60_000),
            (2, 1.0, 1_000),
            (2, 0.5, 1_500),
        ];
        for (attempts, jitter, expected) in cases {
            assert_eq!(
                backoff_ms(&handoff(), attempts, jitter),
                expected,
                "attempt {attempts}, jitter {jitter}"
            );
        }
    }

    #[test]
    fn the_default_retries_outlast_a_receiver_down_for_an_hour() {
        let defaults: WebhookConfig = toml::from_str(
            "name = 'crm'\nurl = 'https://crm.example/hook'\nsecret = '0123456789abcdef'",
        )
        .unwrap();
        // The shortest possible wait: every delay jittered down by the full half.
        let waited_ms: u64 = (1..defaults.max_attempts)
            .map(|attempt| backoff_ms(&defaults, attempt, 1.0))
            .sum();
        assert!(
            waited_ms >= 3_600_000,
            "only {} minutes of retries",
            waited_ms / 60_000
        );
    }

    #[test]
    fn signature_matches_a_known_value() {
        // Computed independently with openssl:
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 0123456789abcdef
        assert_eq!(
            sign("0123456789abcdef", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=9eb18f493f8ec135d9eb2dad817c369bb4e9cbfa818657897a7437c1cd8c3a23"
        );
    }
}
