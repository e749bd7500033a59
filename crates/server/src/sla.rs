//! Service levels: a timer that finds leads left in a stage longer than their site
//! allows, records each breach once and announces it to the webhooks that listen.

use std::time::Duration;

use headwater_core::stage::Actor;
use tokio::sync::watch;

use crate::app::AppState;
use crate::clock::now_ms;
use crate::config::WebhookEvent;
use crate::handoff::{self, Announcement};
use crate::store::breaches::{self, Breach};
use crate::store::{contacts, events};

/// How often the timer looks for breaches.
const CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// Checks every site's service levels as of `now`. Returns the breaches recorded.
pub async fn check(state: &AppState, now: i64) -> anyhow::Result<usize> {
    let mut recorded = 0;
    for site in &state.sites().sites {
        for (stage, limit_ms) in site.service_levels.limits() {
            let overdue = {
                let mut connection = state.store().reader().acquire().await?;
                breaches::overdue(&mut connection, &site.id, stage, limit_ms, now).await?
            };
            for (contact_id, entered_at) in overdue {
                let breach = Breach {
                    contact_id,
                    stage: stage.as_str().to_owned(),
                    entered_at,
                    due_at: entered_at + limit_ms,
                    detected_at: now,
                };
                let mut tx = state.store().begin().await?;
                if !breaches::record(&mut tx, &site.id, &breach).await? {
                    continue;
                }
                let contact = contacts::load(&mut tx, &breach.contact_id).await?;
                let history = events::of_contact(&mut tx, &contact.id, None).await?;
                let reason = format!("{stage} not acted on within {} minutes", limit_ms / 60_000);
                let announcement = Announcement {
                    event: WebhookEvent::SlaBreach,
                    contact: &contact,
                    from: stage,
                    actor: &Actor::SlaTimer,
                    reason: &reason,
                    verdict: contact.verdict.as_ref(),
                    events: &history,
                };
                let queued = handoff::enqueue(&mut tx, site, &announcement, now).await?;
                tx.commit().await?;
                tracing::warn!(
                    site = %site.id,
                    contact = %contact.id,
                    %stage,
                    "service level breached"
                );
                recorded += 1;
                if queued > 0 {
                    state.wake_handoffs();
                }
            }
        }
    }
    Ok(recorded)
}

/// Runs [`check`] every minute until `shutdown` turns true.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        if let Err(error) = check(&state, now_ms()).await {
            tracing::error!(error = ?error, "service-level check failed");
        }
        tokio::select! {
            () = tokio::time::sleep(CHECK_INTERVAL) => {}
            _ = shutdown.changed() => {}
        }
    }
}
