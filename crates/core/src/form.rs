//! Identification forms: the fields marketers configure and the validation of the
//! answers, run in the browser before sending and on the server before storing.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::email;

/// Free-text answers longer than this are refused unless a field says otherwise.
pub const DEFAULT_MAX_LENGTH: usize = 200;

/// A form as configured for a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormDefinition {
    /// Names the form in configuration, submissions and explanations.
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
}

/// Two seconds: quicker than anyone types a name and an e-mail, slower than a
/// script. Browser autofill plus a click still takes longer.
fn default_min_fill_seconds() -> f64 {
    2.0
}

/// One question on a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormField {
    /// The contact field the answer is stored in, e.g. `email` or `company_size`.
    pub name: String,
    pub kind: FieldKind,
    pub label: Texts,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// The choices of a `select` field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// The kinds of question a form can ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Email,
    /// A whole number, e.g. a company size.
    Number,
    Select,
}

/// A text in each language the product speaks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Texts {
    pub en: String,
    pub ru: String,
}

/// The languages the form speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    En,
    Ru,
}

/// Why one answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub problem: Problem,
}

/// What is wrong with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    Required,
    TooLong,
    InvalidEmail,
    NotANumber,
    NotAnOption,
    UnknownField,
    /// A control character (NUL, escape, backspace...): nothing a person types.
    InvalidCharacters,
}

impl Texts {
    /// The text in `language`, falling back to English where a translation is missing.
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Ru if !self.ru.is_empty() => &self.ru,
            _ => &self.en,
        }
    }
}

impl Language {
    /// The language for a BCP 47 tag such as `ru-RU`; English for anything else.
    pub fn from_tag(tag: &str) -> Language {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("ru") {
            Language::Ru
        } else {
            Language::En
        }
    }
}

impl Problem {
    /// The message shown next to the field.
    pub fn message(self, language: Language) -> &'static str {
        match (self, language) {
            (Problem::Required, Language::En) => "Please fill in this field.",
            (Problem::Required, Language::Ru) => "Пожалуйста, заполните это поле.",
            (Problem::TooLong, Language::En) => "This answer is too long.",
            (Problem::TooLong, Language::Ru) => "Слишком длинный ответ.",
            (Problem::InvalidEmail, Language::En) => "Please enter a valid e-mail address.",
            (Problem::InvalidEmail, Language::Ru) => "Введите корректный адрес электронной почты.",
            (Problem::NotANumber, Language::En) => "Please enter a whole number.",
            (Problem::NotANumber, Language::Ru) => "Введите целое число.",
            (Problem::NotAnOption, Language::En) => "Please choose one of the options.",
            (Problem::NotAnOption, Language::Ru) => "Выберите один из вариантов.",
            (Problem::UnknownField, Language::En) => "This form has no such field.",
            (Problem::UnknownField, Language::Ru) => "В форме нет такого поля.",
            (Problem::InvalidCharacters, Language::En) => {
                "This answer holds characters that cannot be stored."
            }
            (Problem::InvalidCharacters, Language::Ru) => "Ответ содержит недопустимые символы.",
        }
    }
}

impl FormDefinition {
    /// The questions to put to a visitor whose contact has already answered the
    /// fields named in `known`: the others, in the configured order, at most
    /// `max_questions` of them.
    pub fn questions(&self, known: &BTreeSet<String>) -> Vec<&FormField> {
        let limit = self.max_questions.unwrap_or(usize::MAX);
        self.fields
            .iter()
            .filter(|field| !known.contains(&field.name))
            .take(limit)
            .collect()
    }

