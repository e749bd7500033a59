//! The collector: event batches from the tracker, identification from the form, and
//! the public part of a site's configuration that both need. Browsers call these
//! from the customer's pages, so CORS admits every configured origin, and each
//! request is checked against its own site's origins.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use headwater_core::form::{ServerEngine, TRAITS_FORM_ID};
use headwater_core::{Behaviour, EventBatch, FormDefinition, Identification};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::app::AppState;
use crate::clock::now_ms;
use crate::config::{ConsentMode, IpStorage, SiteConfig, origin_of};
use crate::error::ApiError;
use crate::leads;
use crate::limits::ClientAddress;
use crate::store::{self, contacts, submissions};
use crate::{anonymity, bots, limits, telemetry};

/// A full batch of 100 events is about 40 KiB; anything past this is not ours.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Browsers may reuse the public site configuration this long (seconds).
const SITE_CONFIG_MAX_AGE: u32 = 60;

#[derive(Serialize)]
struct BatchReply {
    accepted: u64,
    duplicates: u64,
}

#[derive(Serialize)]
struct KnownFields {
    known: Vec<String>,
}

#[derive(Serialize)]
struct IdentifyReply {
    status: &'static str,
}

/// What browsers may know of a site's configuration: no lead definition, no secrets.
#[derive(Serialize)]
struct PublicSiteConfig<'a> {
    site: &'a str,
    behaviours: &'a [Behaviour],
    forms: &'a [FormDefinition],
    privacy: PublicPrivacy,
    hash_routing: bool,
}

/// The privacy settings the tracker acts on (not what the server keeps).
#[derive(Serialize)]
struct PublicPrivacy {
    consent: ConsentMode,
    respect_do_not_track: bool,
}

pub fn router(state: &AppState) -> Router<AppState> {
    let config = state.config();
    let origins: HashSet<HeaderValue> = config
        .sites
        .iter()
        .flat_map(|site| &site.origins)
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origins.contains(origin)
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE]);

    Router::new()
        .route("/api/v1/events", post(collect_events))
        .route("/api/v1/identify", post(identify))
        .route("/api/v1/sites/{site}/config", get(site_config))
        .route(
            "/api/v1/sites/{site}/visitors/{visitor}/known",
            get(known_fields),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::per_client,
        ))
        .layer(cors)
}

