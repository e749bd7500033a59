//! The Universal Lead Definition: when a prospect is worth a salesperson's time.
//!
//! It has two halves, both configured by marketers. **Fit** rules look at who the
//! prospect is (its form answers); **engagement** rules look at what it did (its
//! [`EngagementProfile`]). A prospect is an MQL when both halves reach their
//! thresholds and every required fit rule matched. [`Verdict`] keeps every rule
//! that was considered with its points, so any decision can be explained.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::email;
use crate::profile::{BehaviourTally, EngagementProfile};

/// The lead definition of one site.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadDefinition {
    pub fit: FitHalf,
    pub engagement: EngagementHalf,
}

/// Who the prospect is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitHalf {
    pub threshold: i64,
    #[serde(default)]
    pub rules: Vec<FitRule>,
}

/// A rule over one contact field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitRule {
    pub name: String,
    /// The contact field it reads, e.g. `email`, `company_size`, `role`.
    pub field: String,
    #[serde(flatten)]
    pub condition: Condition,
    #[serde(default)]
    pub points: i64,
    /// A required rule must match whatever the points add up to.
    #[serde(default)]
    pub required: bool,
}

/// What a fit rule asks of a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The answer equals this text, ignoring case.
    Equals(String),
    /// The answer is one of these texts, ignoring case.
    OneOf(Vec<String>),
    /// The answer is a number within these bounds, both inclusive.
    Range {
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
    /// The e-mail's domain is in this list.
    EmailDomainIn(Vec<String>),
    /// The e-mail's domain is not in this list.
    EmailDomainNotIn(Vec<String>),
    /// `free_mail = false` matches business addresses; `true` matches free-mail ones.
    FreeMail(bool),
    /// `disposable = true` matches addresses at throw-away mail providers
    /// (mailinator.com and thousands more); `false` matches every other address.
    Disposable(bool),
    /// The answer matches this regular expression somewhere (anchor it with `^...$`
    /// to match the whole answer).
    Matches(Pattern),
}

/// A regular expression, compiled once when the configuration is read.
#[derive(Debug, Clone)]
pub struct Pattern(regex::Regex);

/// How behaviour points fade as the behaviour ages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decay {
    /// Points halve every so many days.
    HalfLifeDays(f64),
    /// Points count in full for so many days, then not at all.
    WindowDays(f64),
}

/// What the prospect did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngagementHalf {
    pub threshold: i64,
    /// Rules over the profile's totals; configured behaviours add their own points.
    #[serde(default)]
    pub rules: Vec<EngagementRule>,
    /// How behaviour points fade with time; no decay when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay: Option<Decay>,
}

/// Points for reaching a total in the engagement profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngagementRule {
    pub name: String,
    #[serde(flatten)]
    pub signal: Signal,
    pub points: i64,
}

/// A total of the engagement profile and the value it must reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    PagesSeen(u32),
    EngagedSeconds(u64),
    ScrollDepth(u8),
}

/// The outcome of evaluating a prospect, with its explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub mql: bool,
    pub fit: HalfScore,
    pub engagement: HalfScore,
    /// Every rule and behaviour considered, matched or not.
    pub reasons: Vec<Reason>,
}

/// The score of one half against its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HalfScore {
    pub score: i64,
    pub threshold: i64,
    pub passed: bool,
}

/// One rule's part in a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub half: Half,
    pub rule: String,
    pub matched: bool,
    /// Points counted; zero when the rule did not match.
    pub points: i64,
    pub required: bool,
    /// What was seen, e.g. `company_size = 5` or `3 page views`.
    pub detail: String,
}

/// The two halves of the lead definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Half {
    Fit,
    Engagement,
}

