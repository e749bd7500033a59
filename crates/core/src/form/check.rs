//! The configuration rules of a form: what the types cannot say (an e-mail field
//! to identify anyone by, keys that suit each field's kind, patterns that
//! compile, triggers that can fire), checked once when the server reads its
//! configuration, with errors that name the key at fault.

use std::collections::BTreeSet;

use super::{
    Choice, DisplayMode, EngagementThreshold, FieldKind, FormDefinition, FormDisplay, FormField,
    FormTrigger, MAX_MIN_FILL_SECONDS, field,
};

/// Form ids and field names are short: they name elements, storage keys and
/// answers. The wire limits names to the same length.
const MAX_ID_LENGTH: usize = crate::wire::MAX_NAME_LENGTH;

/// A form definition that cannot work, with the key at fault relative to the
/// form (`fields[2].pattern`; empty for the form as a whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct FormConfigError {
    pub key: String,
    pub problem: FormConfigProblem,
}

/// What is wrong with a form definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormConfigProblem {
    #[error("an identification form needs a required field of kind \"email\"")]
    NoEmailField,
    #[error("must be at least 1 and reach the e-mail field")]
    EmailNotAsked,
    #[error("must be between 0 and 600 seconds")]
    MinFillSeconds,
    #[error("must be 1 to 100 letters, digits, '_' or '-'")]
    NotAName,
    #[error("must be unique within the form")]
    Duplicate,
    #[error("a field people see needs a label, at least in English")]
    NoLabel,
    #[error("a select field needs options, each value once")]
    NoOptions,
    #[error("only fields of kind {0} take this key")]
    NotForKind(&'static str),
    #[error("a hidden field takes either `from_query` or `value`")]
    HiddenSource,
    #[error("a hidden field cannot be required: nobody sees it to fill it in")]
    HiddenRequired,
    #[error("nobody but the visitor may tick a checkbox: no `from_query`")]
    PrefilledCheckbox,
    #[error("not a regular expression: {0}")]
    Pattern(String),
    #[error("must not be greater than `max`")]
    Range,
    #[error("must be at least 1")]
    MaxLength,
    #[error("must not be empty")]
    Empty,
    #[error("give at least one of `points`, `pages_seen`, `engaged_seconds`")]
    NoThreshold,
    #[error("must be true, or the trigger left out")]
    ExitIntentFalse,
    #[error("an overlay needs a trigger: click, engagement or exit_intent")]
    NoTrigger,
    #[error("an inline form has no trigger: did you mean mode = \"overlay\"?")]
    TriggerInline,
}

impl FormDefinition {
    /// Checks what the types cannot: that the form can identify someone, that every
    /// field's keys suit its kind, patterns compile, and a trigger can fire.
    pub fn check(&self) -> Result<(), FormConfigError> {
        let at = |key: &str, problem| FormConfigError {
            key: key.to_owned(),
            problem,
        };
        if !is_name(&self.id) {
            return Err(at("id", FormConfigProblem::NotAName));
        }
        let has_email = self
            .fields
            .iter()
            .any(|field| field.kind == FieldKind::Email && field.required);
        if !has_email {
            return Err(at("", FormConfigProblem::NoEmailField));
        }
        // A visitor nobody knows yet must be asked for an e-mail.
        let first_asked = self.questions(&BTreeSet::new());
        let asks_email = first_asked
            .iter()
            .any(|field| field.kind == FieldKind::Email);
        if self.max_questions == Some(0) || !asks_email {
            return Err(at("max_questions", FormConfigProblem::EmailNotAsked));
        }
        if !(0.0..=MAX_MIN_FILL_SECONDS).contains(&self.min_fill_seconds) {
            return Err(at("min_fill_seconds", FormConfigProblem::MinFillSeconds));
        }

        let mut names = BTreeSet::new();
        for (index, field) in self.fields.iter().enumerate() {
            let prefix = format!("fields[{index}]");
            if !names.insert(field.name.as_str()) {
                return Err(at(&format!("{prefix}.name"), FormConfigProblem::Duplicate));
            }
            field.check().map_err(|(key, problem)| FormConfigError {
                key: format!("{prefix}.{key}"),
                problem,
            })?;
        }
        if let Some(display) = &self.display {
            check_display(display).map_err(|problem| at("display.trigger", problem))?;
        }
        Ok(())
    }
}

impl FormField {
    /// The configuration checks of one field: the key at fault and why.
    fn check(&self) -> Result<(), (&'static str, FormConfigProblem)> {
        use FieldKind::*;
        use FormConfigProblem as P;
        if !is_name(&self.name) {
            return Err(("name", P::NotAName));
        }
        if self.is_shown() && self.label.en.trim().is_empty() {
            return Err(("label", P::NoLabel));
        }
        if self.max_length == Some(0) {
            return Err(("max_length", P::MaxLength));
        }
        let only = |allowed: &[FieldKind], kinds| {
            if allowed.contains(&self.kind) {
                Ok(())
            } else {
                Err(P::NotForKind(kinds))
            }
        };
        if self.pattern.is_some() {
            only(
                &[Text, Email, Phone, Hidden],
                "text, email, phone or hidden",
            )
            .map_err(|problem| ("pattern", problem))?;
        }
        if self.min.is_some() || self.max.is_some() {
            only(&[Number], "number").map_err(|problem| ("min", problem))?;
        }
        if !self.options.is_empty() {
            only(&[Select], "select").map_err(|problem| ("options", problem))?;
        }
        if self.value.is_some() {
            only(&[Hidden], "hidden").map_err(|problem| ("value", problem))?;
        }

        if let Some(pattern) = &self.pattern {
            regex::Regex::new(&field::anchored(pattern))
                .map_err(|error| ("pattern", P::Pattern(error.to_string())))?;
        }
        if let (Some(min), Some(max)) = (self.min, self.max)
            && min > max
        {
            return Err(("min", P::Range));
        }
        if let Some(parameter) = &self.from_query
            && (parameter.trim().is_empty() || crate::wire::has_control_character(parameter))
        {
            return Err(("from_query", P::Empty));
        }
        match self.kind {
            Select => {
                let values: BTreeSet<&str> = self.options.iter().map(Choice::value).collect();
                if values.is_empty() || values.len() != self.options.len() {
                    return Err(("options", P::NoOptions));
                }
            }
            Hidden if self.from_query.is_some() == self.value.is_some() => {
                return Err(("from_query", P::HiddenSource));
            }
            Hidden if self.required => return Err(("required", P::HiddenRequired)),
            Checkbox if self.from_query.is_some() => {
                return Err(("from_query", P::PrefilledCheckbox));
            }
            _ => {}
        }
        Ok(())
    }
}