/// Stores a batch; ids already stored count as duplicates, so a retry is harmless.
async fn collect_events(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<BatchReply>, ApiError> {
    let started = std::time::Instant::now();
    let now = now_ms();
    let mut batch: EventBatch = parse_json(&body)?;
    batch
        .validate(now)
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let site = state.site(&batch.site)?;
    state.limits().check_site(&site.id)?;
    let sender = authorize(
        &site,
        &headers,
        batch.events.iter().map(|event| event.url.as_str()),
    )?;
    if from_bot(sender, &headers, batch.automation) {
        telemetry::bot_request();
        tracing::debug!(site = %site.id, events = batch.events.len(), "batch from a bot dropped");
        let accepted = batch.events.len() as u64;
        return Ok(Json(BatchReply {
            accepted,
            duplicates: 0,
        }));
    }
    if site.privacy.respect_do_not_track && anonymity::refuses_tracking(&headers) {
        telemetry::refused("do_not_track");
        tracing::debug!(site = %site.id, "batch from a visitor refusing tracking dropped");
        return Ok(Json(BatchReply {
            accepted: batch.events.len() as u64,
            duplicates: 0,
        }));
    }

    let _place = state.limits().write_permit()?;
    let needs_salt = batch.visitor_id.is_empty() || site.privacy.store_ip != IpStorage::None;
    let salt = match (needs_salt, address) {
        (true, Some(_)) => Some(state.salts().of_day(now).await?),
        _ => None,
    };
    if batch.visitor_id.is_empty() {
        // A browser keeping nothing: the day's hash of its address and browser.
        let (Some(salt), Some(address)) = (&salt, address) else {
            return Err(ApiError::BadRequest(
                "a batch without a visitor_id needs the client's address".into(),
            ));
        };
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        batch.visitor_id = anonymity::cookieless_visitor_id(salt, &site.id, address, user_agent);
    }
    let kept_address = salt
        .as_deref()
        .zip(address)
        .and_then(|(salt, address)| anonymity::kept_address(site.privacy.store_ip, salt, address));
    let written = state.ingest().write(batch, now, kept_address).await?;

    let accepted = written.stored;
    let duplicates = written.duplicates;
    telemetry::events_stored(accepted, duplicates);
    telemetry::batch_took(started.elapsed().as_secs_f64());
    tracing::debug!(site = %site.id, accepted, duplicates, "batch stored");
    Ok(Json(BatchReply {
        accepted,
        duplicates,
    }))
}

/// Identifies the visitor with the form's answers and evaluates the contact.
async fn identify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<IdentifyReply>, ApiError> {
    let now = now_ms();
    let mut identification: Identification = parse_json(&body)?;
    identification
        .validate()
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let site = state.site(&identification.site)?;
    if site.privacy.respect_do_not_track && anonymity::refuses_tracking(&headers) {
        // The form is still saved, under a visitor of its own: never linked to the
        // browsing of somebody who asked not to be tracked.
        identification.visitor_id = uuid::Uuid::new_v4().to_string();
    }
    state.limits().check_site(&site.id)?;
    let sender = authorize(&site, &headers, std::iter::empty())?;
    // `headwater('identify', traits)` names no form: the site's own code tells
    // who the visitor is, checked against the fields of all its forms.
    let traits;
    let form = if identification.form.is_empty() {
        traits = FormDefinition::for_traits(&site.forms)
            .ok_or_else(|| ApiError::UnknownForm("(no form with an e-mail field)".into()))?;
        identification.form = traits.id.clone();
        &traits
    } else {
        site.form(&identification.form)
            .ok_or_else(|| ApiError::UnknownForm(identification.form.clone()))?
    };
    // Progressive profiling: what the contact answered before is not asked again.
    let reader = state.store().reader();
    let known = contacts::known_answers(reader, &site.id, &identification.visitor_id).await?;
    let known_fields: BTreeSet<String> = known.keys().cloned().collect();
    let answers = form
        .validate(&identification.answers, &known_fields, &ServerEngine)
        .map_err(ApiError::InvalidAnswers)?;
    if from_bot(sender, &headers, identification.automation) {
        telemetry::bot_request();
        tracing::debug!(site = %site.id, "identification from a bot dropped");
        return Ok(Json(IdentifyReply {
            status: "identified",
        }));
    }
    // A server has no form on screen to time or to hide a honeypot in, and nor
    // has a site's own code calling identify.
    let timed = sender == Sender::Browser && form.id != TRAITS_FORM_ID;
    let spam = timed
        .then(|| identification.spam(form.min_fill_ms()))
        .flatten();
    if let Some(spam) = spam {
        let mut tx = state.store().begin().await?;
        submissions::record_spam(&mut tx, &identification, &answers, spam, now).await?;
        tx.commit().await?;
        telemetry::spam_submission(spam.as_str());
        tracing::info!(site = %site.id, form = %form.id, reason = spam.as_str(),
            "submission kept as spam");
        // The same answer as a real submission: a bot learns nothing.
        return Ok(Json(IdentifyReply {
            status: "identified",
        }));
    }

    identify_visitor(&state, &site, &identification, known, answers, now).await?;
    Ok(Json(IdentifyReply {
        status: "identified",
    }))
}

/// Stitches the visitor to the contact its validated answers name, records the
/// submission and evaluates the contact, all at `now`. A repeated form token gets
/// the first submission's contact. Returns the contact's id. Demo seeding calls
/// this too, with the moments of its simulated history.
pub(crate) async fn identify_visitor(
    state: &AppState,
    site: &SiteConfig,
    identification: &Identification,
    known: BTreeMap<String, String>,
    answers: BTreeMap<String, String>,
    now: i64,
) -> Result<String, ApiError> {
    let mut tx = state.store().begin().await?;
    store::lock(&mut tx, &format!("form token {}", identification.token)).await?;
    let contact_id = match submissions::contact_for_token(&mut tx, &identification.token).await? {
        Some(earlier) => earlier,
        None => {
            let visitor = &identification.visitor_id;
            let mut stitched = known;
            stitched.extend(answers.clone());
            let contact_id = contacts::identify(&mut tx, &site.id, visitor, &stitched, now).await?;
            submissions::record(
                &mut tx,
                &identification.token,
                &site.id,
                &identification.form,
                visitor,
                &contact_id,
                &answers,
                now,
            )
            .await?;
            contact_id
        }
    };
    // Stitching may have brought other visitors' events: rebuild the profile.
    let evaluation =
        leads::evaluate_in(&mut tx, site, &contact_id, leads::Update::Rebuild, now).await?;
    tx.commit().await?;
    tracing::info!(site = %site.id, form = %identification.form, contact = %contact_id,
        "visitor identified");
    if evaluation.is_some_and(|evaluation| evaluation.queued > 0) {
        state.wake_handoffs();
    }
    Ok(contact_id)
}

/// The behaviours and forms of a site, for the tracker and the form.
async fn site_config(
    State(state): State<AppState>,
    Path(site_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let site = state.site(&site_id)?;
    let public = PublicSiteConfig {
        site: &site.id,
        behaviours: &site.behaviours,
        forms: &site.forms,
        privacy: PublicPrivacy {
            consent: site.privacy.consent,
            respect_do_not_track: site.privacy.respect_do_not_track,
        },
        hash_routing: site.hash_routing,
    };
    let cache = format!("public, max-age={SITE_CONFIG_MAX_AGE}");
    let body = serde_json::to_vec(&public).map_err(anyhow::Error::from)?;
    Ok((
        [
            (header::CACHE_CONTROL, cache),
            (header::CONTENT_TYPE, "application/json".into()),
        ],
        body,
    ))
}

/// The fields the visitor's contact has answered, by name only, so that the form
/// asks the next questions instead. Values never leave the server this way.
async fn known_fields(
    State(state): State<AppState>,
    Path((site_id, visitor_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let site = state.site(&site_id)?;
    if uuid::Uuid::try_parse(&visitor_id).is_err() {
        return Err(ApiError::BadRequest("the visitor id must be a UUID".into()));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        if !site.allows_origin(origin) {
            return Err(ApiError::ForeignOrigin(origin.to_owned()));
        }
    }

    let reader = state.store().reader();
    let known = contacts::known_answers(reader, &site.id, &visitor_id).await?;
    let reply = KnownFields {
        known: known.into_keys().collect(),
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(reply)))
}

fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::BadRequest(format!("invalid JSON: {error}")))
}

/// Who sent a request to the collector.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sender {
    /// A browser on one of the site's origins.
    Browser,
    /// A server that presented the site's secret key.
    Server,
}

