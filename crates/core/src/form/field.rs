//! One question on a form: its kind, its rules, and the cleaning of an answer to
//! it, the same in the browser and on the server.

use serde::{Deserialize, Serialize};

use super::texts::{Language, Problem, Texts};
use crate::email;

/// Free-text answers longer than this (in characters) are refused unless a field
/// says otherwise.
pub const DEFAULT_MAX_LENGTH: usize = 200;
/// RFC 5321 allows no longer address on the wire.
pub const MAX_EMAIL_LENGTH: usize = 254;
/// The longest phone number people write with spaces, brackets and an extension
/// prefix still fits; anything longer is not a phone number.
pub const MAX_PHONE_LENGTH: usize = 40;
/// E.164: no phone number has more digits.
const MAX_PHONE_DIGITS: usize = 15;
/// Shorter than this is an extension or a typo, not a number to call back.
const MIN_PHONE_DIGITS: usize = 5;
/// The stored answer of a ticked checkbox; an unticked one is no answer.
pub const TICKED: &str = "true";

/// One question on a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// The contact field the answer is stored in, e.g. `email` or `company_size`.
    pub name: String,
    pub kind: FieldKind,
    /// What people read next to the control. Hidden fields have none.
    #[serde(default)]
    pub label: Texts,
    /// A help text shown under the label, e.g. the format a `pattern` asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Texts>,
    /// Must be answered; a required checkbox must be ticked.
    #[serde(default)]
    pub required: bool,
    /// The longest answer accepted, in characters (not bytes). Longer answers are
    /// refused, never cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// The choices of a `select` field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Choice>,
    /// A regular expression the whole answer must match (text, e-mail, phone and
    /// hidden fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The smallest number a `number` field accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    /// The largest number a `number` field accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// The URL query parameter (e.g. `utm_campaign`) that fills a hidden field or
    /// pre-fills a visible one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_query: Option<String>,
    /// The fixed value of a hidden field, whatever the browser sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The kinds of question a form can ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Email,
    /// A phone number: digits, spaces, brackets, dots and dashes, `+` first.
    Phone,
    /// A whole number, e.g. a company size.
    Number,
    /// One of the field's `options`.
    Select,
    /// A box to tick, e.g. a consent: stored as `"true"`, or not at all.
    Checkbox,
    /// Never shown: filled from a URL query parameter or a fixed value.
    Hidden,
}

/// One choice of a select field: a value alone, shown as it is, or a value with a
/// label in each language. The value is what is stored and what fit rules read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Choice {
    Plain(String),
    Labelled { value: String, label: Texts },
}

