//! The words a form speaks: texts marketers configure in each language, the
//! languages themselves, and the messages for refused answers.

use serde::{Deserialize, Serialize};

/// A text in each language the product speaks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub en: String,
    #[serde(default)]
    pub ru: String,
}

/// The languages the form speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    En,
    Ru,
}

/// What is wrong with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    Required,
    /// A required checkbox (a consent) was left unticked.
    NotTicked,
    TooLong,
    InvalidEmail,
    InvalidPhone,
    NotANumber,
    /// A number below the field's `min` or above its `max`.
    OutOfRange,
    NotAnOption,
    /// The answer does not have the shape the field's `pattern` asks for.
    PatternMismatch,
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

    /// The BCP 47 tag, for `lang` attributes.
    pub fn tag(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ru => "ru",
        }
    }
}

impl Problem {
    /// The message shown next to the field. [`crate::form::FormField::explain`]
    /// adds the field's own limits where a problem has them.
    pub fn message(self, language: Language) -> &'static str {
        let (en, ru) = match self {
            Problem::Required => (
                "Please fill in this field.",
                "Пожалуйста, заполните это поле.",
            ),
            Problem::NotTicked => (
                "Please tick this box to continue.",
                "Чтобы продолжить, отметьте этот пункт.",
            ),
            Problem::TooLong => ("This answer is too long.", "Слишком длинный ответ."),
            Problem::InvalidEmail => (
                "Please enter a valid e-mail address.",
                "Введите корректный адрес электронной почты.",
            ),
            Problem::InvalidPhone => (
                "Please enter a phone number: digits, spaces, brackets and dashes, \
                 with + only at the start.",
                "Введите номер телефона: цифры, пробелы, скобки и дефисы, \
                 знак + только в начале.",
            ),
            Problem::NotANumber => ("Please enter a whole number.", "Введите целое число."),
            Problem::OutOfRange => (
                "This number is outside the accepted range.",
                "Число вне допустимого диапазона.",
            ),
            Problem::NotAnOption => (
                "Please choose one of the options.",
                "Выберите один из вариантов.",
            ),
            Problem::PatternMismatch => (
                "Please enter this in the format asked for.",
                "Введите ответ в указанном формате.",
            ),
            Problem::UnknownField => ("This form has no such field.", "В форме нет такого поля."),
            Problem::InvalidCharacters => (
                "This answer holds characters that cannot be stored.",
                "Ответ содержит недопустимые символы.",
            ),
        };
        match language {
            Language::En => en,
            Language::Ru => ru,
        }
    }
}

/// Words of the form itself, not configured by marketers.
#[derive(Debug, Clone, Copy)]
pub struct Wording {
    pub choose: &'static str,
    pub not_you: &'static str,
    pub start_afresh: &'static str,
    pub close: &'static str,
    pub failure: &'static str,
    pub required: &'static str,
}

impl Language {
    /// The form's own words in this language.
    pub fn wording(self) -> Wording {
        match self {
            Language::En => Wording {
                choose: "Choose…",
                not_you: "Not you?",
                start_afresh: "Start afresh",
                close: "Close",
                failure: "The form could not be sent. Please try again.",
                required: "required",
            },
            Language::Ru => Wording {
                choose: "Выберите…",
                not_you: "Не вы?",
                start_afresh: "Начать заново",
                close: "Закрыть",
                failure: "Не удалось отправить форму. Попробуйте ещё раз.",
                required: "обязательное поле",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_from_tags() {
        let cases = [
            ("ru-RU", Language::Ru),
            ("ru", Language::Ru),
            ("RU_ru", Language::Ru),
            ("en-GB", Language::En),
            ("de", Language::En),
            ("", Language::En),
        ];
        for (tag, expected) in cases {
            assert_eq!(Language::from_tag(tag), expected, "{tag}");
        }
    }

    #[test]
    fn a_missing_translation_falls_back_to_english() {
        let texts = Texts {
            en: "Company".into(),
            ru: String::new(),
        };
        assert_eq!(texts.get(Language::Ru), "Company");
        let both = Texts {
            en: "Company".into(),
            ru: "Компания".into(),
        };
        assert_eq!(both.get(Language::Ru), "Компания");
    }

    #[test]
    fn every_problem_has_a_message_in_each_language() {
        let problems = [
            Problem::Required,
            Problem::NotTicked,
            Problem::TooLong,
            Problem::InvalidEmail,
            Problem::InvalidPhone,
            Problem::NotANumber,
            Problem::OutOfRange,
            Problem::NotAnOption,
            Problem::PatternMismatch,
            Problem::UnknownField,
            Problem::InvalidCharacters,
        ];
        for problem in problems {
            let (en, ru) = (problem.message(Language::En), problem.message(Language::Ru));
            assert!(!en.is_empty() && !ru.is_empty() && en != ru, "{problem:?}");
        }
    }
}
