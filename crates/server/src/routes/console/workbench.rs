//! The lead workbench: the queues (MQLs for the qualification team, SALs and SQLs
//! for sales, oldest first with the service level's time left), search with
//! filters, the lead page, and the moves people make. Every move goes through the
//! lead engine's [`leads::move_by_person`], as the stage API's do, so webhooks,
//! service levels and the stage record behave the same.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use headwater_core::lead_definition::Half;
use headwater_core::{EventDetail, Role, Stage};
use serde::Deserialize;

use super::{Layout, back_to, chosen_site, duration, local_time, render, require, site_ids};
use crate::accounts::Account;
use crate::app::AppState;
use crate::attribution;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::leads;
use crate::report::Source;
use crate::store::workbench::{self, LeadFilter, LeadRow};
use crate::store::{breaches, contacts, events};

/// Leads one queue or one search shows.
const PAGE: i64 = 200;
/// Events the lead page's timeline shows, latest first.
const TIMELINE: usize = 300;
/// Reasons offered when a lead goes back to marketing; a note can say more.
const RETURN_REASONS: [&str; 6] = [
    "not ready to buy",
    "no budget",
    "no authority to decide",
    "could not reach",
    "wrong contact",
    "competitor or partner",
];

#[derive(Deserialize, Default)]
struct SiteQuery {
    site: Option<String>,
}

#[derive(Deserialize, Default)]
struct SearchQuery {
    site: Option<String>,
    #[serde(default)]
    q: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    min_score: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    owner: String,
}

#[derive(Deserialize)]
struct MoveForm {
    to: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    return_to: String,
}

/// A move the viewer may make on a lead, as a button.
struct Action {
    to: &'static str,
    label: &'static str,
    /// A move back to marketing: the form asks for a reason.
    returns: bool,
}

struct LeadLine {
    id: String,
    name: String,
    email: String,
    company: String,
    stage: &'static str,
    score: String,
    waiting: String,
    service_level: String,
    overdue: bool,
    owner: String,
    source: String,
}

struct QueueSection {
    title: String,
    leads: Vec<LeadLine>,
    actions: Vec<Action>,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    layout: Layout,
    sites: Vec<String>,
    site: String,
    sections: Vec<QueueSection>,
    reasons: &'static [&'static str],
    return_to: String,
}

#[derive(Template)]
#[template(path = "leads.html")]
struct LeadsPage {
    layout: Layout,
    sites: Vec<String>,
    site: String,
    q: String,
    stage: String,
    min_score: String,
    source: String,
    owner: String,
    stages: Vec<&'static str>,
    owners: Vec<String>,
    leads: Vec<LeadLine>,
}

struct ReasonLine {
    half: &'static str,
    rule: String,
    matched: bool,
    points: i64,
    required: bool,
    detail: String,
}

struct HistoryLine {
    at: String,
    from: String,
    to: String,
    actor: String,
    reason: String,
}

struct VisitLine {
    at: String,
    kind: &'static str,
    page: String,
    referrer: String,
    campaign: String,
    behaviour: String,
}

#[derive(Template)]
#[template(path = "lead.html")]
struct LeadPage {
    layout: Layout,
    id: String,
    site: String,
    email: String,
    name: String,
    company: String,
    stage: &'static str,
    owner: String,
    source: String,
    answers: Vec<(String, String)>,
    summary: String,
    reasons: Vec<ReasonLine>,
    history: Vec<HistoryLine>,
    breaches: Vec<String>,
    visits: Vec<VisitLine>,
    actions: Vec<Action>,
    return_reasons: &'static [&'static str],
    return_to: String,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/queue", get(queue))
        .route("/console/leads", get(search))
        .route("/console/leads/{id}", get(lead))
        .route("/console/leads/{id}/move", post(move_lead))
}

/// The viewer's queues: MQLs for the qualification team, SALs and SQLs for sales.
async fn queue(
    State(state): State<AppState>,
    account: Account,
    Query(query): Query<SiteQuery>,
) -> Result<Response, ApiError> {
    require(&account, &[Role::Qualification, Role::Sales])?;
    let site = chosen_site(&state, query.site.as_deref())?;
    let stages: &[Stage] = match account.role {
        Role::Qualification => &[Stage::Mql],
        Role::Sales => &[Stage::Sal, Stage::Sql],
        _ => &[Stage::Mql, Stage::Sal, Stage::Sql],
    };

    let now = now_ms();
    let mut connection = state.store().reader().acquire().await?;
    let mut sections = Vec::new();
    for &stage in stages {
        let leads = workbench::queue(&mut connection, &site.id, stage, PAGE).await?;
        let limit = site
            .service_levels
            .limits()
            .find(|(limited, _)| *limited == stage)
            .map(|(_, limit)| limit);
        sections.push(QueueSection {
            title: match stage {
                Stage::Mql => "New MQLs to qualify".into(),
                Stage::Sal => "Accepted leads (SAL) to qualify for sales".into(),
                _ => "Open opportunities (SQL) to close".into(),
            },
            leads: leads.iter().map(|lead| line(lead, limit, now)).collect(),
            actions: actions(&account, stage),
        });
    }
    let page = QueuePage {
        layout: Layout::new(&account, "Queue", "/console/queue"),
        sites: site_ids(&state),
        site: site.id.clone(),
        sections,
        reasons: &RETURN_REASONS,
        return_to: format!("/console/queue?site={}", site.id),
    };
    Ok(render(&page))
}

