//! The lead engine: evaluates a contact against its site's lead definition after
//! every identification and every batch (behaviours' points from its events, and
//! each submitted form's points once), stores the verdict with its explanation,
//! and promotes a matching contact to MQL; and the moves people make through the
//! waterfall after that. A stage change and the handoffs announcing it are
//! written in one transaction.

use headwater_core::form::award_form_points;
use headwater_core::stage::{Actor, Move, Stage};
use headwater_core::{EngagementProfile, Event};
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::config::{SiteConfig, WebhookEvent};
use crate::error::ApiError;
use crate::handoff::{self, Announcement};
use crate::store::{self, Tx, contacts, events, submissions};

/// What a move asked through the API did.
#[derive(Debug, Serialize)]
pub struct MoveOutcome {
    pub contact_id: String,
    pub stage: Stage,
    /// False when the lead was already in the stage asked for.
    pub changed: bool,
}

/// What changed since the contact was last evaluated.
pub enum Update<'a> {
    /// These events were just stored: add them to the kept profile.
    NewEvents(&'a [Event]),
    /// Rebuild the profile from every stored event that counts (after stitching
    /// visitors together, or after the configuration changed).
    Rebuild,
}

/// What an evaluation did.
pub struct Evaluation {
    /// The contact became an MQL.
    pub promoted: bool,
    /// Handoffs queued by the promotion: wake the worker after committing.
    pub queued: usize,
}

/// Evaluates the contact within `tx`, stores the verdict and the profile, and
/// promotes the contact to MQL if it qualifies. Anonymous contacts have nothing to
/// evaluate and give `None`.
///
/// The kept profile is updated with new events (the incremental path) or rebuilt
/// from stored events (the full path); both give the same profile, because
/// recording events is commutative. A recycled contact's profile holds only the
/// engagement since it was returned: it must earn the threshold again.
pub async fn evaluate_in(
    tx: &mut Tx,
    site: &SiteConfig,
    contact_id: &str,
    update: Update<'_>,
    now: i64,
) -> anyhow::Result<Option<Evaluation>> {
    let span = tracing::info_span!("evaluate", site = %site.id, contact = %contact_id);
    let _entered = span.enter();
    // Two evaluations of one contact at once would both see it Known and promote it
    // twice; with PostgreSQL and several processes, that can happen.
    store::lock(tx, &format!("contact {contact_id}")).await?;

    let contact = contacts::load(tx, contact_id).await?;
    if contact.email.is_none() {
        return Ok(None);
    }
    let since = if contact.stage == Stage::Recycled {
        contact.recycled_at
    } else {
        None
    };
    // Forms' points are part of the kept profile. Submissions change only when a
    // visitor identifies, which rebuilds; new events leave them as kept.
    let profile = match (update, contact.profile.clone()) {
        (Update::NewEvents(new), Some(mut profile)) => {
            let counted = new
                .iter()
                .filter(|event| since.is_none_or(|since| event.at > since));
            for event in counted {
                profile.record(event, &site.behaviours);
            }
            profile
        }
        _ => {
            let history = events::of_contact(tx, contact_id, since).await?;
            let mut profile = EngagementProfile::from_events(&history, &site.behaviours);
            let submitted = submissions::first_submitted(tx, contact_id, since).await?;
            award_form_points(&mut profile, &site.forms, &submitted);
            profile
        }
    };
    let verdict = site
        .lead_definition
        .evaluate(&contact.answers, &profile, now);
    contacts::save_verdict(tx, contact_id, &profile, &verdict, now).await?;

    let promote = verdict.mql && matches!(contact.stage, Stage::Known | Stage::Recycled);
    let mut queued = 0;
    if promote {
        let reason = verdict.to_string();
        let actor = Actor::LeadDefinition;
        let step = contacts::move_stage(tx, &contact, Stage::Mql, &actor, &reason, now).await??;
        if step == Move::To(Stage::Mql) {
            let history = events::of_contact(tx, contact_id, None).await?;
            let promoted = contacts::Contact {
                stage: Stage::Mql,
                ..contact.clone()
            };
            let announcement = Announcement {
                event: WebhookEvent::Mql,
                contact: &promoted,
                from: contact.stage,
                actor: &actor,
                reason: &reason,
                verdict: Some(&verdict),
                events: &history,
            };
            queued = handoff::enqueue(tx, site, &announcement, now).await?;
        }
    }

    tracing::info!(
        mql = verdict.mql,
        fit = verdict.fit.score,
        engagement = verdict.engagement.score,
        promoted = promote,
        "lead evaluated"
    );
    Ok(Some(Evaluation {
        promoted: promote,
        queued,
    }))
}

/// Re-evaluates every identified contact of the site from its stored events, as
/// after a change of the lead definition. Returns how many were evaluated and how
/// many of them were promoted.
pub async fn rescore(state: &AppState, site: &SiteConfig) -> anyhow::Result<(usize, usize)> {
    let ids = {
        let mut connection = state.store().reader().acquire().await?;
        contacts::identified(&mut connection, &site.id).await?
    };
    let mut promoted = 0;
    for id in &ids {
        let mut tx = state.store().begin().await?;
        let evaluation = evaluate_in(&mut tx, site, id, Update::Rebuild, now_ms()).await?;
        tx.commit().await?;
        if let Some(evaluation) = evaluation {
            promoted += usize::from(evaluation.promoted);
            if evaluation.queued > 0 {
                state.wake_handoffs();
            }
        }
    }
    tracing::info!(site = %site.id, contacts = ids.len(), promoted, "site re-scored");
    Ok((ids.len(), promoted))
}

