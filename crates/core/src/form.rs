//! Identification forms: what marketers configure (fields, texts, points, display)
//! and the validation of the answers, run in the browser before sending and on the
//! server before storing.
//!
//! - [`field`]: one question, its kind and rules, and the cleaning of an answer.
//! - [`check`]: the configuration rules of a form, with errors naming the key.
//! - [`display`]: inline or overlay, and the triggers that open an overlay.
//! - [`texts`]: texts in Russian and English, and the messages for problems.
//! - [`prefill`]: answers taken from the page's URL query.
//! - [`points`]: a submission's points, once per contact and form.

pub mod check;
pub mod display;
pub mod field;
pub mod points;
pub mod prefill;
pub mod texts;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use check::{FormConfigError, FormConfigProblem};
pub use display::{DisplayMode, EngagementThreshold, FormDisplay, FormTrigger};
pub use field::{Choice, DEFAULT_MAX_LENGTH, Engine, FieldKind, FormField, ServerEngine, TICKED};
pub use points::award_form_points;
pub use prefill::query_value;
pub use texts::{Language, Problem, Texts, Wording};

/// A longer minimum fill time would take every careful visitor for a bot.
pub const MAX_MIN_FILL_SECONDS: f64 = 600.0;

/// A form as configured for a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDefinition {
    /// Names the form in configuration, submissions and explanations, and in
    /// `<div data-headwater-form="ID">`.
    pub id: String,
    pub title: Texts,
    pub submit: Texts,
    pub thank_you: Texts,
    pub fields: Vec<FormField>,
    /// Nobody fills the form in faster than this; a browser's submission sent
    /// sooner after the form was shown is stored as spam.
    #[serde(default = "default_min_fill_seconds")]
    pub min_fill_seconds: f64,
    /// Progressive profiling: ask at most this many questions at once. Questions
    /// the contact has answered before are never asked again; the next ones in
    /// the configured order take their place. Unset: every unanswered question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_questions: Option<usize>,
    /// Engagement points the contact earns by sending this form, once however
    /// often it is sent (see [`points`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub points: i64,
    /// Speaks this language whatever the page's `lang` and the browser say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// Inline (when absent) or an overlay with its trigger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<FormDisplay>,
}

/// Why one answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub problem: Problem,
}

/// Two seconds: quicker than anyone types a name and an e-mail, slower than a
/// script. Browser autofill plus a click still takes longer.
fn default_min_fill_seconds() -> f64 {
    2.0
}

fn is_zero(points: &i64) -> bool {
    *points == 0
}

/// The form id under which `headwater('identify', traits)` calls are checked and
/// recorded: no configured form, the site's own code.
pub const TRAITS_FORM_ID: &str = "identify()";

impl FormDefinition {
    /// What a site's own code may tell through `headwater('identify', traits)`:
    /// any field of the site's forms (the first definition of a name counts), with
    /// an e-mail field required and nothing else. Worth no points.
    pub fn for_traits(forms: &[FormDefinition]) -> Option<FormDefinition> {
        let mut fields: Vec<FormField> = Vec::new();
        // A fixed hidden value (`lead_source = "whitepaper"`) belongs to its form.
        let answerable = forms
            .iter()
            .flat_map(|form| &form.fields)
            .filter(|field| field.value.is_none());
        for field in answerable {
            if fields.iter().all(|known| known.name != field.name) {
                let mut field = field.clone();
                field.required = field.kind == FieldKind::Email;
                fields.push(field);
            }
        }
        let first = forms.first()?;
        fields
            .iter()
            .any(|field| field.kind == FieldKind::Email)
            .then(|| FormDefinition {
                id: TRAITS_FORM_ID.to_owned(),
                fields,
                max_questions: None,
                points: 0,
                display: None,
                ..first.clone()
            })
    }

    /// The questions to put to a visitor whose contact has already answered the
    /// fields named in `known`: the shown ones not answered yet, in the configured
    /// order, at most `max_questions` of them. Hidden fields are never questions.
    pub fn questions(&self, known: &BTreeSet<String>) -> Vec<&FormField> {
        let limit = self.max_questions.unwrap_or(usize::MAX);
        self.fields
            .iter()
            .filter(|field| field.is_shown() && !known.contains(&field.name))
            .take(limit)
            .collect()
    }

