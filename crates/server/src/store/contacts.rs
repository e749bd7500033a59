//! Contacts, the visitors stitched to them, and their stage history.
//!
//! Every new visitor gets a contact in the Inquiry stage, anonymous until it
//! identifies itself; events belong to visitors, so a contact's history is the
//! events of all its visitors, and stitching a visitor to another contact moves its
//! whole history in one update.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use headwater_core::email;
use headwater_core::stage::{Actor, Move, Stage, StageError};
use headwater_core::{EngagementProfile, Verdict};

use crate::attribution::Touch;
use crate::store::visitors::KeptTouches;
use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::Row;
use uuid::Uuid;

/// Ids in one `IN (...)` list: within both databases' limits on bound parameters.
const MAX_IDS_PER_STATEMENT: usize = 500;

/// A prospect as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub id: String,
    pub site_id: String,
    pub email: Option<String>,
    pub answers: BTreeMap<String, String>,
    pub stage: Stage,
    pub fit_score: i64,
    pub engagement_score: i64,
    pub verdict: Option<Verdict>,
    pub created_at: i64,
    /// When it was last returned to marketing; engagement before this no longer
    /// counts towards qualifying it again.
    pub recycled_at: Option<i64>,
    pub stage_changed_at: Option<i64>,
    /// The engagement profile of the events that count (those since the last
    /// recycling), kept up to date event by event.
    pub profile: Option<EngagementProfile>,
    /// The last person who moved the lead; none once it is back with marketing.
    pub owner: Option<String>,
    /// Where it first came from: campaign, referring site, channel.
    pub first_campaign: Option<String>,
    pub first_referrer: Option<String>,
    pub first_channel: Option<String>,
}

/// A line of the pull API: a lead and where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct LeadSummary {
    pub id: String,
    pub site_id: String,
    pub email: Option<String>,
    pub stage: String,
    pub fit_score: i64,
    pub engagement_score: i64,
    pub stage_changed_at: Option<i64>,
}

/// One recorded move through the waterfall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageChange {
    pub from: Option<Stage>,
    pub to: Stage,
    pub actor: String,
    pub reason: String,
    pub at: i64,
}

