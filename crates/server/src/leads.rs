//! The lead engine: evaluates a contact against its site's lead definition after
//! every identification and every batch, stores the verdict with its explanation,
//! and promotes a matching contact to MQL with its handoff, in one transaction.

use headwater_core::stage::{Actor, Move, Stage};
use headwater_core::{EngagementProfile, Verdict};

use crate::app::AppState;
use crate::clock::now_ms;
use crate::config::SiteConfig;
use crate::handoff;
use crate::store::{self, contacts, events, outbox};

/// Evaluates the contact and promotes it if it qualifies. Anonymous contacts have
/// nothing to evaluate and return `None`.
pub async fn evaluate(
    state: &AppState,
    site: &SiteConfig,
    contact_id: &str,
) -> anyhow::Result<Option<Verdict>> {
    let span = tracing::info_span!("evaluate", site = %site.id, contact = %contact_id);
    let _entered = span.enter();
    let now = now_ms();
    let mut tx = state.store().begin().await?;
    // Two evaluations of one contact at once would both see it Known and promote it
    // twice; with PostgreSQL and several processes, that can happen.
    store::lock(&mut tx, &format!("contact {contact_id}")).await?;

    let contact = contacts::load(&mut tx, contact_id).await?;
    if contact.email.is_none() {
        return Ok(None);
    }
    let history = events::of_contact(&mut tx, contact_id).await?;
    let profile = EngagementProfile::from_events(&history, &site.behaviours);
    let verdict = site.lead_definition.evaluate(&contact.answers, &profile);
    contacts::save_verdict(&mut tx, contact_id, &verdict, now).await?;

    let promote = verdict.mql && matches!(contact.stage, Stage::Known | Stage::Recycled);
    let mut queued = false;
    if promote {
        let reason = verdict.to_string();
        let step = contacts::move_stage(
            &mut tx,
            &contact,
            Stage::Mql,
            &Actor::LeadDefinition,
            &reason,
            now,
        )
        .await??;
        if step == Move::To(Stage::Mql) && site.handoff.is_some() {
            let id = outbox::new_id();
            let promoted = contacts::Contact {
                stage: Stage::Mql,
                ..contact
            };
            let body = handoff::payload(&id, "mql", &promoted, &verdict, &history, now);
            outbox::enqueue(
                &mut tx,
                &id,
                &site.id,
                contact_id,
                "mql",
                &body.to_string(),
                now,
            )
            .await?;
            queued = true;
        }
    }
    tx.commit().await?;

    tracing::info!(
        mql = verdict.mql,
        fit = verdict.fit.score,
        engagement = verdict.engagement.score,
        promoted = promote,
        "lead evaluated"
    );
    if queued {
        state.wake_handoffs();
    }
    Ok(Some(verdict))
}