    /// Checks every answer and returns them cleaned (trimmed, e-mail normalised,
    /// fixed hidden values put in), or every problem found. Empty optional answers
    /// are dropped. Only the questions put to this visitor (see
    /// [`FormDefinition::questions`]) must be answered; an answer to any other
    /// field of the form is checked all the same.
    pub fn validate(
        &self,
        answers: &BTreeMap<String, String>,
        known: &BTreeSet<String>,
        engine: &dyn Engine,
    ) -> Result<BTreeMap<String, String>, Vec<FieldError>> {
        let asked: BTreeSet<&str> = self
            .questions(known)
            .into_iter()
            .map(|field| field.name.as_str())
            .collect();
        let mut cleaned = BTreeMap::new();
        let mut errors = Vec::new();

        for name in answers.keys().filter(|name| self.field(name).is_none()) {
            errors.push(FieldError {
                field: name.clone(),
                problem: Problem::UnknownField,
            });
        }
        for field in &self.fields {
            let answer = answers.get(&field.name).map_or("", String::as_str);
            let fixed = field.kind == FieldKind::Hidden && field.value.is_some();
            if !fixed && answer.trim().is_empty() && !asked.contains(field.name.as_str()) {
                continue;
            }
            match field.clean(answer, engine) {
                Ok(Some(value)) => {
                    cleaned.insert(field.name.clone(), value);
                }
                Ok(None) => {}
                Err(problem) => errors.push(FieldError {
                    field: field.name.clone(),
                    problem,
                }),
            }
        }

        if errors.is_empty() {
            Ok(cleaned)
        } else {
            Err(errors)
        }
    }

    /// [`FormDefinition::min_fill_seconds`] in milliseconds.
    pub fn min_fill_ms(&self) -> u64 {
        (self.min_fill_seconds.max(0.0) * 1000.0) as u64
    }

