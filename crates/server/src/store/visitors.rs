//! What is kept on a visitor beyond its contact: where its visits came from (the
//! first touch and the latest non-direct one) and its address as the site's
//! privacy setting allows.

use headwater_core::attribution::Touch;
use sqlx::{AnyConnection, Row};

/// Merges `touches` into the visitor's first and last touch. The first touch is
/// the earliest ever seen; the last is the latest that says where a visit came
/// from (a campaign, a referrer), or the latest direct one while there is none.
/// Batches may arrive in any order; the result does not depend on it.
pub async fn note_touches(
    connection: &mut AnyConnection,
    site_id: &str,
    visitor_id: &str,
    touches: &[Touch],
) -> anyhow::Result<()> {
    if touches.is_empty() {
        return Ok(());
    }
    let row = sqlx::query(
        "SELECT first_touch_at, last_touch FROM visitors WHERE site_id = $1 AND id = $2",
    )
    .bind(site_id)
    .bind(visitor_id)
    .fetch_optional(&mut *connection)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let mut first_at: Option<i64> = row.try_get("first_touch_at")?;
    let last: Option<String> = row.try_get("last_touch")?;
    let mut last: Option<Touch> = last.and_then(|text| serde_json::from_str(&text).ok());

    let mut first = None;
    for touch in touches {
        if first_at.is_none_or(|at| touch.at < at) {
            first_at = Some(touch.at);
            first = Some(touch);
        }
        if last.as_ref().is_none_or(|kept| replaces(touch, kept)) {
            last = Some(touch.clone());
        }
    }

    if let Some(first) = first {
        sqlx::query(
            "UPDATE visitors SET first_touch = $3, first_touch_at = $4
             WHERE site_id = $1 AND id = $2",
        )
        .bind(site_id)
        .bind(visitor_id)
        .bind(serde_json::to_string(first)?)
        .bind(first.at)
        .execute(&mut *connection)
        .await?;
    }
    if let Some(last) = last {
        sqlx::query(
            "UPDATE visitors SET last_touch = $3, last_touch_at = $4
             WHERE site_id = $1 AND id = $2",
        )
        .bind(site_id)
        .bind(visitor_id)
        .bind(serde_json::to_string(&last)?)
        .bind(last.at)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

/// Keeps what the site's setting allows of the visitor's latest address.
pub async fn note_address(
    connection: &mut AnyConnection,
    site_id: &str,
    visitor_id: &str,
    address: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE visitors SET address = $3 WHERE site_id = $1 AND id = $2")
        .bind(site_id)
        .bind(visitor_id)
        .bind(address)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Whether `touch` becomes the last touch in place of `kept`: a touch saying
/// where a visit came from beats a direct one, and among equals the later wins.
fn replaces(touch: &Touch, kept: &Touch) -> bool {
    match (touch.is_direct(), kept.is_direct()) {
        (false, true) => true,
        (true, false) => false,
        _ => touch.at > kept.at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(source: &str, at: i64) -> Touch {
        headwater_core::attribution::touch_of(
            &format!("https://a.test/?utm_source={source}&utm_medium=email"),
            "",
            at,
        )
        .filter(|_| !source.is_empty())
        .unwrap_or_else(|| {
            headwater_core::attribution::touch_of("https://a.test/", "", at).unwrap()
        })
    }

    #[test]
    fn the_last_touch_is_the_latest_that_says_where_from() {
        let cases = [
            (touch("news", 5), touch("", 9), false),
            (touch("", 9), touch("news", 5), true),
            (touch("ads", 9), touch("news", 5), false),
            (touch("news", 5), touch("ads", 9), true),
            (touch("", 5), touch("", 9), true),
        ];
        for (kept, candidate, expected) in cases {
            assert_eq!(
                replaces(&candidate, &kept),
                expected,
                "{} at {} over {} at {}",
                candidate.source,
                candidate.at,
                kept.source,
                kept.at
            );
        }
    }
}