/// The contact a visitor belongs to, creating both (the contact as an Inquiry) the
/// first time the visitor is seen.
pub async fn contact_of_visitor(
    connection: &mut AnyConnection,
    site_id: &str,
    visitor_id: &str,
    touch: Option<&Touch>,
    now: i64,
) -> anyhow::Result<String> {
    super::lock(connection, &visitor_lock_key(site_id, visitor_id)).await?;
    let known: Option<String> = sqlx::query_scalar(
        "UPDATE visitors SET last_seen = $3 WHERE site_id = $1 AND id = $2 RETURNING contact_id",
    )
    .bind(site_id)
    .bind(visitor_id)
    .bind(now)
    .fetch_optional(&mut *connection)
    .await?;
    if let Some(contact_id) = known {
        return Ok(contact_id);
    }

    let contact_id = create(connection, site_id, touch, now).await?;
    sqlx::query(
        "INSERT INTO visitors (site_id, id, contact_id, first_seen, last_seen)
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(site_id)
    .bind(visitor_id)
    .bind(&contact_id)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(contact_id)
}

/// A visitor as the collector finds it at the start of a group.
#[derive(Debug, Clone, Default)]
pub struct SeenVisitor {
    pub contact_id: String,
    /// Whether its contact has identified itself: only those have a lead
    /// definition to evaluate.
    pub identified: bool,
    pub touches: KeptTouches,
    /// When the visitor was last marked seen (to the minute: see
    /// [`super::visitors::LAST_SEEN_RESOLUTION_MS`]).
    pub last_seen: i64,
    /// What is kept of its latest address, if anything.
    pub address: Option<String>,
}

/// The contacts of these (site, visitor) pairs with what the collector needs of
/// each visitor, creating each visitor not seen before with a contact in the
/// Inquiry stage (attributed to the visitor's touch). Known visitors cost one
/// read for the whole group and are not written here: the collector notes their
/// `last_seen` with their touches (`visitors::note_visits`). Takes the
/// visitors' locks in order, so that writers sharing a PostgreSQL database never
/// deadlock on them.
pub async fn contacts_of_visitors<'a>(
    connection: &mut AnyConnection,
    visitors: &BTreeMap<(&'a str, &'a str), Touch>,
    now: i64,
) -> anyhow::Result<HashMap<(&'a str, &'a str), SeenVisitor>> {
    let keys: Vec<String> = visitors
        .keys()
        .map(|(site_id, visitor_id)| visitor_lock_key(site_id, visitor_id))
        .collect();
    super::lock_all(connection, &keys).await?;

    let backend = super::backend_of(connection);
    let mut seen = HashMap::with_capacity(visitors.len());
    let mut by_site: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (site_id, visitor_id) in visitors.keys() {
        by_site.entry(site_id).or_default().push(visitor_id);
    }
    for (site_id, visitor_ids) in by_site {
        for chunk in visitor_ids.chunks(MAX_IDS_PER_STATEMENT) {
            // Under the visitors' locks (and on SQLite inside the one write
            // transaction), so the contact each one has cannot change until the group
            // commits. A read rewrites no row. On PostgreSQL the rows are locked too,
            // as the update that used to mark them seen did: a visitor that an
            // identification is moving with its whole contact (not under this
            // visitor's lock) is read as that identification commits it.
            let sql = format!(
                "SELECT id, contact_id, first_touch_at, last_touch, last_seen, address,
                     CAST(CASE WHEN EXISTS (SELECT 1 FROM contacts c
                                            WHERE c.id = visitors.contact_id
                                              AND c.email IS NOT NULL)
                          THEN 1 ELSE 0 END AS BIGINT) AS identified
                 FROM visitors WHERE site_id = {} AND id IN {}{}",
                super::placeholder(backend, 1),
                super::placeholders(backend, 2, 1, chunk.len()),
                match backend {
                    super::Backend::Postgres => " FOR UPDATE",
                    super::Backend::Sqlite => "",
                }
            );
            let mut query = sqlx::query(&sql).persistent(false).bind(site_id);
            for visitor_id in chunk {
                query = query.bind(*visitor_id);
            }
            for row in query.fetch_all(&mut *connection).await? {
                let visitor_id: &str = row.try_get("id")?;
                let Some(&visitor) = chunk.iter().find(|known| **known == visitor_id) else {
                    continue;
                };
                let last_touch: Option<&str> = row.try_get("last_touch")?;
                let visitor_state = SeenVisitor {
                    contact_id: row.try_get("contact_id")?,
                    identified: row.try_get::<i64, _>("identified")? != 0,
                    touches: KeptTouches {
                        first_at: row.try_get("first_touch_at")?,
                        last: last_touch.and_then(|text| serde_json::from_str(text).ok()),
                    },
                    last_seen: row.try_get("last_seen")?,
                    address: row.try_get("address")?,
                };
                seen.insert((site_id, visitor), visitor_state);
            }
        }
    }

    let first_seen: Vec<(&(&str, &str), &Touch)> = visitors
        .iter()
        .filter(|(visitor, _)| !seen.contains_key(*visitor))
        .collect();
    for (&(site_id, visitor_id), touch) in first_seen {
        let contact_id =
            contact_of_visitor(connection, site_id, visitor_id, Some(touch), now).await?;
        let new_visitor = SeenVisitor {
            contact_id,
            last_seen: now,
            ..SeenVisitor::default()
        };
        seen.insert((site_id, visitor_id), new_visitor);
    }
    Ok(seen)
}