    /// The field with this name.
    pub fn field(&self, name: &str) -> Option<&FormField> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// The trigger that opens the form as an overlay; `None` for an inline form.
    pub fn trigger(&self) -> Option<&FormTrigger> {
        let display = self.display.as_ref()?;
        match display.mode {
            DisplayMode::Overlay => display.trigger.as_ref(),
            DisplayMode::Inline => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn field(name: &str, kind: FieldKind, required: bool) -> FormField {
        FormField {
            name: name.into(),
            kind,
            label: Texts {
                en: name.into(),
                ru: String::new(),
            },
            hint: None,
            required,
            max_length: None,
            options: if kind == FieldKind::Select {
                vec![Choice::Plain("CEO".into()), Choice::Plain("CTO".into())]
            } else {
                vec![]
            },
            pattern: None,
            min: None,
            max: None,
            from_query: None,
            value: None,
        }
    }

    pub(crate) fn form() -> FormDefinition {
        let mut campaign = field("campaign", FieldKind::Hidden, false);
        campaign.from_query = Some("utm_campaign".into());
        let mut source = field("source", FieldKind::Hidden, false);
        source.value = Some("website".into());
        FormDefinition {
            min_fill_seconds: default_min_fill_seconds(),
            max_questions: None,
            points: 0,
            language: None,
            display: None,
            id: "demo".into(),
            title: Texts::default(),
            submit: Texts::default(),
            thank_you: Texts::default(),
            fields: vec![
                field("name", FieldKind::Text, true),
                field("email", FieldKind::Email, true),
                field("company_size", FieldKind::Number, false),
                field("role", FieldKind::Select, false),
                campaign,
                field("consent", FieldKind::Checkbox, true),
                source,
            ],
        }
    }

    type Answers<'a> = &'a [(&'a str, &'a str)];

    fn strings(pairs: Answers) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn check(answers: Answers, expected: Result<Answers, &[(&str, Problem)]>) {
        let actual = form().validate(&strings(answers), &BTreeSet::new(), &ServerEngine);
        match expected {
            Ok(cleaned) => assert_eq!(actual, Ok(strings(cleaned))),
            Err(problems) => {
                let problems: Vec<FieldError> = problems
                    .iter()
                    .map(|(field, problem)| FieldError {
                        field: field.to_string(),
                        problem: *problem,
                    })
                    .collect();
                assert_eq!(actual, Err(problems));
            }
        }
    }

    #[test]
    fn traits_are_any_field_of_the_forms_with_only_the_email_required() {
        let traits = FormDefinition::for_traits(&[form()]).unwrap();
        let fields: Vec<(&str, bool)> = traits
            .fields
            .iter()
            .map(|field| (field.name.as_str(), field.required))
            .collect();
        assert_eq!(
            fields,
            [
                ("name", false),
                ("email", true),
                ("company_size", false),
                ("role", false),
                ("campaign", false),
                ("consent", false)
            ]
        );
        assert_eq!((traits.id.as_str(), traits.points), (TRAITS_FORM_ID, 0));
        let answers = strings(&[("email", "ana@acme.io"), ("role", "CTO")]);
        let cleaned = traits.validate(&answers, &BTreeSet::new(), &ServerEngine);
        assert_eq!(cleaned, Ok(answers));

        let mut without_email = form();
        without_email
            .fields
            .retain(|field| field.kind != FieldKind::Email);
        assert_eq!(FormDefinition::for_traits(&[without_email]), None);
        assert_eq!(FormDefinition::for_traits(&[]), None);
    }

    #[test]
    fn valid_answers_are_cleaned() {
        check(
            &[
                ("name", "  Анна Петрова "),
                ("email", " Anna@ACME.io"),
                ("company_size", "250"),
                ("campaign", "spring"),
                ("consent", "true"),
            ],
            Ok(&[
                ("name", "Анна Петрова"),
                ("email", "Anna@acme.io"),
                ("company_size", "250"),
                ("campaign", "spring"),
                ("consent", "true"),
                ("source", "website"),
            ]),
        );
    }

    #[test]
    fn every_problem_is_reported() {
        check(
            &[
                ("email", "anna"),
                ("company_size", "lots"),
                ("role", "Intern"),
                ("fax", "1"),
            ],
            Err(&[
                ("fax", Problem::UnknownField),
                ("name", Problem::Required),
                ("email", Problem::InvalidEmail),
                ("company_size", Problem::NotANumber),
                ("role", Problem::NotAnOption),
                ("consent", Problem::NotTicked),
            ]),
        );
    }

    #[test]
    fn over_long_answers_are_refused_not_cut() {
        let long = "张".repeat(DEFAULT_MAX_LENGTH + 1);
        check(
            &[("name", &long), ("email", "a@b.io"), ("consent", "true")],
            Err(&[("name", Problem::TooLong)]),
        );
    }

    fn names(fields: Vec<&FormField>) -> Vec<&str> {
        fields
            .into_iter()
            .map(|field| field.name.as_str())
            .collect()
    }

    #[test]
    fn known_answers_are_not_asked_again_and_the_next_questions_move_up() {
        let mut form = form();
        form.max_questions = Some(2);
        let known = |names: &[&str]| names.iter().map(|name| name.to_string()).collect();
        let cases: &[(&[&str], &[&str])] = &[
            (&[], &["name", "email"]),
            (&["email"], &["name", "company_size"]),
            (&["name", "email"], &["company_size", "role"]),
            (&["name", "email", "role"], &["company_size", "consent"]),
            (&["name", "email", "company_size", "role"], &["consent"]),
            (&["name", "email", "company_size", "role", "consent"], &[]),
        ];
        for (answered, expected) in cases {
            assert_eq!(
                names(form.questions(&known(answered))),
                *expected,
                "{answered:?}"
            );
        }
    }

    #[test]
    fn a_known_required_answer_need_not_be_given_again() {
        let known: BTreeSet<String> = ["name", "email", "consent"].map(String::from).into();
        let answers = strings(&[("company_size", " 250 ")]);
        let cleaned = strings(&[("company_size", "250"), ("source", "website")]);
        assert_eq!(
            form().validate(&answers, &known, &ServerEngine),
            Ok(cleaned)
        );

        // An answer given anyway is still checked.
        let wrong = strings(&[("email", "not an address")]);
        let refused = vec![FieldError {
            field: "email".into(),
            problem: Problem::InvalidEmail,
        }];
        assert_eq!(form().validate(&wrong, &known, &ServerEngine), Err(refused));
    }

    #[test]
    fn control_characters_are_refused_in_any_field() {
        check(
            &[
                ("name", "Ana\u{0}Pérez"),
                ("email", "a@b.io"),
                ("role", "CEO\u{8}"),
                ("campaign", "x\u{7f}"),
                ("consent", "true"),
            ],
            Err(&[
                ("name", Problem::InvalidCharacters),
                ("role", Problem::InvalidCharacters),
                ("campaign", Problem::InvalidCharacters),
            ]),
        );
    }
}
