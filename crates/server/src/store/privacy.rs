//! The right of access and the right of erasure: everything held about a contact,
//! as one document, and its removal.

use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use super::contacts;

/// Everything held about the contact, or `None` if there is no such contact.
pub async fn export(
    connection: &mut AnyConnection,
    contact_id: &str,
) -> anyhow::Result<Option<Value>> {
    let Some(contact) = contacts::find(connection, contact_id).await? else {
        return Ok(None);
    };
    let visitors = sqlx::query(
        "SELECT id, first_seen, last_seen FROM visitors WHERE contact_id = $1 ORDER BY first_seen",
    )
    .bind(contact_id)
    .fetch_all(&mut *connection)
    .await?;
    let visitors: Vec<Value> = visitors
        .iter()
        .map(|row| -> anyhow::Result<Value> {
            Ok(json!({
                "id": row.try_get::<String, _>("id")?,
                "first_seen": row.try_get::<i64, _>("first_seen")?,
                "last_seen": row.try_get::<i64, _>("last_seen")?,
            }))
        })
        .collect::<anyhow::Result<_>>()?;
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT e.body FROM events e
         JOIN visitors v ON v.site_id = e.site_id AND v.id = e.visitor_id
         WHERE v.contact_id = $1 ORDER BY e.occurred_at, e.id",
    )
    .bind(contact_id)
    .fetch_all(&mut *connection)
    .await?;
    let events: Vec<Value> = events
        .iter()
        .map(|body| serde_json::from_str(body))
        .collect::<Result<_, _>>()?;
    let submissions = sqlx::query(
        "SELECT form_id, answers, at FROM submissions WHERE contact_id = $1 ORDER BY at",
    )
    .bind(contact_id)
    .fetch_all(&mut *connection)
    .await?;
    let submissions: Vec<Value> = submissions
        .iter()
        .map(|row| -> anyhow::Result<Value> {
            let answers: String = row.try_get("answers")?;
            Ok(json!({
                "form": row.try_get::<String, _>("form_id")?,
                "answers": serde_json::from_str::<Value>(&answers)?,
                "at": row.try_get::<i64, _>("at")?,
            }))
        })
        .collect::<anyhow::Result<_>>()?;
    let history = contacts::stage_history(connection, contact_id).await?;
    let breaches = super::breaches::of_contact(connection, contact_id).await?;
    let handoffs: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT id, kind, state, created_at FROM outbox WHERE contact_id = $1 ORDER BY created_at",
    )
    .bind(contact_id)
    .fetch_all(&mut *connection)
    .await?;
    let handoffs: Vec<Value> = handoffs
        .into_iter()
        .map(|(id, event, state, at)| json!({ "id": id, "event": event, "state": state, "at": at }))
        .collect();
    Ok(Some(json!({
        "handoffs": handoffs,
        "sla_breaches": breaches,
        "contact": contact,
        "visitors": visitors,
        "events": events,
        "submissions": submissions,
        "stage_history": history,
    })))
}

/// Removes the contact with its visitors, events, submissions (spam from its
/// visitors included), stage history and handoffs. Returns false if there was no such contact.
pub async fn erase(connection: &mut AnyConnection, contact_id: &str) -> anyhow::Result<bool> {
    let statements = [
        "DELETE FROM events WHERE EXISTS (
             SELECT 1 FROM visitors v
             WHERE v.contact_id = $1 AND v.site_id = events.site_id AND v.id = events.visitor_id)",
        // Spam from the contact's browsers may hold its e-mail too.
        "DELETE FROM spam_submissions WHERE EXISTS (
             SELECT 1 FROM visitors v
             WHERE v.contact_id = $1 AND v.site_id = spam_submissions.site_id
               AND v.id = spam_submissions.visitor_id)",
        "DELETE FROM visitors WHERE contact_id = $1",
        "DELETE FROM submissions WHERE contact_id = $1",
        "DELETE FROM stage_changes WHERE contact_id = $1",
        "DELETE FROM outbox WHERE contact_id = $1",
        "DELETE FROM sla_breaches WHERE contact_id = $1",
    ];
    for statement in statements {
        sqlx::query(statement)
            .bind(contact_id)
            .execute(&mut *connection)
            .await?;
    }
    let removed = sqlx::query("DELETE FROM contacts WHERE id = $1")
        .bind(contact_id)
        .execute(&mut *connection)
        .await?
        .rows_affected();
    Ok(removed == 1)
}