/// What the identified contact of this visitor has answered so far, by field; empty
/// for a visitor not seen or not identified.
pub async fn known_answers(
    reader: &sqlx::AnyPool,
    site_id: &str,
    visitor_id: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let answers: Option<String> = sqlx::query_scalar(
        "SELECT c.answers FROM visitors v JOIN contacts c ON c.id = v.contact_id
         WHERE v.site_id = $1 AND v.id = $2 AND c.email IS NOT NULL",
    )
    .bind(site_id)
    .bind(visitor_id)
    .fetch_optional(reader)
    .await?;
    match answers {
        Some(answers) => Ok(serde_json::from_str(&answers)?),
        None => Ok(BTreeMap::new()),
    }
}

/// Stitches the visitor to the contact with this e-mail, creating or upgrading one
/// as needed, and merges the answers into it. Returns the contact's id.
///
/// - No contact has the e-mail and the visitor's contact is anonymous: that contact
///   becomes Known, keeping its id and history.
/// - Another contact has the e-mail: it keeps its id and absorbs the visitor; an
///   anonymous contact left behind is absorbed whole (all its visitors) and removed.
/// - The visitor's contact is somebody else (a shared computer): only this visitor
///   moves, to the contact with the e-mail, created if needed.
pub async fn identify(
    connection: &mut AnyConnection,
    site_id: &str,
    visitor_id: &str,
    answers: &BTreeMap<String, String>,
    now: i64,
) -> anyhow::Result<String> {
    let address = answers.get("email").context("answers hold no e-mail")?;
    let key = email::match_key(address);
    super::lock(connection, &format!("email {site_id} {key}")).await?;
    let current_id = contact_of_visitor(connection, site_id, visitor_id, None, now).await?;
    let current = load(connection, &current_id).await?;
    let owner: Option<String> =
        sqlx::query_scalar("SELECT id FROM contacts WHERE site_id = $1 AND email_key = $2")
            .bind(site_id)
            .bind(&key)
            .fetch_optional(&mut *connection)
            .await?;

    let target = match (owner, current.email.is_none()) {
        (Some(owner), _) if owner == current.id => owner,
        (Some(owner), true) => {
            absorb_all_visitors(connection, &current.id, &owner).await?;
            owner
        }
        (Some(owner), false) => {
            move_visitor(connection, site_id, visitor_id, &owner).await?;
            owner
        }
        (None, true) => current.id.clone(),
        (None, false) => {
            let created = create(connection, site_id, None, now).await?;
            move_visitor(connection, site_id, visitor_id, &created).await?;
            created
        }
    };

    let mut contact = load(connection, &target).await?;
    contact.answers.extend(
        answers
            .iter()
            .map(|(name, value)| (name.clone(), value.clone())),
    );
    sqlx::query(
        "UPDATE contacts SET email = $2, email_key = $3, answers = $4, updated_at = $5
         WHERE id = $1",
    )
    .bind(&contact.id)
    .bind(address)
    .bind(&key)
    .bind(serde_json::to_string(&contact.answers)?)
    .bind(now)
    .execute(&mut *connection)
    .await?;

    if contact.stage == Stage::Inquiry {
        let reason = "identified through a form";
        move_stage(
            connection,
            &contact,
            Stage::Known,
            &Actor::Visitor,
            reason,
            now,
        )
        .await??;
    }
    Ok(contact.id)
}

/// Loads a contact by id.
pub async fn load(connection: &mut AnyConnection, id: &str) -> anyhow::Result<Contact> {
    find(connection, id)
        .await?
        .with_context(|| format!("no contact {id}"))
}

