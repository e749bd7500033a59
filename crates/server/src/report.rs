//! The waterfall report, computed from the stage record (`stage_changes`): for a
//! period of days in the site's time zone, how many leads entered each stage, how
//! many of them moved on to the next stage before the period ended, the median
//! time leads spent in each stage they left during the period, and the moves back
//! to marketing with their reasons, against the period just before it.
//!
//! A day is midnight to midnight in the site's time zone, so a day with a
//! daylight-saving change has 23 or 25 hours, and every moment belongs to exactly
//! one day.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use headwater_core::Stage;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use sqlx::{AnyConnection, Row};

/// The stages of the waterfall, top to bottom, as the report draws them.
pub const FLOW: [Stage; 6] = [
    Stage::Inquiry,
    Stage::Known,
    Stage::Mql,
    Stage::Sal,
    Stage::Sql,
    Stage::Customer,
];

/// The longest period a report covers: two years of days.
pub const MAX_DAYS: i64 = 731;

/// Days `from` to `to`, both included, in a time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    pub to: Date,
    /// The first moment of `from`, in milliseconds since the epoch.
    pub start_ms: i64,
    /// The first moment after `to`.
    pub end_ms: i64,
}

/// Which contacts a report counts, by where they first came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Source {
    #[default]
    Any,
    Campaign(String),
    Referrer(String),
    Channel(String),
}

/// The figures of one period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Moves into each stage during the period.
    pub entered: BTreeMap<Stage, u64>,
    /// Of those, the moves on to the stage's next stage before the period ended.
    pub moved_on: BTreeMap<Stage, u64>,
    /// Median time spent in each stage, over the stays that ended in the period.
    pub median_ms: BTreeMap<Stage, i64>,
    /// Moves back to marketing in the period: (from stage, reason) and how many.
    pub recycled: BTreeMap<(Stage, String), u64>,
    /// Moves into each stage, day by day.
    pub days: BTreeMap<Date, BTreeMap<Stage, u64>>,
}

/// The report: a period, the one before it, and their figures.
#[derive(Debug, Clone)]
pub struct Report {
    pub period: Period,
    pub previous: Period,
    pub current: Figures,
    pub before: Figures,
}

/// The stage a lead moves on to from `stage` when the waterfall goes well.
pub fn next_stage(stage: Stage) -> Option<Stage> {
    match stage {
        Stage::Inquiry => Some(Stage::Known),
        Stage::Known | Stage::Recycled => Some(Stage::Mql),
        Stage::Mql => Some(Stage::Sal),
        Stage::Sal => Some(Stage::Sql),
        Stage::Sql => Some(Stage::Customer),
        Stage::Customer => None,
    }
}

impl Period {
    /// The days `from` to `to` in `zone`.
    pub fn new(from: Date, to: Date, zone: &TimeZone) -> anyhow::Result<Period> {
        anyhow::ensure!(from <= to, "the period ends before it starts");
        let days = from.until(to)?.get_days();
        anyhow::ensure!(
            i64::from(days) < MAX_DAYS,
            "a report covers at most {MAX_DAYS} days"
        );
        Ok(Period {
            from,
            to,
            start_ms: day_start_ms(from, zone)?,
            end_ms: day_start_ms(to.tomorrow()?, zone)?,
        })
    }

    /// The period of the same number of days just before this one.
    pub fn previous(&self, zone: &TimeZone) -> anyhow::Result<Period> {
        let days = i64::from(self.from.until(self.to)?.get_days()) + 1;
        let to = self.from.yesterday()?;
        let from = to.checked_sub((days - 1).days())?;
        Period::new(from, to, zone)
    }

    pub fn contains(&self, at: i64) -> bool {
        (self.start_ms..self.end_ms).contains(&at)
    }

    /// Every day of the period.
    pub fn days(&self) -> impl Iterator<Item = Date> + '_ {
        self.from
            .series(1.day())
            .take_while(move |day| *day <= self.to)
    }
}

/// The first moment of a day in a time zone (midnight, or the first moment after
/// it when a daylight-saving change skips midnight).
pub fn day_start_ms(day: Date, zone: &TimeZone) -> anyhow::Result<i64> {
    let start = day
        .to_zoned(zone.clone())
        .context("a day outside the time zone's range")?
        .start_of_day()?;
    Ok(start.timestamp().as_millisecond())
}

