//! What is kept on a visitor beyond its contact: where its visits came from (the
//! first touch and the latest non-direct one) and its address as the site's
//! privacy setting allows. The collector notes a whole group of batches at once,
//! in one update of the visitors that changed.

use std::collections::BTreeMap;

use headwater_core::attribution::Touch;
use sqlx::AnyConnection;

use super::Backend;

/// Visitors in one statement: seven parameters each in the update, well within
/// both databases' limits on bound parameters.
const VISITORS_PER_STATEMENT: usize = 256;

/// What a group of batches brings to one visitor: the campaign touches of the
/// page views stored now, in the order the batches came, and what the site keeps
/// of the visitor's latest address; with the touches the visitor kept before.
#[derive(Debug, Default)]
pub struct Visit {
    pub kept: KeptTouches,
    pub touches: Vec<Touch>,
    pub address: Option<String>,
}

/// A visitor's touches as kept: when its first touch was, and its last touch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeptTouches {
    pub first_at: Option<i64>,
    pub last: Option<Touch>,
}

/// What changes on a visitor: `None` keeps a column as it is.
#[derive(Debug, Default, PartialEq)]
pub struct TouchChange {
    pub first: Option<Touch>,
    pub last: Option<Touch>,
}

/// Notes `visits`, keyed by (site, visitor), on visitors already stored: merges
/// their touches into each visitor's first and last touch and keeps the address.
/// One statement for the whole group, whatever its size.
pub async fn note_visits(
    connection: &mut AnyConnection,
    visits: &BTreeMap<(&str, &str), Visit>,
) -> anyhow::Result<()> {
    let mut updates = Vec::new();
    for (&(site_id, visitor_id), visit) in visits {
        let change = merge_touches(&visit.kept, &visit.touches);
        if change != TouchChange::default() || visit.address.is_some() {
            updates.push(VisitorUpdate {
                site_id,
                visitor_id,
                first: change.first,
                last: change.last,
                address: visit.address.as_deref(),
            });
        }
    }

    let backend = super::backend_of(connection);
    for chunk in updates.chunks(VISITORS_PER_STATEMENT) {
        update(connection, backend, chunk).await?;
    }
    Ok(())
}

/// What `touches` (in the order they arrived) change on a visitor that kept
/// `kept`. The first touch is the earliest ever seen; the last is the latest that
/// says where a visit came from (a campaign, a referrer), or the latest direct
/// one while there is none. Batches may arrive in any order; the result does not
/// depend on it, nor on how they were grouped.
pub fn merge_touches(kept: &KeptTouches, touches: &[Touch]) -> TouchChange {
    let mut first_at = kept.first_at;
    let mut first = None;
    let mut last: Option<&Touch> = kept.last.as_ref();
    let mut last_changed = false;
    for touch in touches {
        if first_at.is_none_or(|at| touch.at < at) {
            first_at = Some(touch.at);
            first = Some(touch);
        }
        if last.is_none_or(|kept| replaces(touch, kept)) {
            last = Some(touch);
            last_changed = true;
        }
    }
    TouchChange {
        first: first.cloned(),
        last: last.filter(|_| last_changed).cloned(),
    }
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

/// One visitor's row in the group's update.
struct VisitorUpdate<'a> {
    site_id: &'a str,
    visitor_id: &'a str,
    first: Option<Touch>,
    last: Option<Touch>,
    address: Option<&'a str>,
}

/// One statement for these visitors' new touches and addresses; a column given
/// as NULL stays as it was.
async fn update(
    connection: &mut AnyConnection,
    backend: Backend,
    updates: &[VisitorUpdate<'_>],
) -> anyhow::Result<()> {
    let sql = format!(
        "WITH changes (site_id, id, first_touch, first_touch_at, last_touch, last_touch_at,
                       address)
             AS (VALUES {})
         UPDATE visitors SET
             first_touch = COALESCE(changes.first_touch, visitors.first_touch),
             first_touch_at = COALESCE(changes.first_touch_at, visitors.first_touch_at),
             last_touch = COALESCE(changes.last_touch, visitors.last_touch),
             last_touch_at = COALESCE(changes.last_touch_at, visitors.last_touch_at),
             address = COALESCE(changes.address, visitors.address)
         FROM changes
         WHERE visitors.site_id = changes.site_id AND visitors.id = changes.id",
        super::placeholders(backend, 1, updates.len(), 7)
    );
    let texts = updates
        .iter()
        .map(|update| {
            let first = update
                .first
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?;
            let last = update
                .last
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?;
            Ok((first, last))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut query = sqlx::query(&sql).persistent(false);
    for (update, (first, last)) in updates.iter().zip(texts) {
        query = query
            .bind(update.site_id)
            .bind(update.visitor_id)
            .bind(first)
            .bind(update.first.as_ref().map(|touch| touch.at))
            .bind(last)
            .bind(update.last.as_ref().map(|touch| touch.at))
            .bind(update.address);
    }
    query.execute(&mut *connection).await?;
    Ok(())
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

    /// Merges `touches` one group at a time, as the collector would commit them.
    fn kept_after(groups: &[&[Touch]]) -> KeptTouches {
        let mut kept = KeptTouches::default();
        for touches in groups {
            let change = merge_touches(&kept, touches);
            if let Some(first) = change.first {
                kept.first_at = Some(first.at);
            }
            if let Some(last) = change.last {
                kept.last = Some(last);
            }
        }
        kept
    }

    #[test]
    fn touches_merge_the_same_however_batches_are_grouped() {
        let touches = [
            touch("", 20),
            touch("news", 5),
            touch("", 30),
            touch("ads", 9),
            touch("", 1),
        ];
        let one_by_one: Vec<&[Touch]> = touches.iter().map(std::slice::from_ref).collect();
        let expected = kept_after(&one_by_one);
        assert_eq!(expected.first_at, Some(1));
        assert_eq!(expected.last.as_ref().map(|touch| touch.at), Some(9));
        for split in 0..=touches.len() {
            let (before, after) = touches.split_at(split);
            assert_eq!(kept_after(&[before, after]), expected, "split at {split}");
        }
    }

    #[test]
    fn a_group_that_changes_nothing_writes_nothing() {
        let kept = kept_after(&[&[touch("news", 5), touch("", 9)]]);
        let later_direct = merge_touches(&kept, &[touch("", 12)]);
        assert_eq!(later_direct, TouchChange::default());
        let again = merge_touches(&kept, &[touch("news", 5)]);
        assert_eq!(
            again,
            TouchChange::default(),
            "a retried touch changes nothing"
        );
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