/// A browser's request must come from one of the site's origins (its `Origin`
/// header), and so must every URL it reports. A request without `Origin` is a
/// server's, and must present the site's secret key.
fn authorize<'a>(
    site: &SiteConfig,
    headers: &HeaderMap,
    urls: impl Iterator<Item = &'a str>,
) -> Result<Sender, ApiError> {
    let sender = match headers.get(header::ORIGIN) {
        Some(origin) => {
            let origin = origin.to_str().unwrap_or("(not text)");
            if !site.allows_origin(origin) {
                return Err(ApiError::ForeignOrigin(origin.to_owned()));
            }
            Sender::Browser
        }
        None => {
            let presented = headers
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "));
            if !site.has_secret_key(presented.unwrap_or("")) {
                return Err(ApiError::Forbidden(
                    "a request without an Origin needs the site's secret key".into(),
                ));
            }
            Sender::Server
        }
    };
    for url in urls {
        let origin = origin_of(url).unwrap_or_default();
        if !site.allows_origin(&origin) {
            return Err(ApiError::ForeignOrigin(origin));
        }
    }
    Ok(sender)
}

/// A browser request from a bot: answered like any other, kept nowhere.
fn from_bot(sender: Sender, headers: &HeaderMap, reports_automation: bool) -> bool {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    sender == Sender::Browser && bots::is_bot(user_agent, reports_automation)
}