impl LeadDefinition {
    /// Evaluates a prospect's answers and profile at time `now` (milliseconds since
    /// the epoch, for decay). Deterministic: the same input always gives the same
    /// verdict, reasons in configuration order.
    pub fn evaluate(
        &self,
        answers: &BTreeMap<String, String>,
        profile: &EngagementProfile,
        now: i64,
    ) -> Verdict {
        let mut reasons = Vec::new();

        let mut fit_score = 0;
        let mut required_missed = false;
        for rule in &self.fit.rules {
            let answer = answers.get(&rule.field).map(String::as_str);
            let matched = answer.is_some_and(|answer| rule.condition.matches(answer));
            let points = if matched { rule.points } else { 0 };
            fit_score += points;
            required_missed |= rule.required && !matched;
            let detail = match answer {
                Some(answer) => format!("{} = {answer}", rule.field),
                None => format!("{} not known", rule.field),
            };
            reasons.push(Reason {
                half: Half::Fit,
                rule: rule.name.clone(),
                matched,
                points,
                required: rule.required,
                detail,
            });
        }

        let mut engagement_score = 0;
        for (name, tally) in &profile.behaviours {
            let points = self.engagement.decayed_points(tally, now);
            engagement_score += points;
            let mut detail = format!("happened {} time(s)", tally.count);
            if points != tally.points {
                detail.push_str(&format!(", {} point(s) before decay", tally.points));
            }
            reasons.push(Reason {
                half: Half::Engagement,
                rule: name.clone(),
                matched: true,
                points,
                required: false,
                detail,
            });
        }
        for rule in &self.engagement.rules {
            let (matched, detail) = rule.signal.check(profile);
            let points = if matched { rule.points } else { 0 };
            engagement_score += points;
            reasons.push(Reason {
                half: Half::Engagement,
                rule: rule.name.clone(),
                matched,
                points,
                required: false,
                detail,
            });
        }

        let fit = HalfScore::new(fit_score, self.fit.threshold, !required_missed);
        let engagement = HalfScore::new(engagement_score, self.engagement.threshold, true);
        Verdict {
            mql: fit.passed && engagement.passed,
            fit,
            engagement,
            reasons,
        }
    }
}

impl Condition {
    /// Whether a (cleaned) answer meets the condition.
    pub fn matches(&self, answer: &str) -> bool {
        match self {
            Condition::Equals(expected) => answer.to_lowercase() == expected.to_lowercase(),
            Condition::OneOf(options) => {
                let answer = answer.to_lowercase();
                options.iter().any(|option| option.to_lowercase() == answer)
            }
            Condition::Range { min, max } => answer.trim().parse::<f64>().is_ok_and(|number| {
                min.is_none_or(|min| number >= min) && max.is_none_or(|max| number <= max)
            }),
            Condition::EmailDomainIn(domains) => domain_listed(answer, domains),
            Condition::EmailDomainNotIn(domains) => {
                answer.contains('@') && !domain_listed(answer, domains)
            }
            Condition::FreeMail(free) => {
                answer.contains('@') && email::is_free_mail(answer) == *free
            }
            Condition::Disposable(disposable) => {
                answer.contains('@') && email::is_disposable(answer) == *disposable
            }
            Condition::Matches(pattern) => pattern.0.is_match(answer),
        }
    }
}

impl EngagementHalf {
    /// A behaviour's points after decay, rounded to the nearest whole point.
    pub fn decayed_points(&self, tally: &BehaviourTally, now: i64) -> i64 {
        let Some(decay) = self.decay else {
            return tally.points;
        };
        let Some(each) = tally.points.checked_div(tally.occurrences.len() as i64) else {
            return 0;
        };
        let total: f64 = tally
            .occurrences
            .iter()
            .map(|&at| {
                let age_days = (now - at).max(0) as f64 / MS_PER_DAY;
                let factor = match decay {
                    Decay::HalfLifeDays(days) if days > 0.0 => 0.5f64.powf(age_days / days),
                    Decay::WindowDays(days) if age_days > days => 0.0,
                    _ => 1.0,
                };
                each as f64 * factor
            })
            .sum();
        total.round() as i64
    }
}

const MS_PER_DAY: f64 = 24.0 * 3600.0 * 1000.0;

impl Pattern {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        regex::Regex::new(&text)
            .map(Pattern)
            .map_err(serde::de::Error::custom)
    }
}