/// Leads by text, stage, score, source and owner.
async fn search(
    State(state): State<AppState>,
    account: Account,
    Query(query): Query<SearchQuery>,
) -> Result<Response, ApiError> {
    require(
        &account,
        &[Role::Marketer, Role::Qualification, Role::Sales],
    )?;
    let site = chosen_site(&state, query.site.as_deref())?;
    let stage = match query.stage.as_str() {
        "" => None,
        name => Some(
            name.parse::<Stage>()
                .map_err(|error| ApiError::BadRequest(error.to_string()))?,
        ),
    };
    let min_score = match query.min_score.trim() {
        "" => None,
        text => Some(text.parse::<i64>().map_err(|_| {
            ApiError::BadRequest("the minimum score must be a whole number".into())
        })?),
    };
    let filter = LeadFilter {
        site_id: site.id.clone(),
        text: query.q.clone(),
        stage,
        min_score,
        source: Source::parse(&query.source),
        owner: query.owner.clone(),
    };

    let mut connection = state.store().reader().acquire().await?;
    let leads = workbench::search(&mut connection, &filter, PAGE).await?;
    let owners = workbench::owners(&mut connection, &site.id).await?;
    let now = now_ms();
    let page = LeadsPage {
        layout: Layout::new(&account, "Leads", "/console/leads"),
        sites: site_ids(&state),
        site: site.id.clone(),
        q: query.q,
        stage: query.stage,
        min_score: query.min_score,
        source: query.source,
        owner: query.owner,
        stages: Stage::ALL.iter().map(|stage| stage.as_str()).collect(),
        owners,
        leads: leads.iter().map(|lead| line(lead, None, now)).collect(),
    };
    Ok(render(&page))
}

