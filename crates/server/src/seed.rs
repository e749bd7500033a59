//! Demo history: `headwater seed` plays a few months of a company's site through
//! the same code as real traffic. Visitors arrive from campaigns (UTM parameters on
//! their landing pages), search, other sites or directly; their page views,
//! engagement and clicks go through the event writer, their form submissions
//! through identification, the lead engine promotes those that match, and people
//! (the demo accounts) accept, return, qualify and close leads through the same
//! moves as the console, while the service-level timer records breaches. Every
//! step is given its moment of the simulated history instead of the clock; nothing
//! is written to the report's tables directly.
//!
//! The simulation is a queue of timed steps, taken in order of time, so each step
//! sees the waterfall as it stood at its moment. It is random but repeatable: the
//! same `--seed` gives the same history.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use anyhow::{Context, bail};
use headwater_core::form::{Choice, ServerEngine, TICKED};
use headwater_core::{
    Event, EventBatch, EventDetail, FieldKind, Identification, Role, Stage, Trigger,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::app::AppState;
use crate::auth::Caller;
use crate::config::SiteConfig;
use crate::routes::collect::identify_visitor;
use crate::store::contacts;
use crate::{accounts, leads, sla};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// The service-level timer runs this often in the simulation.
const SLA_CHECK_EVERY: i64 = 2 * HOUR;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub visitors: usize,
    pub days: i64,
    /// The site to fill; the first one when absent.
    pub site: Option<String>,
    /// Makes the history repeatable.
    pub seed: u64,
    /// The end of the simulated history (now, for a demo).
    pub until_ms: i64,
}

/// What was simulated.
#[derive(Debug, Default)]
pub struct SeedSummary {
    pub site: String,
    pub visitors: usize,
    pub batches: usize,
    pub identified: usize,
    pub moves: usize,
    pub sla_breaches: usize,
    /// The demo accounts made: e-mail, role, password (shown once).
    pub accounts: Vec<(String, Role, String)>,
}

/// Campaigns of the demo company: (utm_source, utm_medium, utm_campaign).
const CAMPAIGNS: [(&str, &str, &str); 4] = [
    ("google", "cpc", "spring-launch"),
    ("newsletter", "email", "monthly-newsletter"),
    ("linkedin", "social", "cto-webinar"),
    ("capterra", "referral", "review-sites"),
];
const REFERRERS: [&str; 4] = [
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://news.ycombinator.com/",
    "https://www.linkedin.com/feed/",
];
const FIRST_NAMES: [&str; 12] = [
    "Ana", "Ben", "Chen", "Dana", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira", "Lars",
];
const LAST_NAMES: [&str; 10] = [
    "Perez", "Okafor", "Novak", "Schmidt", "Tanaka", "Rossi", "Larsen", "Dubois", "Kowalski",
    "Silva",
];
const COMPANIES: [&str; 12] = [
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella Labs",
    "Hooli",
    "Vandelay",
    "Stark Freight",
    "Wayne Analytics",
    "Tyrell Data",
    "Soylent Foods",
    "Cyberdyne",
    "Aperture Retail",
];
const QUALIFICATION_RETURNS: [&str; 5] = [
    "not ready to buy",
    "no budget",
    "no authority to decide",
    "could not reach",
    "wrong contact",
];
const SALES_RETURNS: [&str; 4] = [
    "timing: next quarter",
    "not a fit: too small",
    "chose a competitor",
    "no budget this year",
];
const LOST: [&str; 3] = ["lost: price", "lost: competitor", "lost: no decision"];

/// The demo's people: e-mail and role. Their moves carry their e-mail.
const PEOPLE: [(&str, Role); 5] = [
    ("admin@acme.example", Role::Admin),
    ("mia.marketing@acme.example", Role::Marketer),
    ("quinn.qualification@acme.example", Role::Qualification),
    ("sam.sales@acme.example", Role::Sales),
    ("rita.sales@acme.example", Role::Sales),
];

/// How keen a visitor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Browsing,
    Interested,
    Keen,
    JobSeeker,
}

struct Visitor {
    id: String,
    kind: Kind,
    sessions_left: u32,
    landing: String,
    referrer: String,
    person: Person,
    identified: bool,
    contact: Option<String>,
    /// Comes back after being returned to marketing.
    returns_after_recycling: bool,
}

#[derive(Clone)]
struct Person {
    name: String,
    email: String,
    company: String,
    company_size: u32,
    senior: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Session(usize),
    Decide { visitor: usize, stage: Stage },
    ServiceLevels,
}

