//! What is kept on a visitor beyond its contact: where its visits came from (the
//! first touch and the latest non-direct one) and its address as the site's
//! privacy setting allows, and when it was last seen, to the minute. The collector
//! notes a whole group of batches at once, in one update of the visitors whose
//! kept columns change: a row left as it was costs no page in the commit.

use std::collections::BTreeMap;

use headwater_core::attribution::Touch;
use sqlx::AnyConnection;

use super::Backend;

/// Visitors in one statement: eight parameters each in the update, well within
/// both databases' limits on bound parameters.
const VISITORS_PER_STATEMENT: usize = 256;

/// A visitor's `last_seen` is rewritten only once it is this far behind: the
/// minute is all anyone reads it for, and rewriting it for every batch made each
/// group commit write the page of every visitor it saw.
pub const LAST_SEEN_RESOLUTION_MS: i64 = 60_000;

/// What a group of batches brings to one visitor: the campaign touches of the
/// page views stored now, in the order the batches came, what the site keeps of
/// the visitor's latest address, and when it was seen; with what the visitor
/// kept before.
#[derive(Debug, Default)]
pub struct Visit {
    pub kept: KeptTouches,
    pub kept_address: Option<String>,
    pub kept_last_seen: i64,
    pub touches: Vec<Touch>,
    pub address: Option<String>,
    pub seen_at: i64,
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
    let updates: Vec<VisitorUpdate> = visits
        .iter()
        .filter_map(|(&(site_id, visitor_id), visit)| update_of(site_id, visitor_id, visit))
        .collect();

    let backend = super::backend_of(connection);
    for chunk in updates.chunks(VISITORS_PER_STATEMENT) {
        update(connection, backend, chunk).await?;
    }
    Ok(())
}

/// What `visit` changes on the visitor's row; `None` when it changes nothing, so
/// that the row and its page are left alone.
fn update_of<'a>(
    site_id: &'a str,
    visitor_id: &'a str,
    visit: &'a Visit,
) -> Option<VisitorUpdate<'a>> {
    let change = merge_touches(&visit.kept, &visit.touches);
    let address = visit
        .address
        .as_deref()
        .filter(|address| visit.kept_address.as_deref() != Some(*address));
    let last_seen =
        (visit.seen_at - visit.kept_last_seen >= LAST_SEEN_RESOLUTION_MS).then_some(visit.seen_at);
    if change == TouchChange::default() && address.is_none() && last_seen.is_none() {
        return None;
    }
    Some(VisitorUpdate {
        site_id,
        visitor_id,
        first: change.first,
        last: change.last,
        address,
        last_seen,
    })
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
    last_seen: Option<i64>,
}

/// One statement for these visitors' new touches, addresses and `last_seen`; a
/// column given as NULL stays as it was.
async fn update(
    connection: &mut AnyConnection,
    backend: Backend,
    updates: &[VisitorUpdate<'_>],
) -> anyhow::Result<()> {
    let sql = format!(
        "WITH changes (site_id, id, first_touch, first_touch_at, last_touch, last_touch_at,
                       address, last_seen)
             AS (VALUES {})
         UPDATE visitors SET
             first_touch = COALESCE(changes.first_touch, visitors.first_touch),
             first_touch_at = COALESCE(changes.first_touch_at, visitors.first_touch_at),
             last_touch = COALESCE(changes.last_touch, visitors.last_touch),
             last_touch_at = COALESCE(changes.last_touch_at, visitors.last_touch_at),
             address = COALESCE(changes.address, visitors.address),
             last_seen = COALESCE(changes.last_seen, visitors.last_seen)
         FROM changes
         WHERE visitors.site_id = changes.site_id AND visitors.id = changes.id",
        super::placeholders(backend, 1, updates.len(), 8)
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
            .bind(update.address)
            .bind(update.last_seen);
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

    /// A visitor seen at minute 0 from `kept_address`, now seen again.
    fn visit(seen_at: i64, address: Option<&str>, touches: Vec<Touch>) -> Visit {
        Visit {
            kept: KeptTouches {
                first_at: Some(0),
                last: Some(touch("news", 0)),
            },
            kept_address: Some("203.0.113.0".into()),
            kept_last_seen: 0,
            touches,
            address: address.map(str::to_owned),
            seen_at,
        }
    }

    #[test]
    fn a_visit_that_changes_nothing_kept_leaves_the_row_alone() {
        let cases = [
            (
                "same minute, no address",
                visit(59_999, None, vec![]),
                false,
            ),
            (
                "same minute, same address",
                visit(1_000, Some("203.0.113.0"), vec![]),
                false,
            ),
            (
                "same minute, direct touch",
                visit(1_000, None, vec![touch("", 5)]),
                false,
            ),
            ("a minute later", visit(60_000, None, vec![]), true),
            (
                "another address",
                visit(1_000, Some("198.51.100.0"), vec![]),
                true,
            ),
            (
                "a campaign touch",
                visit(1_000, None, vec![touch("ads", 5)]),
                true,
            ),
        ];
        for (name, visit, written) in cases {
            let update = update_of("site", "visitor", &visit);
            assert_eq!(update.is_some(), written, "{name}");
        }
        let later = visit(90_000, None, vec![]);
        let update = update_of("site", "visitor", &later).unwrap();
        assert_eq!(update.last_seen, Some(90_000));
        assert_eq!(
            (update.first, update.last, update.address),
            (None, None, None)
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