/// Loads a contact by id, if there is one.
pub async fn find(connection: &mut AnyConnection, id: &str) -> anyhow::Result<Option<Contact>> {
    let row = sqlx::query(
        "SELECT id, site_id, email, answers, stage, fit_score, engagement_score, verdict,
                created_at, recycled_at, stage_changed_at, profile, owner,
                first_campaign, first_referrer, first_channel
         FROM contacts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *connection)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let verdict: Option<String> = row.try_get("verdict")?;
    let profile: Option<String> = row.try_get("profile")?;
    Ok(Some(Contact {
        id: row.try_get("id")?,
        site_id: row.try_get("site_id")?,
        email: row.try_get("email")?,
        answers: serde_json::from_str(row.try_get("answers")?)?,
        stage: row.try_get::<String, _>("stage")?.parse()?,
        fit_score: row.try_get("fit_score")?,
        engagement_score: row.try_get("engagement_score")?,
        verdict: verdict.as_deref().map(serde_json::from_str).transpose()?,
        created_at: row.try_get("created_at")?,
        recycled_at: row.try_get("recycled_at")?,
        stage_changed_at: row.try_get("stage_changed_at")?,
        profile: profile.as_deref().map(serde_json::from_str).transpose()?,
        owner: row.try_get("owner")?,
        first_campaign: row.try_get("first_campaign")?,
        first_referrer: row.try_get("first_referrer")?,
        first_channel: row.try_get("first_channel")?,
    }))
}

/// The ids of the site's identified contacts.
pub async fn identified(
    connection: &mut AnyConnection,
    site_id: &str,
) -> anyhow::Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM contacts WHERE site_id = $1 AND email IS NOT NULL ORDER BY created_at, id",
    )
    .bind(site_id)
    .fetch_all(&mut *connection)
    .await?)
}

/// Leads of a site, optionally in one stage, whose stage changed after `since`,
/// oldest change first: what a CRM polls for.
pub async fn changed_since(
    connection: &mut AnyConnection,
    site_id: &str,
    stage: Option<Stage>,
    since: i64,
    limit: i64,
) -> anyhow::Result<Vec<LeadSummary>> {
    let rows = sqlx::query(
        "SELECT id, site_id, email, stage, fit_score, engagement_score, stage_changed_at
         FROM contacts
         WHERE site_id = $1 AND ($2 = '' OR stage = $2) AND stage_changed_at > $3
         ORDER BY stage_changed_at, id LIMIT $4",
    )
    .bind(site_id)
    .bind(stage.map_or("", Stage::as_str))
    .bind(since)
    .bind(limit)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(LeadSummary {
                id: row.try_get("id")?,
                site_id: row.try_get("site_id")?,
                email: row.try_get("email")?,
                stage: row.try_get("stage")?,
                fit_score: row.try_get("fit_score")?,
                engagement_score: row.try_get("engagement_score")?,
                stage_changed_at: row.try_get("stage_changed_at")?,
            })
        })
        .collect()
}

/// Stores the latest verdict with its scores, and the profile it was made on.
pub async fn save_verdict(
    connection: &mut AnyConnection,
    contact_id: &str,
    profile: &EngagementProfile,
    verdict: &Verdict,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE contacts
         SET fit_score = $2, engagement_score = $3, verdict = $4, profile = $5, updated_at = $6
         WHERE id = $1",
    )
    .bind(contact_id)
    .bind(verdict.fit.score)
    .bind(verdict.engagement.score)
    .bind(serde_json::to_string(verdict)?)
    .bind(serde_json::to_string(profile)?)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Moves a contact to another stage if the waterfall allows it, recording who and
/// why. Asking for the stage it is already in changes and records nothing.
pub async fn move_stage(
    connection: &mut AnyConnection,
    contact: &Contact,
    to: Stage,
    actor: &Actor,
    reason: &str,
    now: i64,
) -> anyhow::Result<Result<Move, StageError>> {
    let step = contact.stage.check_move(to);
    if let Ok(Move::To(_)) = step {
        let span =
            tracing::info_span!("stage_change", contact = %contact.id, from = %contact.stage, %to);
        let _entered = span.enter();
        let recycled_at = if to == Stage::Recycled {
            Some(now)
        } else {
            contact.recycled_at
        };
        // A recycled lead starts a new profile: only engagement from now on counts.
        // The person who moves a lead owns it until it goes back to marketing.
        let person = match actor {
            Actor::Person(name) => name.as_str(),
            _ => "",
        };
        sqlx::query(
            "UPDATE contacts SET stage = $2, updated_at = $3, stage_changed_at = $3,
                                 recycled_at = $4,
                                 profile = CASE WHEN $2 = 'recycled' THEN NULL ELSE profile END,
                                 owner = CASE WHEN $2 = 'recycled' THEN NULL
                                              WHEN $5 <> '' THEN $5 ELSE owner END
             WHERE id = $1",
        )
        .bind(&contact.id)
        .bind(to.as_str())
        .bind(now)
        .bind(recycled_at)
        .bind(person)
        .execute(&mut *connection)
        .await?;
        record_change(
            connection,
            &contact.id,
            Some(contact.stage),
            to,
            actor,
            reason,
            now,
        )
        .await?;
        tracing::info!(%actor, "lead moved");
    }
    Ok(step)
}