/// Everything about one lead: who, why it scores, what happened to it, what it did.
async fn lead(
    State(state): State<AppState>,
    account: Account,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut connection = state.store().reader().acquire().await?;
    let contact = contacts::find(&mut connection, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let site = state.site(&contact.site_id)?;
    let zone = site.zone();
    let history = contacts::stage_history(&mut connection, &id).await?;
    let breaches = breaches::of_contact(&mut connection, &id).await?;
    let visits = events::of_contact(&mut connection, &id, None).await?;

    let answer = |name: &str| contact.answers.get(name).cloned().unwrap_or_default();
    let verdict = contact.verdict.as_ref();
    let page = LeadPage {
        layout: Layout::new(&account, "Lead", "/console/leads"),
        id: contact.id.clone(),
        site: site.id.clone(),
        email: contact.email.clone().unwrap_or_else(|| "anonymous".into()),
        name: answer("name"),
        company: answer("company"),
        stage: contact.stage.as_str(),
        owner: contact.owner.clone().unwrap_or_default(),
        source: [
            contact.first_channel.as_deref(),
            contact.first_campaign.as_deref(),
            contact.first_referrer.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · "),
        answers: contact.answers.clone().into_iter().collect(),
        summary: verdict.map_or("not evaluated yet".into(), |verdict| verdict.to_string()),
        reasons: verdict
            .map(|verdict| {
                verdict
                    .reasons
                    .iter()
                    .map(|reason| ReasonLine {
                        half: match reason.half {
                            Half::Fit => "fit",
                            Half::Engagement => "engagement",
                        },
                        rule: reason.rule.clone(),
                        matched: reason.matched,
                        points: reason.points,
                        required: reason.required,
                        detail: reason.detail.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        history: history
            .iter()
            .rev()
            .map(|change| HistoryLine {
                at: local_time(change.at, &zone),
                from: change.from.map_or(String::new(), |from| from.to_string()),
                to: change.to.to_string(),
                actor: change.actor.clone(),
                reason: change.reason.clone(),
            })
            .collect(),
        breaches: breaches
            .iter()
            .map(|breach| {
                format!(
                    "{}: entered {}, due {}, detected {}",
                    breach.stage,
                    local_time(breach.entered_at, &zone),
                    local_time(breach.due_at, &zone),
                    local_time(breach.detected_at, &zone)
                )
            })
            .collect(),
        visits: visits
            .iter()
            .rev()
            .take(TIMELINE)
            .map(|event| {
                let touch = attribution::first_touch(&event.url, &event.referrer);
                let behaviour = match &event.detail {
                    EventDetail::PageView { title } => title.clone(),
                    EventDetail::Engagement {
                        engaged_ms,
                        scroll_depth,
                    } => format!("{} s engaged, scrolled {scroll_depth} %", engaged_ms / 1000),
                    EventDetail::Scroll { depth } => format!("scrolled past {depth} %"),
                    EventDetail::Outbound { target } | EventDetail::Download { target } => {
                        target.clone()
                    }
                    EventDetail::Custom { name, properties } if !properties.is_empty() => {
                        let shown: Vec<String> = properties
                            .iter()
                            .map(|(key, value)| format!("{key}={value}"))
                            .collect();
                        format!("{name} ({})", shown.join(", "))
                    }
                    other => other.name().unwrap_or_default().to_owned(),
                };
                VisitLine {
                    at: local_time(event.at, &zone),
                    kind: event.detail.kind(),
                    page: event.url.clone(),
                    referrer: event.referrer.clone(),
                    campaign: touch.campaign.unwrap_or_default(),
                    behaviour,
                }
            })
            .collect(),
        actions: actions(&account, contact.stage),
        return_reasons: &RETURN_REASONS,
        return_to: format!("/console/leads/{}", contact.id),
    };
    Ok(render(&page))
}

/// A move from a queue or a lead page, through the same lead engine as the API.
async fn move_lead(
    State(state): State<AppState>,
    account: Account,
    Path(id): Path<String>,
    Form(form): Form<MoveForm>,
) -> Result<Response, ApiError> {
    let to: Stage = form
        .to
        .parse()
        .map_err(|error: headwater_core::stage::UnknownStage| {
            ApiError::BadRequest(error.to_string())
        })?;
    let note = form.note.trim();
    let reason = match (form.reason.trim(), note) {
        ("", note) => note.to_owned(),
        (reason, "") => reason.to_owned(),
        (reason, note) => format!("{reason}: {note}"),
    };

    let caller = Caller {
        name: account.email.clone(),
        role: account.role,
    };
    leads::move_by_person(&state, &caller, &id, to, &reason).await?;
    let fallback = format!("/console/leads/{id}");
    Ok(axum::response::IntoResponse::into_response(back_to(
        &form.return_to,
        &fallback,
    )))
}

/// The moves the viewer's role may make from `stage`.
fn actions(account: &Account, stage: Stage) -> Vec<Action> {
    let candidates: &[(Stage, &str)] = match stage {
        Stage::Mql => &[
            (Stage::Sal, "Accept"),
            (Stage::Recycled, "Return to marketing"),
        ],
        Stage::Sal => &[(Stage::Sql, "Qualify"), (Stage::Recycled, "Disqualify")],
        Stage::Sql => &[
            (Stage::Customer, "Close won"),
            (Stage::Recycled, "Close lost"),
        ],
        _ => &[],
    };
    candidates
        .iter()
        .filter(|(to, _)| account.role.may_move(stage, *to).is_ok())
        .map(|&(to, label)| Action {
            to: to.as_str(),
            label,
            returns: to == Stage::Recycled,
        })
        .collect()
}

fn line(lead: &LeadRow, limit_ms: Option<i64>, now: i64) -> LeadLine {
    let waited = now - lead.stage_changed_at;
    let (service_level, overdue) = match limit_ms {
        Some(limit) if waited > limit => (format!("overdue by {}", duration(waited - limit)), true),
        Some(limit) => (format!("{} left", duration(limit - waited)), false),
        None => (String::new(), false),
    };
    let answer = |name: &str| lead.answers.get(name).cloned().unwrap_or_default();
    LeadLine {
        id: lead.id.clone(),
        name: answer("name"),
        email: lead.email.clone().unwrap_or_default(),
        company: answer("company"),
        stage: lead.stage.as_str(),
        score: format!(
            "fit {} · engagement {}",
            lead.fit_score, lead.engagement_score
        ),
        waiting: duration(waited),
        service_level,
        overdue,
        owner: lead.owner.clone().unwrap_or_default(),
        source: [
            lead.first_channel.as_deref(),
            lead.first_campaign.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · "),
    }
}