/// The day a moment belongs to in a time zone.
pub fn day_of(at_ms: i64, zone: &TimeZone) -> Date {
    Timestamp::from_millisecond(at_ms)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(zone.clone())
        .date()
}

/// One recorded move, as the report reads it.
struct Change {
    id: i64,
    from: Option<Stage>,
    to: Stage,
    reason: String,
    at: i64,
}

/// Computes the report of a site for `period` and the period before it.
pub async fn compute(
    connection: &mut AnyConnection,
    site_id: &str,
    source: &Source,
    period: &Period,
    zone: &TimeZone,
) -> anyhow::Result<Report> {
    let previous = period.previous(zone)?;
    let (start, end) = (previous.start_ms, period.end_ms);
    let histories = histories(connection, site_id, source, start, end).await?;
    let inquiries = lone_inquiries(connection, site_id, source, start, end).await?;
    Ok(Report {
        current: figures(&histories, &inquiries, period, zone),
        before: figures(&histories, &inquiries, &previous, zone),
        period: period.clone(),
        previous,
    })
}

/// The distinct first-touch values of a site's contacts, for the source filter.
pub async fn sources(connection: &mut AnyConnection, site_id: &str) -> anyhow::Result<Vec<Source>> {
    // One pass over an index that holds every column asked for.
    let rows = sqlx::query(
        "SELECT first_channel, first_campaign, first_referrer FROM contacts
         WHERE site_id = $1 GROUP BY first_channel, first_campaign, first_referrer",
    )
    .bind(site_id)
    .fetch_all(&mut *connection)
    .await?;
    let mut sources = std::collections::BTreeSet::new();
    for row in &rows {
        let touch: [Option<String>; 3] = [
            row.try_get("first_channel")?,
            row.try_get("first_campaign")?,
            row.try_get("first_referrer")?,
        ];
        let [channel, campaign, referrer] = touch;
        sources.extend(channel.map(|value| format!("channel:{value}")));
        sources.extend(campaign.map(|value| format!("campaign:{value}")));
        sources.extend(referrer.map(|value| format!("referrer:{value}")));
    }
    Ok(sources.iter().map(|text| Source::parse(text)).collect())
}

impl Source {
    /// `campaign:NAME`, `referrer:HOST`, `channel:NAME`; anything else is any source.
    pub fn parse(text: &str) -> Source {
        match text.split_once(':') {
            Some(("campaign", value)) => Source::Campaign(value.to_owned()),
            Some(("referrer", value)) => Source::Referrer(value.to_owned()),
            Some(("channel", value)) => Source::Channel(value.to_owned()),
            _ => Source::Any,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Any => Ok(()),
            Source::Campaign(value) => write!(formatter, "campaign:{value}"),
            Source::Referrer(value) => write!(formatter, "referrer:{value}"),
            Source::Channel(value) => write!(formatter, "channel:{value}"),
        }
    }
}

impl Figures {
    pub fn entered(&self, stage: Stage) -> u64 {
        self.entered.get(&stage).copied().unwrap_or(0)
    }

    pub fn moved_on(&self, stage: Stage) -> u64 {
        self.moved_on.get(&stage).copied().unwrap_or(0)
    }

    /// The share of the leads entering `stage` that moved on, in percent.
    pub fn conversion(&self, stage: Stage) -> Option<f64> {
        let entered = self.entered(stage);
        (entered > 0).then(|| self.moved_on(stage) as f64 * 100.0 / entered as f64)
    }

    /// Moves back to marketing, in all.
    pub fn recycled_total(&self) -> u64 {
        self.recycled.values().sum()
    }

    /// Moves back to marketing from one stage.
    pub fn recycled_from(&self, stage: Stage) -> u64 {
        self.recycled
            .iter()
            .filter(|((from, _), _)| *from == stage)
            .map(|(_, count)| count)
            .sum()
    }
}

/// The column a source filters on, and its value; any source compares '' with ''.
fn source_filter(source: &Source) -> (&'static str, &str) {
    match source {
        Source::Any => ("''", ""),
        Source::Campaign(value) => ("c.first_campaign", value.as_str()),
        Source::Referrer(value) => ("c.first_referrer", value.as_str()),
        Source::Channel(value) => ("c.first_channel", value.as_str()),
    }
}