impl Signal {
    fn check(&self, profile: &EngagementProfile) -> (bool, String) {
        match *self {
            Signal::PagesSeen(least) => (
                profile.pages_seen >= least,
                format!("{} page view(s)", profile.pages_seen),
            ),
            Signal::EngagedSeconds(least) => (
                profile.engaged_seconds() >= least,
                format!("{} s engaged", profile.engaged_seconds()),
            ),
            Signal::ScrollDepth(least) => (
                profile.deepest_scroll >= least,
                format!("scrolled {} %", profile.deepest_scroll),
            ),
        }
    }
}

impl HalfScore {
    fn new(score: i64, threshold: i64, requirements_met: bool) -> Self {
        HalfScore {
            score,
            threshold,
            passed: requirements_met && score >= threshold,
        }
    }
}

/// A one-line summary for people: `MQL: fit 30/20, engagement 55/40` or why not.
impl fmt::Display for Verdict {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (fit, engagement) = (self.fit, self.engagement);
        let verdict = if self.mql { "MQL" } else { "not MQL" };
        write!(
            formatter,
            "{verdict}: fit {}/{}, engagement {}/{}",
            fit.score, fit.threshold, engagement.score, engagement.threshold
        )?;
        let missed: Vec<&str> = self
            .reasons
            .iter()
            .filter(|reason| reason.required && !reason.matched)
            .map(|reason| reason.rule.as_str())
            .collect();
        if !missed.is_empty() {
            write!(
                formatter,
                "; required rule(s) not met: {}",
                missed.join(", ")
            )?;
        }
        Ok(())
    }
}