/// How a site's contacts would fare under other settings, without writing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preview {
    /// Identified contacts evaluated.
    pub evaluated: usize,
    /// Of them, those whose current verdict says MQL.
    pub mql_now: usize,
    /// Of them, those the other settings would judge MQL.
    pub mql_after: usize,
}

/// Evaluates every identified contact of the site under `candidate` (its behaviours
/// and lead definition) exactly as [`evaluate_in`] would, from stored events, and
/// counts the verdicts; nothing is stored, nobody is promoted.
// FIXME: reads every identified contact's events in turn; past some tens of
// thousands of contacts this wants a sample or a background job with progress.
pub async fn preview(
    state: &AppState,
    candidate: &SiteConfig,
    now: i64,
) -> anyhow::Result<Preview> {
    let mut connection = state.store().reader().acquire().await?;
    let ids = contacts::identified(&mut connection, &candidate.id).await?;
    let mut preview = Preview {
        evaluated: ids.len(),
        mql_now: 0,
        mql_after: 0,
    };
    for id in &ids {
        let contact = contacts::load(&mut connection, id).await?;
        let since = (contact.stage == Stage::Recycled)
            .then_some(contact.recycled_at)
            .flatten();
        let history = events::of_contact(&mut connection, id, since).await?;
        let profile = EngagementProfile::from_events(&history, &candidate.behaviours);
        let verdict = candidate
            .lead_definition
            .evaluate(&contact.answers, &profile, now);
        preview.mql_now += usize::from(contact.verdict.is_some_and(|verdict| verdict.mql));
        preview.mql_after += usize::from(verdict.mql);
    }
    Ok(preview)
}

/// Moves a lead on behalf of a person or system with an API token: checks that the
/// waterfall allows the move (409 otherwise, changing nothing), that the caller's
/// role may make it (403), records it with the caller as actor, and announces it
/// to the webhooks that listen. Asking for the stage the lead is in is a no-op.
pub async fn move_by_person(
    state: &AppState,
    caller: &Caller,
    contact_id: &str,
    to: Stage,
    reason: &str,
) -> Result<MoveOutcome, ApiError> {
    move_by_person_at(state, caller, contact_id, to, reason, now_ms()).await
}

/// [`move_by_person`] at a given moment: the console and the API move leads now;
/// demo seeding replays a simulated history through the same steps.
pub async fn move_by_person_at(
    state: &AppState,
    caller: &Caller,
    contact_id: &str,
    to: Stage,
    reason: &str,
    now: i64,
) -> Result<MoveOutcome, ApiError> {
    // Line breaks are fine in a note; other control characters are not text.
    let line_breaks_aside = reason.replace(['\n', '\r', '\t'], " ");
    if headwater_core::wire::has_control_character(&line_breaks_aside) {
        return Err(ApiError::BadRequest(
            "the reason holds a control character".into(),
        ));
    }

    let mut tx = state.store().begin().await?;
    store::lock(&mut tx, &format!("contact {contact_id}")).await?;
    let contact = contacts::find(&mut tx, contact_id)
        .await?
        .ok_or(ApiError::NotFound)?;

    let refused = |error: headwater_core::StageError| ApiError::RefusedMove(error.to_string());
    let step = contact.stage.check_move(to).map_err(refused)?;
    if step == Move::AlreadyThere {
        return Ok(MoveOutcome {
            contact_id: contact.id,
            stage: to,
            changed: false,
        });
    }
    caller
        .role
        .may_move(contact.stage, to)
        .map_err(|error| ApiError::Forbidden(error.to_string()))?;
    if to == Stage::Recycled && reason.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "returning a lead to marketing needs a reason".into(),
        ));
    }

    let actor = Actor::Person(caller.name.clone());
    contacts::move_stage(&mut tx, &contact, to, &actor, reason, now)
        .await?
        .map_err(refused)?;
    let queued = announce(&mut tx, state, &contact, to, &actor, reason, now).await?;
    tx.commit().await?;
    tracing::info!(contact = %contact.id, to = %to, by = %caller.name, "lead moved by a person");
    if queued > 0 {
        state.wake_handoffs();
    }
    Ok(MoveOutcome {
        contact_id: contact.id,
        stage: to,
        changed: true,
    })
}

/// Queues the handoffs that announce a person's move, if any webhook listens.
async fn announce(
    tx: &mut Tx,
    state: &AppState,
    contact: &contacts::Contact,
    to: Stage,
    actor: &Actor,
    reason: &str,
    now: i64,
) -> anyhow::Result<usize> {
    let site = state.sites().site(&contact.site_id).cloned();
    let (Some(event), Some(site)) = (WebhookEvent::for_stage(to), site) else {
        return Ok(0);
    };
    if site.webhooks_for(event).next().is_none() {
        return Ok(0);
    }
    let history = events::of_contact(tx, &contact.id, None).await?;
    let moved = contacts::Contact {
        stage: to,
        ..contact.clone()
    };
    let announcement = Announcement {
        event,
        contact: &moved,
        from: contact.stage,
        actor,
        reason,
        verdict: contact.verdict.as_ref(),
        events: &history,
    };
    handoff::enqueue(tx, &site, &announcement, now).await
}