/// When the contacts still in the Inquiry stage arrived, within the times given.
/// Most contacts never get further; their one move is their arrival, so they are
/// counted from the contacts table alone rather than read move by move.
async fn lone_inquiries(
    connection: &mut AnyConnection,
    site_id: &str,
    source: &Source,
    start_ms: i64,
    end_ms: i64,
) -> anyhow::Result<Vec<i64>> {
    let (column, value) = source_filter(source);
    let sql = format!(
        "SELECT c.stage_changed_at FROM contacts c
         WHERE c.site_id = $1 AND c.stage_changed_at >= $2 AND c.stage_changed_at < $3
           AND c.stage = 'inquiry' AND {column} = $4"
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(site_id)
        .bind(start_ms)
        .bind(end_ms)
        .bind(value)
        .fetch_all(&mut *connection)
        .await?)
}

/// Every move up to `end_ms` of the contacts of the site (and source) that moved
/// at or after `start_ms` and got past Inquiry, by contact, oldest first.
async fn histories(
    connection: &mut AnyConnection,
    site_id: &str,
    source: &Source,
    start_ms: i64,
    end_ms: i64,
) -> anyhow::Result<Vec<Vec<Change>>> {
    let (column, value) = source_filter(source);
    // A contact's latest move is at or after any of its moves, so contacts whose
    // latest move is older than the start have nothing in the periods.
    let sql = format!(
        "SELECT sc.id, sc.contact_id, sc.from_stage, sc.to_stage, sc.at,
                CASE WHEN sc.to_stage = 'recycled' THEN sc.reason ELSE '' END AS reason
         FROM contacts c JOIN stage_changes sc ON sc.contact_id = c.id
         WHERE c.site_id = $1 AND c.stage_changed_at >= $2 AND sc.at < $3
           AND c.stage <> 'inquiry' AND {column} = $4"
    );
    let rows = sqlx::query(&sql)
        .bind(site_id)
        .bind(start_ms)
        .bind(end_ms)
        .bind(value)
        .fetch_all(&mut *connection)
        .await?;

    let mut by_contact: HashMap<String, Vec<Change>> = HashMap::new();
    for row in &rows {
        let from: Option<String> = row.try_get("from_stage")?;
        let change = Change {
            id: row.try_get("id")?,
            from: from.as_deref().map(str::parse).transpose()?,
            to: row.try_get::<String, _>("to_stage")?.parse()?,
            reason: row.try_get("reason")?,
            at: row.try_get("at")?,
        };
        by_contact
            .entry(row.try_get("contact_id")?)
            .or_default()
            .push(change);
    }
    let mut histories: Vec<Vec<Change>> = by_contact.into_values().collect();
    for history in &mut histories {
        history.sort_by_key(|change| change.id);
    }
    Ok(histories)
}

fn figures(
    histories: &[Vec<Change>],
    lone_inquiries: &[i64],
    period: &Period,
    zone: &TimeZone,
) -> Figures {
    let mut figures = Figures::default();
    for &at in lone_inquiries.iter().filter(|at| period.contains(**at)) {
        *figures.entered.entry(Stage::Inquiry).or_default() += 1;
        let day = figures.days.entry(day_of(at, zone)).or_default();
        *day.entry(Stage::Inquiry).or_default() += 1;
    }
    let mut stays: BTreeMap<Stage, Vec<i64>> = BTreeMap::new();
    for history in histories {
        for (index, change) in history.iter().enumerate() {
            if !period.contains(change.at) {
                continue;
            }
            *figures.entered.entry(change.to).or_default() += 1;
            *figures
                .days
                .entry(day_of(change.at, zone))
                .or_default()
                .entry(change.to)
                .or_default() += 1;

            let next = history.get(index + 1);
            let moved_on = next.is_some_and(|next| {
                Some(next.to) == next_stage(change.to) && next.at < period.end_ms
            });
            if moved_on {
                *figures.moved_on.entry(change.to).or_default() += 1;
            }
            if let (Some(from), Some(entered)) = (change.from, index.checked_sub(1)) {
                let stay = (change.at - history[entered].at).max(0);
                stays.entry(from).or_default().push(stay);
            }
            if change.to == Stage::Recycled {
                let from = change.from.unwrap_or(Stage::Recycled);
                let reason = change.reason.trim().to_owned();
                *figures.recycled.entry((from, reason)).or_default() += 1;
            }
        }
    }
    for (stage, mut durations) in stays {
        durations.sort_unstable();
        // The lower middle of an even count: a time someone actually took.
        figures
            .median_ms
            .insert(stage, durations[(durations.len() - 1) / 2]);
    }
    figures
}