fn domain_listed(answer: &str, domains: &[String]) -> bool {
    let domain = email::domain(answer).to_lowercase();
    domains.iter().any(|listed| listed.to_lowercase() == domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFINITION: &str = r#"
        [fit]
        threshold = 20
        [[fit.rules]]
        name = "business e-mail"
        field = "email"
        free_mail = false
        required = true
        [[fit.rules]]
        name = "company of 50 or more"
        field = "company_size"
        range = { min = 50 }
        points = 20
        [[fit.rules]]
        name = "decision maker"
        field = "role"
        one_of = ["CEO", "CTO", "VP Marketing"]
        points = 10
        [[fit.rules]]
        name = "not a competitor"
        field = "email"
        email_domain_not_in = ["rival.io"]
        required = true

        [engagement]
        threshold = 40
        [[engagement.rules]]
        name = "three pages"
        pages_seen = 3
        points = 10
        [[engagement.rules]]
        name = "read to the end"
        scroll_depth = 75
        points = 10
    "#;

    fn pattern(text: &str) -> Pattern {
        #[derive(Deserialize)]
        struct Holder {
            pattern: Pattern,
        }
        let holder: Holder = toml::from_str(&format!("pattern = '{text}'")).unwrap();
        holder.pattern
    }

    #[test]
    fn a_bad_pattern_is_refused_when_the_configuration_is_read() {
        let text = "name = 'x'\nfield = 'role'\nmatches = '(unclosed'";
        let error = toml::from_str::<FitRule>(text).unwrap_err();
        assert!(error.to_string().contains("regex parse error"), "{error}");
    }

    fn definition() -> LeadDefinition {
        toml::from_str(DEFINITION).unwrap()
    }

    fn profile(pages: u32, scroll: u8, behaviour_points: i64) -> EngagementProfile {
        let mut profile = EngagementProfile {
            pages_seen: pages,
            deepest_scroll: scroll,
            ..Default::default()
        };
        if behaviour_points != 0 {
            profile.behaviours.insert(
                "request_demo".into(),
                BehaviourTally {
                    count: 1,
                    points: behaviour_points,
                    occurrences: vec![0],
                },
            );
        }
        profile
    }

    fn check(answers: &[(&str, &str)], profile: EngagementProfile, expected: &str) {
        let answers = answers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let verdict = definition().evaluate(&answers, &profile, 0);
        assert_eq!(verdict.to_string(), expected);
        assert_eq!(verdict.mql, expected.starts_with("MQL"));
    }

    #[test]
    fn verdicts() {
        let good = [
            ("email", "ana@acme.io"),
            ("company_size", "250"),
            ("role", "cto"),
        ];
        check(
            &good,
            profile(3, 80, 20),
            "MQL: fit 30/20, engagement 40/40",
        );
        check(
            &good,
            profile(2, 80, 20),
            "not MQL: fit 30/20, engagement 30/40",
        );
        check(
            &[("email", "ana@gmail.com"), ("company_size", "5")],
            profile(5, 100, 50),
            "not MQL: fit 0/20, engagement 70/40; required rule(s) not met: business e-mail",
        );
        check(
            &[("email", "spy@rival.io"), ("company_size", "900")],
            profile(5, 100, 50),
            "not MQL: fit 20/20, engagement 70/40; required rule(s) not met: not a competitor",
        );
        check(
            &[("company_size", "900")],
            profile(5, 100, 50),
            "not MQL: fit 20/20, engagement 70/40; required rule(s) not met: \
             business e-mail, not a competitor",
        );
    }

    #[test]
    fn every_rule_is_explained_in_order() {
        let answers = [("email".to_string(), "ana@gmail.com".to_string())].into();
        let verdict = definition().evaluate(&answers, &profile(1, 0, 20), 0);
        let rules: Vec<(&str, bool, i64)> = verdict
            .reasons
            .iter()
            .map(|reason| (reason.rule.as_str(), reason.matched, reason.points))
            .collect();
        assert_eq!(
            rules,
            [
                ("business e-mail", false, 0),
                ("company of 50 or more", false, 0),
                ("decision maker", false, 0),
                ("not a competitor", true, 0),
                ("request_demo", true, 20),
                ("three pages", false, 0),
                ("read to the end", false, 0),
            ]
        );
        assert_eq!(verdict.reasons[0].detail, "email = ana@gmail.com");
        assert_eq!(verdict.reasons[1].detail, "company_size not known");
    }

    #[test]
    fn behaviour_points_decay_with_age() {
        const DAY: i64 = 24 * 3600 * 1000;
        let tally = BehaviourTally {
            count: 3,
            points: 30,
            occurrences: vec![0, 30 * DAY, 60 * DAY],
        };
        let now = 60 * DAY;
        let cases = [
            (None, 30),
            // 10 × (1/4 + 1/2 + 1) = 17.5, rounded.
            (Some(Decay::HalfLifeDays(30.0)), 18),
            (Some(Decay::WindowDays(45.0)), 20),
            (Some(Decay::WindowDays(0.5)), 10),
        ];
        for (decay, expected) in cases {
            let half = EngagementHalf {
                decay,
                ..Default::default()
            };
            assert_eq!(half.decayed_points(&tally, now), expected, "{decay:?}");
        }
        let text =
            "[fit]\nthreshold = 0\n[engagement]\nthreshold = 0\ndecay = { half_life_days = 7.0 }";
        let decaying: LeadDefinition = toml::from_str(text).unwrap();
        assert_eq!(decaying.engagement.decay, Some(Decay::HalfLifeDays(7.0)));
    }

    #[test]
    fn conditions() {
        let cases = [
            (Condition::Equals("Germany".into()), "germany", true),
            (
                Condition::Range {
                    min: Some(10.0),
                    max: Some(50.0),
                },
                "50",
                true,
            ),
            (
                Condition::Range {
                    min: Some(10.0),
                    max: Some(50.0),
                },
                "51",
                false,
            ),
            (
                Condition::Range {
                    min: None,
                    max: Some(50.0),
                },
                "many",
                false,
            ),
            (
                Condition::EmailDomainIn(vec!["Acme.io".into()]),
                "x@acme.io",
                true,
            ),
            (Condition::FreeMail(true), "x@mail.ru", true),
            (Condition::FreeMail(false), "not an address", false),
            (Condition::Disposable(true), "x@mailinator.com", true),
            (Condition::Disposable(false), "x@mailinator.com", false),
            (Condition::Disposable(false), "x@acme.io", true),
            (Condition::Disposable(false), "not an address", false),
            (
                Condition::Matches(pattern("(?i)^(vp|head) of")),
                "VP of Sales",
                true,
            ),
            (
                Condition::Matches(pattern("(?i)^(vp|head) of")),
                "Intern",
                false,
            ),
        ];
        for (condition, answer, expected) in cases {
            assert_eq!(
                condition.matches(answer),
                expected,
                "{condition:?} on {answer}"
            );
        }
    }
}