/// The contact's stage history, oldest first.
pub async fn stage_history(
    connection: &mut AnyConnection,
    contact_id: &str,
) -> anyhow::Result<Vec<StageChange>> {
    let rows = sqlx::query(
        "SELECT from_stage, to_stage, actor, reason, at FROM stage_changes
         WHERE contact_id = $1 ORDER BY id",
    )
    .bind(contact_id)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            let from: Option<String> = row.try_get("from_stage")?;
            Ok(StageChange {
                from: from.as_deref().map(str::parse).transpose()?,
                to: row.try_get::<String, _>("to_stage")?.parse()?,
                actor: row.try_get("actor")?,
                reason: row.try_get("reason")?,
                at: row.try_get("at")?,
            })
        })
        .collect()
}

/// The key of the lock that serialises the steps that create or move a visitor.
fn visitor_lock_key(site_id: &str, visitor_id: &str) -> String {
    format!("visitor {site_id} {visitor_id}")
}

async fn create(
    connection: &mut AnyConnection,
    site_id: &str,
    touch: Option<&Touch>,
    now: i64,
) -> anyhow::Result<String> {
    let id = Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO contacts (id, site_id, stage, created_at, updated_at, stage_changed_at,
                               first_campaign, first_referrer, first_channel)
         VALUES ($1, $2, $3, $4, $4, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(site_id)
    .bind(Stage::Inquiry.as_str())
    .bind(now)
    .bind(touch.and_then(|touch| touch.campaign.as_deref()))
    .bind(touch.and_then(|touch| touch.referrer.as_deref()))
    .bind(touch.map(|touch| touch.channel))
    .execute(&mut *connection)
    .await?;
    record_change(
        connection,
        &id,
        None,
        Stage::Inquiry,
        &Actor::Visitor,
        "first visit",
        now,
    )
    .await?;
    Ok(id)
}

async fn record_change(
    connection: &mut AnyConnection,
    contact_id: &str,
    from: Option<Stage>,
    to: Stage,
    actor: &Actor,
    reason: &str,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO stage_changes (contact_id, from_stage, to_stage, actor, reason, at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(contact_id)
    .bind(from.map(Stage::as_str))
    .bind(to.as_str())
    .bind(actor.to_string())
    .bind(reason)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

async fn move_visitor(
    connection: &mut AnyConnection,
    site_id: &str,
    visitor_id: &str,
    contact_id: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE visitors SET contact_id = $3 WHERE site_id = $1 AND id = $2")
        .bind(site_id)
        .bind(visitor_id)
        .bind(contact_id)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Moves every visitor of an anonymous contact to `into` and removes the empty
/// contact with its (Inquiry only) history.
async fn absorb_all_visitors(
    connection: &mut AnyConnection,
    anonymous: &str,
    into: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE visitors SET contact_id = $2 WHERE contact_id = $1")
        .bind(anonymous)
        .bind(into)
        .execute(&mut *connection)
        .await?;
    sqlx::query("DELETE FROM stage_changes WHERE contact_id = $1")
        .bind(anonymous)
        .execute(&mut *connection)
        .await?;
    sqlx::query("DELETE FROM contacts WHERE id = $1")
        .bind(anonymous)
        .execute(&mut *connection)
        .await?;
    Ok(())
}