/// By hand rather than `untagged`: the form bundle parses forms, and serde's
/// untagged enums cost a browser bundle kilobytes of code.
impl<'de> Deserialize<'de> for Choice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChoiceVisitor;

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Labelled {
            value: String,
            label: Texts,
        }

        impl<'de> serde::de::Visitor<'de> for ChoiceVisitor {
            type Value = Choice;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("an option's value, or a table with `value` and `label`")
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Choice, E> {
                Ok(Choice::Plain(value.to_owned()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Choice, A::Error> {
                let deserializer = serde::de::value::MapAccessDeserializer::new(map);
                let Labelled { value, label } = Labelled::deserialize(deserializer)?;
                Ok(Choice::Labelled { value, label })
            }
        }

        deserializer.deserialize_any(ChoiceVisitor)
    }
}

/// What the rules need from where they run: a regular-expression engine for
/// `pattern`, and Unicode normalisation (NFC) for e-mail addresses. The server
/// brings Rust crates ([`ServerEngine`]); the form bundle brings the browser's own
/// (`RegExp`, `String.prototype.normalize`), which keeps a regular-expression
/// compiler and some 100 KB of Unicode tables out of the bytes a page downloads.
pub trait Engine {
    /// Whether the whole of `answer` matches `pattern`; `None` when this engine
    /// cannot read the pattern, and leaves the decision to the other side.
    fn matches(&self, pattern: &str, answer: &str) -> Option<bool>;
    /// The text in Unicode Normalization Form C.
    fn nfc(&self, text: &str) -> String;
}

/// The rules' engine on the server: the regex and unicode-normalization crates.
pub struct ServerEngine;

impl Engine for ServerEngine {
    fn matches(&self, pattern: &str, answer: &str) -> Option<bool> {
        let regex = regex::Regex::new(&anchored(pattern)).ok()?;
        Some(regex.is_match(answer))
    }

    fn nfc(&self, text: &str) -> String {
        email::nfc(text)
    }
}

/// A pattern made to match a whole answer, as marketers expect of a format.
pub fn anchored(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

impl FormField {
    /// The answer as it will be stored; `None` for an empty optional answer or an
    /// unticked checkbox. A hidden field with a fixed `value` always gives it.
    pub fn clean(&self, answer: &str, engine: &dyn Engine) -> Result<Option<String>, Problem> {
        if let (FieldKind::Hidden, Some(fixed)) = (self.kind, &self.value) {
            return Ok(Some(fixed.clone()));
        }
        let trimmed = answer.trim();
        if self.kind == FieldKind::Checkbox {
            return self.clean_checkbox(trimmed);
        }
        if trimmed.is_empty() {
            return if self.required {
                Err(Problem::Required)
            } else {
                Ok(None)
            };
        }
        if trimmed.chars().count() > self.max_length() {
            return Err(Problem::TooLong);
        }
        if crate::wire::has_control_character(trimmed) {
            return Err(Problem::InvalidCharacters);
        }

        let value = match self.kind {
            FieldKind::Text | FieldKind::Hidden => trimmed.to_owned(),
            FieldKind::Email => email::normalize_with(trimmed, |text| engine.nfc(text))
                .map_err(|_| Problem::InvalidEmail)?,
            FieldKind::Phone if is_phone_number(trimmed) => trimmed.to_owned(),
            FieldKind::Phone => return Err(Problem::InvalidPhone),
            FieldKind::Number => self.clean_number(trimmed)?,
            FieldKind::Select => self.clean_choice(trimmed)?,
            FieldKind::Checkbox => unreachable!("checkboxes are cleaned above"),
        };
        if let Some(pattern) = &self.pattern
            && engine.matches(pattern, &value) == Some(false)
        {
            return Err(Problem::PatternMismatch);
        }
        Ok(Some(value))
    }

    /// The longest answer accepted, in characters.
    pub fn max_length(&self) -> usize {
        self.max_length.unwrap_or(match self.kind {
            FieldKind::Email => MAX_EMAIL_LENGTH,
            FieldKind::Phone => MAX_PHONE_LENGTH,
            _ => DEFAULT_MAX_LENGTH,
        })
    }

    /// Whether people see the field.
    pub fn is_shown(&self) -> bool {
        self.kind != FieldKind::Hidden
    }

    /// The message for a problem with an answer to this field, with the field's
    /// own limits where the problem has them.
    pub fn explain(&self, problem: Problem, language: Language) -> String {
        match (problem, language) {
            (Problem::TooLong, Language::En) => {
                format!(
                    "This answer is too long: at most {} characters.",
                    self.max_length()
                )
            }
            (Problem::TooLong, Language::Ru) => {
                format!(
                    "Слишком длинный ответ: не больше {} символов.",
                    self.max_length()
                )
            }
            (Problem::OutOfRange, language) => self.range_message(language),
            (problem, language) => problem.message(language).to_owned(),
        }
    }

    fn clean_checkbox(&self, trimmed: &str) -> Result<Option<String>, Problem> {
        match trimmed {
            TICKED => Ok(Some(TICKED.to_owned())),
            "" | "false" if self.required => Err(Problem::NotTicked),
            "" | "false" => Ok(None),
            _ => Err(Problem::NotAnOption),
        }
    }

    fn clean_number(&self, trimmed: &str) -> Result<String, Problem> {
        let number = trimmed.parse::<i64>().map_err(|_| Problem::NotANumber)?;
        let below = self.min.is_some_and(|min| number < min);
        let above = self.max.is_some_and(|max| number > max);
        if below || above {
            return Err(Problem::OutOfRange);
        }
        Ok(number.to_string())
    }

    fn clean_choice(&self, trimmed: &str) -> Result<String, Problem> {
        self.options
            .iter()
            .find(|choice| choice.value() == trimmed)
            .map(|choice| choice.value().to_owned())
            .ok_or(Problem::NotAnOption)
    }

    fn range_message(&self, language: Language) -> String {
        match (self.min, self.max, language) {
            (Some(min), Some(max), Language::En) => {
                format!("Please enter a number from {min} to {max}.")
            }
            (Some(min), Some(max), Language::Ru) => format!("Введите число от {min} до {max}."),
            (Some(min), None, Language::En) => format!("Please enter {min} or more."),
            (Some(min), None, Language::Ru) => format!("Введите число не меньше {min}."),
            (None, Some(max), Language::En) => format!("Please enter {max} or less."),
            (None, Some(max), Language::Ru) => format!("Введите число не больше {max}."),
            (None, None, language) => Problem::OutOfRange.message(language).to_owned(),
        }
    }
}

impl Choice {
    /// What is stored when this choice is made.
    pub fn value(&self) -> &str {
        match self {
            Choice::Plain(value) | Choice::Labelled { value, .. } => value,
        }
    }

    /// What people read.
    pub fn label(&self, language: Language) -> &str {
        match self {
            Choice::Plain(value) => value,
            Choice::Labelled { label, .. } => label.get(language),
        }
    }
}

/// Digits with the separators people write (spaces, brackets, dots, dashes), a `+`
/// only in front, and as many digits as a real number has.
fn is_phone_number(text: &str) -> bool {
    let allowed = text
        .char_indices()
        .all(|(at, c)| c.is_ascii_digit() || " ()-.".contains(c) || (c == '+' && at == 0));
    let digits = text.chars().filter(char::is_ascii_digit).count();
    allowed && (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn field(kind: FieldKind) -> FormField {
        FormField {
            name: "answer".into(),
            kind,
            label: Texts::default(),
            hint: None,
            required: false,
            max_length: None,
            options: Vec::new(),
            pattern: None,
            min: None,
            max: None,
            from_query: None,
            value: None,
        }
    }

    /// Cleans `answer` with `field` and compares with `expected`.
    fn check(field: &FormField, answer: &str, expected: Result<Option<&str>, Problem>) {
        let actual = field.clean(answer, &ServerEngine);
        assert_eq!(
            actual.as_ref().map(|value| value.as_deref()),
            expected.as_ref().map(|value| *value),
            "{:?} {answer:?}",
            field.kind
        );
    }

    #[test]
    fn text() {
        let mut text = field(FieldKind::Text);
        text.max_length = Some(5);
        let cases = [
            ("  Ана ", Ok(Some("Ана"))),
            ("José", Ok(Some("José"))),
            // Decomposed accents are kept as typed: a name round-trips unchanged.
            ("Jose\u{301}", Ok(Some("Jose\u{301}"))),
            ("王小明", Ok(Some("王小明"))),
            ("   ", Ok(None)),
            // Five characters, ten bytes: within a limit counted in characters.
            ("Петра", Ok(Some("Петра"))),
            ("Петров", Err(Problem::TooLong)),
            ("a\u{1b}b", Err(Problem::InvalidCharacters)),
        ];
        for (answer, expected) in cases {
            check(&text, answer, expected);
        }
        text.required = true;
        check(&text, " ", Err(Problem::Required));
    }

    #[test]
    fn email() {
        let email = field(FieldKind::Email);
        let cases = [
            (
                " Ana.Perez+x@Example.ORG ",
                Ok(Some("Ana.Perez+x@example.org")),
            ),
            ("用户@例子.广告", Ok(Some("用户@例子.广告"))),
            ("jose\u{301}@example.org", Ok(Some("jos\u{e9}@example.org"))),
            ("ana", Err(Problem::InvalidEmail)),
            ("a@b", Err(Problem::InvalidEmail)),
            ("Ana <ana@example.org>", Err(Problem::InvalidEmail)),
        ];
        for (answer, expected) in cases {
            check(&email, answer, expected);
        }
        let long = format!("{}@example.org", "a".repeat(MAX_EMAIL_LENGTH));
        check(&email, &long, Err(Problem::TooLong));
    }

    #[test]
    fn phone() {
        let phone = field(FieldKind::Phone);
        let cases = [
            (" +7 (912) 345-67-89 ", Ok(Some("+7 (912) 345-67-89"))),
            ("030 1234.5678", Ok(Some("030 1234.5678"))),
            ("12-34", Err(Problem::InvalidPhone)),
            ("+1 234 567 890 123 456", Err(Problem::InvalidPhone)),
            ("7+912", Err(Problem::InvalidPhone)),
            ("call me", Err(Problem::InvalidPhone)),
            ("+7 912 345 67 89 ext 1", Err(Problem::InvalidPhone)),
        ];
        for (answer, expected) in cases {
            check(&phone, answer, expected);
        }
    }

    #[test]
    fn number() {
        let mut number = field(FieldKind::Number);
        number.min = Some(1);
        number.max = Some(100_000);
        let cases = [
            (" 250 ", Ok(Some("250"))),
            ("+250", Ok(Some("250"))),
            ("0", Err(Problem::OutOfRange)),
            ("100001", Err(Problem::OutOfRange)),
            ("2.5", Err(Problem::NotANumber)),
            ("lots", Err(Problem::NotANumber)),
            ("99999999999999999999", Err(Problem::NotANumber)),
        ];
        for (answer, expected) in cases {
            check(&number, answer, expected);
        }
        assert_eq!(
            number.explain(Problem::OutOfRange, Language::En),
            "Please enter a number from 1 to 100000."
        );
        assert_eq!(
            number.explain(Problem::OutOfRange, Language::Ru),
            "Введите число от 1 до 100000."
        );
    }

    #[test]
    fn choices_read_from_json_and_toml() {
        let json = r#"["CEO",{"value":"engineer","label":{"en":"Engineer","ru":"Инженер"}}]"#;
        let choices: Vec<Choice> = serde_json::from_str(json).unwrap();
        assert_eq!(choices[0], Choice::Plain("CEO".into()));
        assert_eq!(choices[1].value(), "engineer");
        assert_eq!(serde_json::to_string(&choices).unwrap(), json);
        #[derive(Deserialize)]
        struct Holder {
            options: Vec<Choice>,
        }
        let text =
            r#"options = ["CEO", { value = "cto", label = { en = "CTO", ru = "ИТ-директор" } }]"#;
        let holder: Holder = toml::from_str(text).unwrap();
        assert_eq!(holder.options[1].label(Language::Ru), "ИТ-директор");
        let typo = r#"options = [{ value = "cto", lable = { en = "CTO" } }]"#;
        assert!(toml::from_str::<Holder>(typo).is_err());
        assert!(toml::from_str::<Holder>("options = [1]").is_err());
    }

    #[test]
    fn select() {
        let mut select = field(FieldKind::Select);
        select.options = vec![
            Choice::Plain("CEO".into()),
            Choice::Labelled {
                value: "engineer".into(),
                label: Texts {
                    en: "Engineer".into(),
                    ru: "Инженер".into(),
                },
            },
        ];
        let cases = [
            ("CEO", Ok(Some("CEO"))),
            (" engineer ", Ok(Some("engineer"))),
            ("Engineer", Err(Problem::NotAnOption)),
            ("Инженер", Err(Problem::NotAnOption)),
            ("", Ok(None)),
        ];
        for (answer, expected) in cases {
            check(&select, answer, expected);
        }
        assert_eq!(select.options[1].label(Language::Ru), "Инженер");
        assert_eq!(select.options[0].label(Language::Ru), "CEO");
    }

    #[test]
    fn checkbox() {
        let mut consent = field(FieldKind::Checkbox);
        let optional = [
            ("true", Ok(Some("true"))),
            ("", Ok(None)),
            ("false", Ok(None)),
            ("yes", Err(Problem::NotAnOption)),
        ];
        for (answer, expected) in optional {
            check(&consent, answer, expected);
        }
        consent.required = true;
        let required = [
            ("true", Ok(Some("true"))),
            ("", Err(Problem::NotTicked)),
            ("false", Err(Problem::NotTicked)),
        ];
        for (answer, expected) in required {
            check(&consent, answer, expected);
        }
    }

    #[test]
    fn hidden() {
        let mut campaign = field(FieldKind::Hidden);
        campaign.from_query = Some("utm_campaign".into());
        campaign.max_length = Some(10);
        let cases = [
            ("spring-26", Ok(Some("spring-26"))),
            ("", Ok(None)),
            ("much-too-long", Err(Problem::TooLong)),
            ("x\u{0}", Err(Problem::InvalidCharacters)),
        ];
        for (answer, expected) in cases {
            check(&campaign, answer, expected);
        }
        let mut source = field(FieldKind::Hidden);
        source.value = Some("website".into());
        // A fixed value cannot be changed from the browser.
        check(&source, "", Ok(Some("website")));
        check(&source, "forged", Ok(Some("website")));
        assert!(!source.is_shown());
    }

    #[test]
    fn patterns_must_match_the_whole_answer() {
        let mut code = field(FieldKind::Text);
        code.pattern = Some("[A-Z]{2}-[0-9]{3}".into());
        let cases = [
            ("AB-123", Ok(Some("AB-123"))),
            (" AB-123 ", Ok(Some("AB-123"))),
            ("xAB-123", Err(Problem::PatternMismatch)),
            ("AB-1234", Err(Problem::PatternMismatch)),
        ];
        for (answer, expected) in cases {
            check(&code, answer, expected);
        }

        // A pattern an engine cannot read is left to the other side.
        struct Blind;
        impl Engine for Blind {
            fn matches(&self, _: &str, _: &str) -> Option<bool> {
                None
            }
            fn nfc(&self, text: &str) -> String {
                text.to_owned()
            }
        }
        assert_eq!(code.clean("xAB-123", &Blind), Ok(Some("xAB-123".into())));
    }

    #[test]
    fn too_long_says_how_long_is_allowed() {
        let mut name = field(FieldKind::Text);
        name.max_length = Some(80);
        assert_eq!(
            name.explain(Problem::TooLong, Language::En),
            "This answer is too long: at most 80 characters."
        );
        assert_eq!(
            name.explain(Problem::Required, Language::Ru),
            "Пожалуйста, заполните это поле."
        );
    }
}
