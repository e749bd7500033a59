//! The waterfall report page: the picture (SVG drawn here), the table of figures
//! against the previous period, the moves back to marketing by reason, and the CSV
//! export. For admins and marketers.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use headwater_core::{Role, Stage};
use jiff::ToSpan;
use jiff::civil::Date;
use serde::Deserialize;

use super::{Layout, chosen_site, duration, render, require, site_ids};
use crate::accounts::Account;
use crate::app::AppState;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::report::{self, FLOW, Figures, Period, Report, Source, next_stage};

/// Days a report covers when the page does not say.
const DEFAULT_DAYS: i64 = 30;
/// Reasons listed in the picture; the table below it lists them all.
const REASONS_IN_PICTURE: usize = 4;

#[derive(Deserialize, Default)]
struct ReportQuery {
    site: Option<String>,
    from: Option<String>,
    to: Option<String>,
    #[serde(default)]
    source: String,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    layout: Layout,
    sites: Vec<String>,
    site: String,
    time_zone: String,
    from: String,
    to: String,
    source: String,
    sources: Vec<(String, String)>,
    previous: String,
    rows: Vec<StageRow>,
    picture: Picture,
    reasons: Vec<ReasonRow>,
    csv_href: String,
    took_ms: u128,
}

struct StageRow {
    stage: &'static str,
    entered: u64,
    before: u64,
    change: String,
    conversion: String,
    conversion_before: String,
    median: String,
    median_before: String,
}

struct ReasonRow {
    from: &'static str,
    reason: String,
    count: u64,
    before: u64,
}

/// The waterfall drawn: one bar per stage (width by the square root of its volume,
/// so that customers stay visible next to thousands of inquiries), conversion
/// between bars, median time on the right, recycling below.
struct Picture {
    width: i64,
    height: i64,
    bars: Vec<Bar>,
    recycled: String,
    recycled_y: i64,
    reasons: Vec<(i64, String)>,
    days: Vec<DayBar>,
    day_width: i64,
    days_y: i64,
    days_label: String,
}

struct Bar {
    name: &'static str,
    y: i64,
    x: i64,
    width: i64,
    label: String,
    median: String,
    conversion: String,
    recycled: String,
}

struct DayBar {
    x: i64,
    y: i64,
    height: i64,
    title: String,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/report", get(page))
        .route("/console/report.csv", get(export))
}

async fn page(
    State(state): State<AppState>,
    account: Account,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    require(&account, &[Role::Marketer])?;
    let started = std::time::Instant::now();
    let site_id = chosen_site(&state, query.site.as_deref())?.id.clone();
    let sources = async {
        let mut connection = state.store().reader().acquire().await?;
        report::sources(&mut connection, &site_id).await
    };
    let (computed, sources) = tokio::join!(compute(&state, &query), sources);
    let ((site, report, source), sources) = (computed?, sources?);

    let rows = FLOW
        .into_iter()
        .chain([Stage::Recycled])
        .map(|stage| stage_row(&report, stage))
        .collect();
    let mut reasons: Vec<ReasonRow> = report
        .current
        .recycled
        .iter()
        .map(|((from, reason), count)| ReasonRow {
            from: from.as_str(),
            reason: reason.clone(),
            count: *count,
            before: report
                .before
                .recycled
                .get(&(*from, reason.clone()))
                .copied()
                .unwrap_or(0),
        })
        .collect();
    reasons.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    let query_string = format!(
        "site={}&from={}&to={}&source={}",
        encode(&site.id),
        report.period.from,
        report.period.to,
        encode(&source.to_string())
    );
    let page = ReportPage {
        layout: Layout::new(&account, "Waterfall", "/console/report"),
        sites: site_ids(&state),
        site: site.id.clone(),
        time_zone: site.time_zone.clone(),
        from: report.period.from.to_string(),
        to: report.period.to.to_string(),
        source: source.to_string(),
        sources: sources
            .iter()
            .map(|source| {
                let text = source.to_string();
                let label = text.replacen(':', ": ", 1);
                (text, label)
            })
            .collect(),
        previous: format!("{} to {}", report.previous.from, report.previous.to),
        picture: picture(&report, &reasons),
        rows,
        reasons,
        csv_href: format!("/console/report.csv?{query_string}"),
        took_ms: started.elapsed().as_millis(),
    };
    Ok(render(&page))
}

async fn export(
    State(state): State<AppState>,
    account: Account,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    require(&account, &[Role::Marketer])?;
    let (site, report, source) = compute(&state, &query).await?;
    let body = report::csv(&report, &site.id, &source)?;
    let file = format!(
        "attachment; filename=\"waterfall-{}-{}-{}.csv\"",
        site.id
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
        report.period.from,
        report.period.to
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, file),
        ],
        body,
    )
        .into_response())
}

async fn compute(
    state: &AppState,
    query: &ReportQuery,
) -> Result<(std::sync::Arc<crate::config::SiteConfig>, Report, Source), ApiError> {
    let site = chosen_site(state, query.site.as_deref())?;
    let zone = site.zone();
    let today = report::day_of(now_ms(), &zone);
    let day = |text: &Option<String>, name: &str| -> Result<Option<Date>, ApiError> {
        match text.as_deref().filter(|text| !text.is_empty()) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                ApiError::BadRequest(format!("`{name}` must be a day such as 2025-03-30"))
            }),
        }
    };
    let to = day(&query.to, "to")?.unwrap_or(today);
    let from = match day(&query.from, "from")? {
        Some(from) => from,
        None => to
            .checked_sub((DEFAULT_DAYS - 1).days())
            .map_err(anyhow::Error::from)?,
    };
    let period =
        Period::new(from, to, &zone).map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let source = Source::parse(&query.source);
    let mut connection = state.store().reader().acquire().await?;
    let report = report::compute(&mut connection, &site.id, &source, &period, &zone).await?;
    Ok((site, report, source))
}