fn check_display(display: &FormDisplay) -> Result<(), FormConfigProblem> {
    let trigger = match (display.mode, &display.trigger) {
        (DisplayMode::Inline, None) => return Ok(()),
        (DisplayMode::Inline, Some(_)) => return Err(FormConfigProblem::TriggerInline),
        (DisplayMode::Overlay, None) => return Err(FormConfigProblem::NoTrigger),
        (DisplayMode::Overlay, Some(trigger)) => trigger,
    };
    match trigger {
        FormTrigger::Click(selector) if selector.trim().is_empty() => Err(FormConfigProblem::Empty),
        FormTrigger::Engagement(threshold) if *threshold == EngagementThreshold::default() => {
            Err(FormConfigProblem::NoThreshold)
        }
        FormTrigger::ExitIntent(false) => Err(FormConfigProblem::ExitIntentFalse),
        _ => Ok(()),
    }
}

/// Ids and names go into element ids, storage keys and CSS selectors: plain ASCII.
fn is_name(text: &str) -> bool {
    (1..=MAX_ID_LENGTH).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::tests::form;

    /// Checks a changed copy of the example form and the error it gives.
    fn check_config(
        change: impl FnOnce(&mut FormDefinition),
        expected: Option<(&str, FormConfigProblem)>,
    ) {
        let mut form = form();
        change(&mut form);
        let expected = expected.map(|(key, problem)| FormConfigError {
            key: key.into(),
            problem,
        });
        assert_eq!(form.check().err(), expected);
    }

    #[test]
    fn configuration_mistakes_name_the_key() {
        use FormConfigProblem as P;
        check_config(|_| {}, None);
        check_config(
            |form| form.id = "demo request".into(),
            Some(("id", P::NotAName)),
        );
        check_config(
            |form| form.fields[1].required = false,
            Some(("", P::NoEmailField)),
        );
        check_config(
            |form| form.max_questions = Some(1),
            Some(("max_questions", P::EmailNotAsked)),
        );
        check_config(
            |form| form.min_fill_seconds = 601.0,
            Some(("min_fill_seconds", P::MinFillSeconds)),
        );
        check_config(
            |form| form.fields[2].name = "name".into(),
            Some(("fields[2].name", P::Duplicate)),
        );
        check_config(
            |form| form.fields[0].label.en = String::new(),
            Some(("fields[0].label", P::NoLabel)),
        );
        check_config(
            |form| form.fields[0].pattern = Some("(unclosed".into()),
            Some((
                "fields[0].pattern",
                P::Pattern(
                    regex::Regex::new(&field::anchored("(unclosed"))
                        .unwrap_err()
                        .to_string(),
                ),
            )),
        );
        check_config(
            |form| form.fields[0].min = Some(1),
            Some(("fields[0].min", P::NotForKind("number"))),
        );
        check_config(
            |form| (form.fields[2].min, form.fields[2].max) = (Some(10), Some(1)),
            Some(("fields[2].min", P::Range)),
        );
        check_config(
            |form| form.fields[3].options.push(Choice::Plain("CEO".into())),
            Some(("fields[3].options", P::NoOptions)),
        );
        check_config(
            |form| form.fields[4].value = Some("x".into()),
            Some(("fields[4].from_query", P::HiddenSource)),
        );
        check_config(
            |form| form.fields[4].required = true,
            Some(("fields[4].required", P::HiddenRequired)),
        );
        check_config(
            |form| form.fields[5].from_query = Some("consent".into()),
            Some(("fields[5].from_query", P::PrefilledCheckbox)),
        );
        check_config(
            |form| form.fields[0].value = Some("x".into()),
            Some(("fields[0].value", P::NotForKind("hidden"))),
        );
        let overlay = |trigger| Some(FormDisplay::overlay(trigger));
        check_config(
            |form| form.display = overlay(FormTrigger::Click(" ".into())),
            Some(("display.trigger", P::Empty)),
        );
        check_config(
            |form| form.display = overlay(FormTrigger::Engagement(Default::default())),
            Some(("display.trigger", P::NoThreshold)),
        );
        check_config(
            |form| form.display = overlay(FormTrigger::ExitIntent(false)),
            Some(("display.trigger", P::ExitIntentFalse)),
        );
        check_config(
            |form| form.display = overlay(FormTrigger::ExitIntent(true)),
            None,
        );
    }
}