/// A cell made safe for spreadsheets: text that a spreadsheet would run as a
/// formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a
/// leading apostrophe, which makes it plain text.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// The report as CSV: one row per figure, with the period and the one before it,
/// then the moves back to marketing by reason, then the days.
pub fn csv(report: &Report, site_id: &str, source: &Source) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut row = |cells: &[&str]| -> anyhow::Result<()> {
        let safe: Vec<std::borrow::Cow<'_, str>> =
            cells.iter().map(|cell| spreadsheet_safe(cell)).collect();
        writer.write_record(safe.iter().map(|cell| cell.as_ref()))?;
        Ok(())
    };
    let source = source.to_string();
    let period = format!("{} to {}", report.period.from, report.period.to);
    let previous = format!("{} to {}", report.previous.from, report.previous.to);
    row(&["site", site_id, "source", &source, "", ""])?;
    row(&["section", "stage", "figure", "detail", &period, &previous])?;

    let (now, before) = (&report.current, &report.before);
    for stage in FLOW.into_iter().chain([Stage::Recycled]) {
        let name = stage.as_str();
        row(&[
            "waterfall",
            name,
            "entered",
            "",
            &now.entered(stage).to_string(),
            &before.entered(stage).to_string(),
        ])?;
        if let Some(next) = next_stage(stage) {
            let detail = format!("to {next}");
            row(&[
                "waterfall",
                name,
                "moved on",
                &detail,
                &now.moved_on(stage).to_string(),
                &before.moved_on(stage).to_string(),
            ])?;
            let percent = |figures: &Figures| {
                figures
                    .conversion(stage)
                    .map_or(String::new(), |rate| format!("{rate:.1}"))
            };
            row(&[
                "waterfall",
                name,
                "conversion %",
                &detail,
                &percent(now),
                &percent(before),
            ])?;
        }
        let hours = |figures: &Figures| {
            figures.median_ms.get(&stage).map_or(String::new(), |ms| {
                format!("{:.1}", *ms as f64 / 3_600_000.0)
            })
        };
        row(&[
            "waterfall",
            name,
            "median hours in stage",
            "",
            &hours(now),
            &hours(before),
        ])?;
    }

    let mut reasons: Vec<&(Stage, String)> =
        now.recycled.keys().chain(before.recycled.keys()).collect();
    reasons.sort();
    reasons.dedup();
    for key in reasons {
        let count = |figures: &Figures| figures.recycled.get(key).copied().unwrap_or(0).to_string();
        row(&[
            "recycled",
            key.0.as_str(),
            "reason",
            &key.1,
            &count(now),
            &count(before),
        ])?;
    }

    for day in report.period.days() {
        for stage in FLOW.into_iter().chain([Stage::Recycled]) {
            let count = now
                .days
                .get(&day)
                .and_then(|stages| stages.get(&stage))
                .copied()
                .unwrap_or(0);
            row(&[
                "day",
                stage.as_str(),
                "entered",
                &day.to_string(),
                &count.to_string(),
                "",
            ])?;
        }
    }
    writer.flush()?;
    writer
        .into_inner()
        .map_err(|error| anyhow::anyhow!("{error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> Date {
        text.parse().unwrap()
    }

    fn moment(text: &str) -> i64 {
        let zoned: jiff::Zoned = text.parse().unwrap();
        zoned.timestamp().as_millisecond()
    }

    #[test]
    fn days_follow_the_time_zone_through_daylight_saving() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let new_york = TimeZone::get("America/New_York").unwrap();
        let hours = |day: &str, zone: &TimeZone| {
            let period = Period::new(date(day), date(day), zone).unwrap();
            (period.end_ms - period.start_ms) / 3_600_000
        };
        assert_eq!(hours("2025-03-30", &berlin), 23, "spring forward");
        assert_eq!(hours("2025-10-26", &berlin), 25, "fall back");
        assert_eq!(hours("2025-06-01", &berlin), 24);
        assert_eq!(hours("2025-11-02", &new_york), 25);

        let cases = [
            ("2025-10-26T00:00:00+02:00[Europe/Berlin]", "2025-10-26"),
            ("2025-10-26T02:30:00+02:00[Europe/Berlin]", "2025-10-26"),
            ("2025-10-26T02:30:00+01:00[Europe/Berlin]", "2025-10-26"),
            ("2025-10-26T23:59:59.999+01:00[Europe/Berlin]", "2025-10-26"),
            ("2025-10-27T00:00:00+01:00[Europe/Berlin]", "2025-10-27"),
            ("2025-10-25T23:59:59.999+02:00[Europe/Berlin]", "2025-10-25"),
            ("2025-03-30T03:00:00+02:00[Europe/Berlin]", "2025-03-30"),
        ];
        for (at, expected) in cases {
            assert_eq!(day_of(moment(at), &berlin), date(expected), "{at}");
            let day = Period::new(date(expected), date(expected), &berlin).unwrap();
            assert!(day.contains(moment(at)), "{at} is within its day's bounds");
        }
    }

    #[test]
    fn consecutive_days_neither_overlap_nor_leave_a_gap() {
        let zone = TimeZone::get("America/Sao_Paulo").unwrap();
        let month = Period::new(date("2018-10-01"), date("2018-11-30"), &zone).unwrap();
        let mut expected_start = month.start_ms;
        for day in month.days() {
            let one = Period::new(day, day, &zone).unwrap();
            assert_eq!(one.start_ms, expected_start, "{day}");
            expected_start = one.end_ms;
        }
        assert_eq!(expected_start, month.end_ms);
    }

    #[test]
    fn the_previous_period_has_as_many_days() {
        let zone = TimeZone::UTC;
        let period = Period::new(date("2025-03-01"), date("2025-03-31"), &zone).unwrap();
        let previous = period.previous(&zone).unwrap();
        assert_eq!(
            (previous.from, previous.to),
            (date("2025-01-29"), date("2025-02-28"))
        );
        assert_eq!(previous.end_ms, period.start_ms);
    }

    #[test]
    fn formulas_are_neutralised_for_spreadsheets() {
        let cases = [
            (
                "=HYPERLINK(\"http://evil\")",
                "'=HYPERLINK(\"http://evil\")",
            ),
            ("+1+1", "'+1+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\rcmd", "'\rcmd"),
            ("budget next year", "budget next year"),
            ("", ""),
            ("12", "12"),
        ];
        for (cell, expected) in cases {
            assert_eq!(spreadsheet_safe(cell), expected, "{cell:?}");
        }
    }

    #[test]
    fn figures_follow_each_lead_through_the_period() {
        let zone = TimeZone::UTC;
        let period = Period::new(date("2025-01-10"), date("2025-01-19"), &zone).unwrap();
        let at =
            |day: &str, hour: i64| moment(&format!("{day}T00:00:00+00:00[UTC]")) + hour * 3_600_000;
        let change = |id, from: Option<Stage>, to, at| Change {
            id,
            from,
            to,
            reason: if to == Stage::Recycled {
                "no budget".into()
            } else {
                String::new()
            },
            at,
        };
        use Stage::*;
        let histories = vec![
            // Entered MQL in the period, accepted 5 hours later, then recycled.
            vec![
                change(1, None, Inquiry, at("2025-01-01", 0)),
                change(2, Some(Inquiry), Known, at("2025-01-02", 0)),
                change(3, Some(Known), Mql, at("2025-01-11", 0)),
                change(4, Some(Mql), Sal, at("2025-01-11", 5)),
                change(5, Some(Sal), Recycled, at("2025-01-12", 5)),
            ],
            // Entered MQL in the period; accepted only after it.
            vec![
                change(6, None, Inquiry, at("2025-01-15", 0)),
                change(7, Some(Inquiry), Known, at("2025-01-15", 1)),
                change(8, Some(Known), Mql, at("2025-01-16", 0)),
                change(9, Some(Mql), Sal, at("2025-01-21", 0)),
            ],
        ];
        let figures = figures(&histories, &[at("2025-01-18", 3)], &period, &zone);
        assert_eq!(figures.entered(Mql), 2);
        assert_eq!(figures.moved_on(Mql), 1);
        assert_eq!(figures.conversion(Mql), Some(50.0));
        assert_eq!(
            figures.entered(Inquiry),
            2,
            "one moved on, one still an inquiry"
        );
        assert_eq!(figures.moved_on(Inquiry), 1);
        assert_eq!(figures.median_ms[&Mql], 5 * 3_600_000);
        assert_eq!(figures.median_ms[&Sal], 24 * 3_600_000);
        assert_eq!(figures.recycled[&(Sal, "no budget".into())], 1);
        assert_eq!(figures.days[&date("2025-01-11")][&Mql], 1);
        assert_eq!(figures.days[&date("2025-01-11")][&Sal], 1);
    }
}
