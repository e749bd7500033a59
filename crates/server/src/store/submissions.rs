//! Form submissions, keyed by the form token so that a double submit is answered
//! with the first submission's result instead of being processed twice; and the
//! submissions taken for spam, kept apart.

use std::collections::BTreeMap;

use headwater_core::Identification;
use headwater_core::wire::Spam;
use sqlx::AnyConnection;

/// The contact an earlier submission with this token identified, if any.
pub async fn contact_for_token(
    connection: &mut AnyConnection,
    token: &str,
) -> anyhow::Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT contact_id FROM submissions WHERE token = $1")
            .bind(token)
            .fetch_optional(&mut *connection)
            .await?,
    )
}

/// When the contact first submitted each form, by form id, counting only
/// submissions after `since` (the contact's last recycling), if given.
pub async fn first_submitted(
    connection: &mut AnyConnection,
    contact_id: &str,
    since: Option<i64>,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT form_id, MIN(at) FROM submissions WHERE contact_id = $1 AND at > $2
         GROUP BY form_id",
    )
    .bind(contact_id)
    .bind(since.unwrap_or(i64::MIN))
    .fetch_all(&mut *connection)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Records a submission.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    connection: &mut AnyConnection,
    token: &str,
    site_id: &str,
    form_id: &str,
    visitor_id: &str,
    contact_id: &str,
    answers: &BTreeMap<String, String>,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO submissions (token, site_id, form_id, visitor_id, contact_id, answers, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token)
    .bind(site_id)
    .bind(form_id)
    .bind(visitor_id)
    .bind(contact_id)
    .bind(serde_json::to_string(answers)?)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Keeps a submission taken for spam, once per token. It identifies nobody.
pub async fn record_spam(
    connection: &mut AnyConnection,
    identification: &Identification,
    answers: &BTreeMap<String, String>,
    spam: Spam,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO spam_submissions (token, site_id, form_id, visitor_id, reason, answers, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (token) DO NOTHING",
    )
    .bind(&identification.token)
    .bind(&identification.site)
    .bind(&identification.form)
    .bind(&identification.visitor_id)
    .bind(spam.as_str())
    .bind(serde_json::to_string(answers)?)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(())
}