fn stage_row(report: &Report, stage: Stage) -> StageRow {
    let (now, before) = (&report.current, &report.before);
    let percent = |figures: &Figures| {
        next_stage(stage)
            .and(figures.conversion(stage))
            .map_or("–".into(), |rate| format!("{rate:.1} %"))
    };
    let median = |figures: &Figures| {
        figures
            .median_ms
            .get(&stage)
            .map_or("–".into(), |ms| duration(*ms))
    };
    StageRow {
        stage: stage.as_str(),
        entered: now.entered(stage),
        before: before.entered(stage),
        change: change(now.entered(stage), before.entered(stage)),
        conversion: percent(now),
        conversion_before: percent(before),
        median: median(now),
        median_before: median(before),
    }
}

/// `+12 %`, `−5 %`, `new` or empty: the change from the previous period.
fn change(now: u64, before: u64) -> String {
    match (now, before) {
        (0, 0) => String::new(),
        (_, 0) => "new".into(),
        _ => {
            let percent = (now as f64 - before as f64) * 100.0 / before as f64;
            if percent >= 0.0 {
                format!("+{percent:.0} %")
            } else {
                format!("−{:.0} %", -percent)
            }
        }
    }
}

fn picture(report: &Report, reasons: &[ReasonRow]) -> Picture {
    const WIDTH: i64 = 960;
    const CENTRE: i64 = 400;
    const HALF: i64 = 240;
    const ROW: i64 = 64;
    const TOP: i64 = 36;
    let (now, before) = (&report.current, &report.before);
    let largest = FLOW
        .iter()
        .map(|stage| now.entered(*stage))
        .max()
        .unwrap_or(0)
        .max(1);

    let bars: Vec<Bar> = FLOW
        .iter()
        .enumerate()
        .map(|(index, &stage)| {
            let volume = now.entered(stage);
            let half = ((volume as f64 / largest as f64).sqrt() * HALF as f64).round() as i64;
            let half = half.max(2);
            let conversion = next_stage(stage)
                .filter(|next| FLOW.contains(next))
                .and_then(|_| now.conversion(stage))
                .map_or(String::new(), |rate| {
                    let earlier = before
                        .conversion(stage)
                        .map_or(String::new(), |rate| format!(" (before: {rate:.1} %)"));
                    format!("↓ {rate:.1} % moved on{earlier}")
                });
            let recycled = match now.recycled_from(stage) {
                0 => String::new(),
                count => format!("↩ {count} back to marketing"),
            };
            Bar {
                name: stage_label(stage),
                y: TOP + index as i64 * ROW,
                x: CENTRE - half,
                width: half * 2,
                label: format!(
                    "{volume}  (before: {}, {})",
                    before.entered(stage),
                    blank_as(change(volume, before.entered(stage)), "no change")
                ),
                median: now.median_ms.get(&stage).map_or(String::new(), |ms| {
                    format!("median {} in stage", duration(*ms))
                }),
                conversion,
                recycled,
            }
        })
        .collect();

    let recycled_y = TOP + FLOW.len() as i64 * ROW + 10;
    let back = now.moved_on(Stage::Recycled);
    let recycled = format!(
        "Recycled: {} (before: {}); {} earned MQL again",
        now.recycled_total(),
        before.recycled_total(),
        back
    );
    let reasons_in_picture = reasons
        .iter()
        .take(REASONS_IN_PICTURE)
        .enumerate()
        .map(|(index, reason)| {
            let text = format!(
                "{} × {} (from {})",
                reason.count,
                shorten(&reason.reason),
                reason.from
            );
            (recycled_y + 22 + index as i64 * 18, text)
        })
        .collect::<Vec<_>>();

    let days_y = recycled_y + 40 + REASONS_IN_PICTURE as i64 * 18;
    let day_list: Vec<Date> = report.period.days().collect();
    let per_day = |day: &Date| {
        now.days
            .get(day)
            .and_then(|stages| stages.get(&Stage::Mql))
            .copied()
            .unwrap_or(0)
    };
    let busiest = day_list.iter().map(per_day).max().unwrap_or(0).max(1);
    let slot = ((WIDTH - 40) / day_list.len().max(1) as i64).max(1);
    let days = day_list
        .iter()
        .enumerate()
        .map(|(index, day)| {
            let count = per_day(day);
            let height = (count * 60 / busiest) as i64;
            DayBar {
                x: 20 + index as i64 * slot,
                y: days_y + 20 + 60 - height,
                height,
                title: format!("{day}: {count} new MQL(s)"),
            }
        })
        .collect();

    Picture {
        width: WIDTH,
        height: days_y + 100,
        bars,
        recycled,
        recycled_y,
        reasons: reasons_in_picture,
        days,
        day_width: (slot - 2).max(1),
        days_y,
        days_label: format!("New MQLs per day (busiest: {busiest})"),
    }
}

fn stage_label(stage: Stage) -> &'static str {
    match stage {
        Stage::Inquiry => "Inquiry",
        Stage::Known => "Known",
        Stage::Mql => "MQL",
        Stage::Sal => "SAL",
        Stage::Sql => "SQL",
        Stage::Customer => "Customer",
        Stage::Recycled => "Recycled",
    }
}

fn blank_as(text: String, instead: &str) -> String {
    if text.is_empty() {
        instead.into()
    } else {
        text
    }
}

/// Reasons are free text; the picture shows their start.
fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(MAX - 1).collect();
    short.push('…');
    short
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