    /// Checks every answer and returns them cleaned (trimmed, e-mail normalised),
    /// or every problem found. Empty optional answers are dropped. Only the
    /// questions put to this visitor (see [`FormDefinition::questions`]) must be
    /// answered; an answer to any other field of the form is checked all the same.
    pub fn validate(
        &self,
        answers: &BTreeMap<String, String>,
        known: &BTreeSet<String>,
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
            if answer.trim().is_empty() && !asked.contains(field.name.as_str()) {
                continue;
            }
            match field.clean(answer) {
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
}

impl FormField {
    /// The answer as it will be stored; `None` for an empty optional answer.
    pub fn clean(&self, answer: &str) -> Result<Option<String>, Problem> {
        let trimmed = answer.trim();
        if trimmed.is_empty() {
            return if self.required {
                Err(Problem::Required)
            } else {
                Ok(None)
            };
        }
        if trimmed.chars().count() > self.max_length.unwrap_or(DEFAULT_MAX_LENGTH) {
            return Err(Problem::TooLong);
        }
        if crate::wire::has_control_character(trimmed) {
            return Err(Problem::InvalidCharacters);
        }

        let value = match self.kind {
            FieldKind::Text => trimmed.to_owned(),
            FieldKind::Email => email::normalize(trimmed).map_err(|_| Problem::InvalidEmail)?,
            FieldKind::Number => trimmed
                .parse::<u64>()
                .map_err(|_| Problem::NotANumber)?
                .to_string(),
            FieldKind::Select if self.options.iter().any(|option| option == trimmed) => {
                trimmed.to_owned()
            }
            FieldKind::Select => return Err(Problem::NotAnOption),
        };
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: FieldKind, required: bool) -> FormField {
        FormField {
            name: name.into(),
            kind,
            label: Texts::default(),
            required,
            max_length: None,
            options: if kind == FieldKind::Select {
                vec!["CEO".into(), "CTO".into()]
            } else {
                vec![]
            },
        }
    }

    fn form() -> FormDefinition {
        FormDefinition {
            min_fill_seconds: default_min_fill_seconds(),
            max_questions: None,
            id: "demo".into(),
            title: Texts::default(),
            submit: Texts::default(),
            thank_you: Texts::default(),
            fields: vec![
                field("name", FieldKind::Text, true),
                field("email", FieldKind::Email, true),
                field("company_size", FieldKind::Number, false),
                field("role", FieldKind::Select, false),
            ],
        }
    }

    type Answers<'a> = &'a [(&'a str, &'a str)];

    fn check(answers: Answers, expected: Result<Answers, &[(&str, Problem)]>) {
        let answers = answers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let actual = form().validate(&answers, &BTreeSet::new());
        match expected {
            Ok(cleaned) => {
                let cleaned: BTreeMap<String, String> = cleaned
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                assert_eq!(actual, Ok(cleaned));
            }
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
    fn valid_answers_are_cleaned() {
        check(
            &[
                ("name", "  Анна Петрова "),
                ("email", " Anna@ACME.io"),
                ("company_size", "250"),
            ],
            Ok(&[
                ("name", "Анна Петрова"),
                ("email", "Anna@acme.io"),
                ("company_size", "250"),
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
            ]),
        );
    }

    #[test]
    fn over_long_answers_are_refused_not_cut() {
        let long = "张".repeat(DEFAULT_MAX_LENGTH + 1);
        check(
            &[("name", &long), ("email", "a@b.io")],
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
            (&["name", "email", "role"], &["company_size"]),
            (&["name", "email", "company_size", "role"], &[]),
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
        let known: BTreeSet<String> = ["name".to_string(), "email".to_string()].into();
        let answers = BTreeMap::from([("company_size".to_string(), " 250 ".to_string())]);
        let cleaned = BTreeMap::from([("company_size".to_string(), "250".to_string())]);
        assert_eq!(form().validate(&answers, &known), Ok(cleaned));

        // An answer given anyway is still checked.
        let wrong = BTreeMap::from([("email".to_string(), "not an address".to_string())]);
        let refused = vec![FieldError {
            field: "email".into(),
            problem: Problem::InvalidEmail,
        }];
        assert_eq!(form().validate(&wrong, &known), Err(refused));
    }

    #[test]
    fn control_characters_are_refused_in_any_field() {
        check(
            &[
                ("name", "Ana\u{0}Pérez"),
                ("email", "a@b.io"),
                ("role", "CEO\u{8}"),
            ],
            Err(&[
                ("name", Problem::InvalidCharacters),
                ("role", Problem::InvalidCharacters),
            ]),
        );
    }

    #[test]
    fn languages_from_tags() {
        assert_eq!(Language::from_tag("ru-RU"), Language::Ru);
        assert_eq!(Language::from_tag("en-GB"), Language::En);
        assert_eq!(Language::from_tag(""), Language::En);
    }
}