/// Plays `options.days` of history ending at `options.until_ms` into a database
/// whose site has no contacts yet.
pub async fn seed(state: &AppState, options: &SeedOptions) -> anyhow::Result<SeedSummary> {
    let site = match &options.site {
        Some(id) => state.site(id).map_err(|error| anyhow::anyhow!("{error}"))?,
        None => state
            .sites()
            .sites
            .first()
            .cloned()
            .context("no site is configured")?,
    };
    let origin = site
        .origins
        .first()
        .context("the site has no origin")?
        .clone();
    if site.forms.is_empty() {
        bail!("site {} has no form to identify visitors with", site.id);
    }
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE site_id = $1")
        .bind(&site.id)
        .fetch_one(state.store().reader())
        .await?;
    if existing > 0 {
        bail!(
            "site {} already has {existing} contact(s): seed a fresh database",
            site.id
        );
    }

    let mut summary = SeedSummary {
        site: site.id.clone(),
        visitors: options.visitors,
        ..SeedSummary::default()
    };
    let mut rng = StdRng::seed_from_u64(options.seed);
    for (email, role) in PEOPLE {
        let password = accounts::random_token()[..20].to_owned();
        match accounts::add_user(state.store(), email, role, &password, options.until_ms).await {
            Ok(_) => summary.accounts.push((email.to_owned(), role, password)),
            Err(accounts::AccountError::Exists(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }

    let start = options.until_ms - options.days * DAY;
    let mut visitors = Vec::with_capacity(options.visitors);
    let mut queue: BinaryHeap<Reverse<(i64, u64, Step)>> = BinaryHeap::new();
    let mut order = 0u64;
    let mut push = |queue: &mut BinaryHeap<Reverse<(i64, u64, Step)>>, at: i64, step: Step| {
        order += 1;
        queue.push(Reverse((at, order, step)));
    };
    for index in 0..options.visitors {
        let visitor = new_visitor(&mut rng, &origin);
        // Later days see a little more traffic: the campaigns are working.
        let position: f64 = rng.r#gen::<f64>().powf(0.85);
        let at = start + (position * (options.days * DAY) as f64) as i64;
        push(
            &mut queue,
            business_hours(at, &mut rng),
            Step::Session(index),
        );
        visitors.push(visitor);
    }
    let mut check_at = start + SLA_CHECK_EVERY;
    while check_at < options.until_ms {
        push(&mut queue, check_at, Step::ServiceLevels);
        check_at += SLA_CHECK_EVERY;
    }

    let simulation = Simulation {
        state,
        site: &site,
        origin: &origin,
    };
    while let Some(Reverse((at, _, step))) = queue.pop() {
        if at >= options.until_ms {
            continue;
        }
        match step {
            Step::ServiceLevels => summary.sla_breaches += sla::check(state, at).await?,
            Step::Session(index) => {
                let visitor = &mut visitors[index];
                let ended = simulation
                    .session(visitor, at, &mut rng, &mut summary)
                    .await?;
                if visitor.sessions_left > 0 {
                    let gap = rng.gen_range(HOUR * 6..DAY * 12);
                    push(
                        &mut queue,
                        business_hours(ended + gap, &mut rng),
                        Step::Session(index),
                    );
                }
                if let Some(contact) = &visitor.contact {
                    let stage = stage_of(state, contact).await?;
                    if stage == Stage::Mql {
                        let wait = qualification_wait(&mut rng);
                        push(
                            &mut queue,
                            ended + wait,
                            Step::Decide {
                                visitor: index,
                                stage,
                            },
                        );
                    }
                }
            }
            Step::Decide {
                visitor: index,
                stage,
            } => {
                let Some(contact) = visitors[index].contact.clone() else {
                    continue;
                };
                if stage_of(state, &contact).await? != stage {
                    continue;
                }
                let Some((to, reason, who)) = decide(stage, &mut rng) else {
                    continue;
                };
                let caller = Caller {
                    name: who.to_owned(),
                    role: PEOPLE
                        .iter()
                        .find(|(email, _)| *email == who)
                        .map_or(Role::Admin, |p| p.1),
                };
                leads::move_by_person_at(state, &caller, &contact, to, &reason, at)
                    .await
                    .map_err(|error| anyhow::anyhow!("seeded move refused: {error}"))?;
                summary.moves += 1;
                match to {
                    Stage::Sal => {
                        let wait = rng.gen_range(HOUR..DAY * 3);
                        push(
                            &mut queue,
                            at + wait,
                            Step::Decide {
                                visitor: index,
                                stage: to,
                            },
                        );
                    }
                    Stage::Sql => {
                        let wait = rng.gen_range(DAY * 2..DAY * 20);
                        push(
                            &mut queue,
                            at + wait,
                            Step::Decide {
                                visitor: index,
                                stage: to,
                            },
                        );
                    }
                    Stage::Recycled if visitors[index].returns_after_recycling => {
                        let visitor = &mut visitors[index];
                        visitor.kind = Kind::Keen;
                        visitor.sessions_left = 1;
                        visitor.returns_after_recycling = false;
                        let gap = rng.gen_range(DAY * 5..DAY * 30);
                        push(
                            &mut queue,
                            business_hours(at + gap, &mut rng),
                            Step::Session(index),
                        );
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(summary)
}

struct Simulation<'a> {
    state: &'a AppState,
    site: &'a SiteConfig,
    origin: &'a str,
}

impl Simulation<'_> {
    /// One visit: a few pages with engagement and the configured clicks, written
    /// as the tracker would send them, then perhaps the form. Returns when it ended.
    async fn session(
        &self,
        visitor: &mut Visitor,
        start: i64,
        rng: &mut StdRng,
        summary: &mut SeedSummary,
    ) -> anyhow::Result<i64> {
        visitor.sessions_left = visitor.sessions_left.saturating_sub(1);
        let session_id = random_id(rng);
        let mut at = start;
        let mut events = Vec::new();
        // The first visit comes from its campaign or referrer; later ones directly.
        let mut referrer = std::mem::take(&mut visitor.referrer);
        let landing = std::mem::replace(&mut visitor.landing, format!("{}/", self.origin));
        let later = self
            .pages(visitor.kind, rng)
            .into_iter()
            .map(|path| format!("{}{path}", self.origin));
        for url in std::iter::once(landing).chain(later) {
            events.push(event(
                rng,
                &session_id,
                at,
                &url,
                &referrer,
                EventDetail::PageView {
                    title: String::new(),
                },
            ));
            let engaged_ms = rng.gen_range(4_000..90_000u64);
            let scroll_depth = match visitor.kind {
                Kind::Keen => rng.gen_range(60..=100u8),
                _ => rng.gen_range(10..=95u8),
            };
            at += engaged_ms as i64 + rng.gen_range(1_000..20_000);
            let detail = EventDetail::Engagement {
                engaged_ms,
                scroll_depth,
            };
            events.push(event(rng, &session_id, at, &url, &referrer, detail));
            for behaviour in self.clicks_on(&url, visitor.kind, rng) {
                at += rng.gen_range(1_000..10_000);
                let detail = EventDetail::Click { behaviour };
                events.push(event(rng, &session_id, at, &url, &referrer, detail));
            }
            referrer = url;
        }
        let batch = EventBatch {
            site: self.site.id.clone(),
            visitor_id: visitor.id.clone(),
            sent_at: at,
            events,
            profile: None,
            automation: false,
        };
        batch
            .validate(at)
            .map_err(|error| anyhow::anyhow!("a seeded batch is invalid: {error}"))?;
        self.state.ingest().write(batch, at, None).await?;
        summary.batches += 1;

        let fills_in = match visitor.kind {
            Kind::Browsing => rng.gen_bool(0.03),
            Kind::Interested => rng.gen_bool(0.45),
            Kind::Keen => rng.gen_bool(0.9),
            Kind::JobSeeker => rng.gen_bool(0.3),
        };
        if fills_in && !visitor.identified {
            at += rng.gen_range(20_000..120_000);
            let contact = self.identify(visitor, at, rng).await?;
            visitor.identified = true;
            visitor.contact = Some(contact);
            summary.identified += 1;
        }
        Ok(at)
    }

    /// The pages after the landing page, by how keen the visitor is.
    fn pages(&self, kind: Kind, rng: &mut StdRng) -> Vec<String> {
        let mut pages: Vec<String> = match kind {
            Kind::Browsing => vec!["/www/blog/launch.html".into(), "/www/product.html".into()],
            Kind::Interested => vec!["/www/product.html".into(), "/www/pricing.html".into()],
            Kind::Keen => vec![
                "/www/product.html".into(),
                "/www/pricing.html".into(),
                "/www/demo.html".into(),
            ],
            Kind::JobSeeker => vec!["/www/careers.html".into()],
        };
        // The configured page behaviours are pages of this site too.
        for behaviour in &self.site.behaviours {
            if let Trigger::Page(pattern) = &behaviour.trigger {
                let path = pattern.trim_end_matches('*');
                let wanted = (behaviour.points < 0) == (kind == Kind::JobSeeker);
                if wanted && !pages.iter().any(|page| page == path) && rng.gen_bool(0.5) {
                    pages.push(path.to_owned());
                }
            }
        }
        let keep = match kind {
            Kind::Browsing => rng.gen_range(0..=pages.len()),
            _ => pages.len(),
        };
        pages.truncate(keep);
        pages
    }

    /// The configured click behaviours a visitor of this kind sets off on a page.
    fn clicks_on(&self, url: &str, kind: Kind, rng: &mut StdRng) -> Vec<String> {
        let chance = match kind {
            Kind::Browsing | Kind::JobSeeker => 0.02,
            Kind::Interested => 0.25,
            Kind::Keen => 0.6,
        };
        let on_pricing_or_demo = url.contains("pricing") || url.contains("demo");
        self.site
            .behaviours
            .iter()
            .filter(|behaviour| matches!(behaviour.trigger, Trigger::Click(_)))
            .filter(|behaviour| behaviour.points > 0)
            .filter(|_| on_pricing_or_demo && rng.gen_bool(chance))
            .map(|behaviour| behaviour.name.clone())
            .collect()
    }

    /// The visitor fills in the site's first form, through identification.
    async fn identify(
        &self,
        visitor: &Visitor,
        at: i64,
        rng: &mut StdRng,
    ) -> anyhow::Result<String> {
        let form = &self.site.forms[0];
        let person = &visitor.person;
        let mut answers = BTreeMap::new();
        for field in &form.fields {
            let value = match field.kind {
                FieldKind::Email => person.email.clone(),
                FieldKind::Number => person.company_size.to_string(),
                FieldKind::Select => {
                    let values: Vec<&str> = field.options.iter().map(Choice::value).collect();
                    let senior: Vec<&str> = values
                        .iter()
                        .copied()
                        .filter(|value| ["CEO", "CTO", "VP Marketing"].contains(value))
                        .collect();
                    let pool = if person.senior && !senior.is_empty() {
                        senior
                    } else {
                        values
                    };
                    pool.choose(rng)
                        .map(|value| (*value).to_owned())
                        .unwrap_or_default()
                }
                FieldKind::Phone => format!("+44 20 7946 {:04}", rng.gen_range(0..10_000)),
                FieldKind::Checkbox => TICKED.to_owned(),
                // Never typed: filled from the address or fixed by the configuration.
                FieldKind::Hidden => continue,
                _ if field.name.contains("company") => person.company.clone(),
                _ if field.name.contains("name") => person.name.clone(),
                _ => "—".into(),
            };
            answers.insert(field.name.clone(), value);
        }
        let identification = Identification {
            site: self.site.id.clone(),
            visitor_id: visitor.id.clone(),
            form: form.id.clone(),
            token: random_id(rng),
            answers,
            automation: false,
            trap: String::new(),
            fill_ms: Some(rng.gen_range(8_000..60_000)),
        };
        identification
            .validate()
            .map_err(|error| anyhow::anyhow!("a seeded submission is invalid: {error}"))?;
        let known = BTreeSet::new();
        let answers = form
            .validate(&identification.answers, &known, &ServerEngine)
            .map_err(|errors| anyhow::anyhow!("seeded answers refused: {errors:?}"))?;
        identify_visitor(
            self.state,
            self.site,
            &identification,
            BTreeMap::new(),
            answers,
            at,
        )
        .await
        .map_err(|error| anyhow::anyhow!("seeded identification failed: {error}"))
    }
}

fn new_visitor(rng: &mut StdRng, origin: &str) -> Visitor {
    let kind = match rng.gen_range(0..100) {
        0..55 => Kind::Browsing,
        55..85 => Kind::Interested,
        85..97 => Kind::Keen,
        _ => Kind::JobSeeker,
    };
    let (landing, referrer) = match rng.gen_range(0..100) {
        0..45 => {
            let (source, medium, campaign) = CAMPAIGNS.choose(rng).copied().unwrap_or(CAMPAIGNS[0]);
            let page = ["/", "/www/product.html", "/www/pricing.html"]
                .choose(rng)
                .copied()
                .unwrap_or("/");
            let url = format!(
                "{origin}{page}?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
            );
            let referrer = if medium == "cpc" {
                "https://www.google.com/"
            } else {
                ""
            };
            (url, referrer.to_owned())
        }
        45..75 => {
            let referrer = REFERRERS.choose(rng).copied().unwrap_or(REFERRERS[0]);
            (format!("{origin}/"), referrer.to_owned())
        }
        _ => (format!("{origin}/"), String::new()),
    };
    let first = FIRST_NAMES.choose(rng).copied().unwrap_or("Ana");
    let last = LAST_NAMES.choose(rng).copied().unwrap_or("Perez");
    let company = COMPANIES.choose(rng).copied().unwrap_or("Northwind");
    let number: u32 = rng.gen_range(1..10_000);
    let free_mail = kind == Kind::JobSeeker || rng.gen_bool(0.18);
    let domain = if free_mail {
        "gmail.com".to_owned()
    } else {
        format!("{}.example", company.to_lowercase().replace(' ', "-"))
    };
    let company_size = match kind {
        Kind::Keen => rng.gen_range(20..5_000),
        _ => rng.gen_range(2..2_000),
    };
    Visitor {
        id: random_id(rng),
        kind,
        sessions_left: match kind {
            Kind::Browsing | Kind::JobSeeker => 1,
            Kind::Interested => rng.gen_range(1..=3),
            Kind::Keen => rng.gen_range(2..=4),
        },
        landing,
        referrer,
        person: Person {
            name: format!("{first} {last}"),
            email: format!(
                "{}.{}{number}@{domain}",
                first.to_lowercase(),
                last.to_lowercase()
            ),
            company: company.to_owned(),
            company_size,
            senior: rng.gen_bool(0.5),
        },
        identified: false,
        contact: None,
        returns_after_recycling: rng.gen_bool(0.3),
    }
}

/// What the people do with a lead in `stage`: the move, its reason, who makes it;
/// `None` leaves it where it is (to breach its service level, perhaps).
fn decide(stage: Stage, rng: &mut StdRng) -> Option<(Stage, String, &'static str)> {
    let pick = |rng: &mut StdRng, list: &[&str]| list.choose(rng).copied().unwrap_or("").to_owned();
    let sales = if rng.gen_bool(0.5) {
        PEOPLE[3].0
    } else {
        PEOPLE[4].0
    };
    let roll = rng.gen_range(0..100);
    match stage {
        Stage::Mql => match roll {
            0..55 => Some((
                Stage::Sal,
                "budget and timing confirmed by phone".into(),
                PEOPLE[2].0,
            )),
            55..93 => Some((
                Stage::Recycled,
                pick(rng, &QUALIFICATION_RETURNS),
                PEOPLE[2].0,
            )),
            _ => None,
        },
        Stage::Sal => match roll {
            0..62 => Some((
                Stage::Sql,
                "discovery call done: real project".into(),
                sales,
            )),
            62..92 => Some((Stage::Recycled, pick(rng, &SALES_RETURNS), sales)),
            _ => None,
        },
        Stage::Sql => match roll {
            0..45 => Some((Stage::Customer, "won: annual plan".into(), sales)),
            45..85 => Some((Stage::Recycled, pick(rng, &LOST), sales)),
            _ => None,
        },
        _ => None,
    }
}

/// How long the qualification team takes: mostly hours, sometimes past the
/// service level.
fn qualification_wait(rng: &mut StdRng) -> i64 {
    if rng.gen_bool(0.12) {
        rng.gen_range(DAY + HOUR..DAY * 3)
    } else {
        rng.gen_range(HOUR / 2..HOUR * 20)
    }
}

/// Moves a moment into working hours (UTC 7:00 to 19:00), where most visits are.
fn business_hours(at: i64, rng: &mut StdRng) -> i64 {
    let day = at.div_euclid(DAY) * DAY;
    day + rng.gen_range(7 * HOUR..19 * HOUR)
}

async fn stage_of(state: &AppState, contact: &str) -> anyhow::Result<Stage> {
    let mut connection = state.store().reader().acquire().await?;
    Ok(contacts::load(&mut connection, contact).await?.stage)
}

fn random_id(rng: &mut StdRng) -> String {
    headwater_core::wire::new_id(rng.r#gen())
}

fn event(
    rng: &mut StdRng,
    session_id: &str,
    at: i64,
    url: &str,
    referrer: &str,
    detail: EventDetail,
) -> Event {
    Event {
        id: random_id(rng),
        session_id: session_id.to_owned(),
        at,
        url: url.to_owned(),
        referrer: referrer.to_owned(),
        detail,
    }
}
