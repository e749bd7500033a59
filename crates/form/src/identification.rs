//! The identification form component: the questions from the configuration (those
//! the visitor's contact has not answered yet), hidden fields filled from the
//! page's address, validation with the server's rules before sending, errors next
//! to each field, one submission at a time, and a thank-you state.

use std::collections::{BTreeMap, BTreeSet};

use headwater_core::form::{Language, Problem};
use headwater_core::{FieldKind, FormDefinition, FormField, Identification};
use leptos::prelude::*;
use serde::Deserialize;

use crate::fields::{self, FieldContext};
use crate::page::{self, BrowserEngine};
use crate::submit::{self, Outcome};

/// What the tracker passes when it mounts a form.
#[derive(Debug, Clone, Deserialize)]
pub struct FormOptions {
    pub site: String,
    /// The Headwater server, e.g. `https://headwater.example.com`.
    pub endpoint: String,
    pub visitor_id: String,
    pub form: FormDefinition,
    /// Forces a language; by default the form's configured `language`, then the
    /// page's `lang`, then the browser's.
    #[serde(default)]
    pub language: Option<Language>,
}

impl FormOptions {
    /// The language the form speaks.
    pub fn language(&self) -> Language {
        self.language
            .or(self.form.language)
            .unwrap_or_else(page::page_language)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Editing,
    Sending,
    Sent,
    Failed,
}

/// The id of a form's title, which an overlay is labelled by.
pub fn title_id(prefix: &str) -> String {
    format!("{prefix}-title")
}

/// The identification form. Validates in the browser with the server's rules,
/// disables its button from the first click until the server answers, and shows
/// the configured thank-you text.
#[component]
pub fn IdentificationForm(
    /// The form's definition and where to send it.
    options: FormOptions,
    /// Prefixes the ids of the form's elements; unique for each mounted form.
    prefix: String,
    /// Called once the server has accepted the answers.
    #[prop(optional)]
    on_sent: Option<Callback<()>>,
    /// Moves the focus to the first question when the questions appear, as an
    /// overlay does when it opens.
    #[prop(optional)]
    focus_first_question: bool,
) -> impl IntoView {
    let language = options.language();
    let wording = language.wording();
    let definition = StoredValue::new(options.form.clone());
    let query = page::query();
    let values: Vec<RwSignal<String>> = options
        .form
        .fields
        .iter()
        .map(|field| RwSignal::new(initial_value(field, &query)))
        .collect();
    let values = StoredValue::new(values);
    let errors = RwSignal::new(BTreeMap::<String, Problem>::new());
    let status = RwSignal::new(Status::Editing);
    let token = StoredValue::new(submit::new_token());
    let visitor_id = RwSignal::new(options.visitor_id.clone());
    // Progressive profiling: the fields this visitor's contact answered before are
    // not asked again. Until the server has said which (a few milliseconds), the
    // form shows its title only.
    let known = RwSignal::new(None::<BTreeSet<String>>);
    {
        let (endpoint, site, visitor) = (
            options.endpoint.clone(),
            options.site.clone(),
            options.visitor_id.clone(),
        );
        let first_question = focus_first_question.then(|| prefix.clone());
        leptos::task::spawn_local(async move {
            known.set(Some(submit::known_fields(&endpoint, &site, &visitor).await));
            if let Some(prefix) = first_question {
                request_animation_frame(move || focus_first_asked(&prefix));
            }
        });
    }
    let options = StoredValue::new(options);
    // Spam protection: when the form appeared, and a honeypot field people never
    // see. The server keeps a submission sent too soon, or with the honeypot
    // filled, as spam, and answers it like any other.
    let shown_at = js_sys::Date::now();
    let trap = RwSignal::new(String::new());
    let focus_prefix = prefix.clone();

    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if status.get_untracked() == Status::Sending {
            return;
        }
        let known_fields = known.get_untracked().unwrap_or_default();
        let answers = definition.with_value(|form| {
            values.with_value(|values| answers_to_send(form, values, &known_fields))
        });
        let checked =
            definition.with_value(|form| form.validate(&answers, &known_fields, &BrowserEngine));
        if let Err(problems) = checked {
            let problems = problems
                .into_iter()
                .map(|error| (error.field, error.problem))
                .collect();
            definition.with_value(|form| focus_first_error(form, &problems, &focus_prefix));
            errors.set(problems);
            return;
        }

        errors.set(BTreeMap::new());
        status.set(Status::Sending);
        let identification = options.with_value(|options| Identification {
            site: options.site.clone(),
            visitor_id: visitor_id.get_untracked(),
            form: options.form.id.clone(),
            token: token.get_value(),
            answers,
            automation: submit::is_automated(),
            trap: trap.get_untracked(),
            fill_ms: Some((js_sys::Date::now() - shown_at).max(0.0) as u64),
        });
        let endpoint = options.with_value(|options| options.endpoint.clone());
        let focus_prefix = focus_prefix.clone();
        leptos::task::spawn_local(async move {
            match submit::identify(&endpoint, &identification).await {
                Outcome::Accepted => {
                    status.set(Status::Sent);
                    match on_sent {
                        Some(on_sent) => on_sent.run(()),
                        // Once the thank-you text is shown: a hidden element
                        // cannot take the focus.
                        None => {
                            let thanks = format!("{focus_prefix}-thanks");
                            request_animation_frame(move || page::focus_by_id(&thanks));
                        }
                    }
                }
                Outcome::Refused(problems) => {
                    let problems = problems
                        .into_iter()
                        .map(|error| (error.field, error.problem))
                        .collect();
                    definition.with_value(|form| focus_first_error(form, &problems, &focus_prefix));
                    errors.set(problems);
                    status.set(Status::Editing);
                }
                Outcome::Failed => status.set(Status::Failed),
            }
        });
    };

    // "Not you?": somebody else at this computer starts afresh, as a new anonymous
    // visitor, with every question asked.
    let on_not_you = move |event: leptos::ev::MouseEvent| {
        event.prevent_default();
        if let Some(fresh) = submit::reset_visitor() {
            visitor_id.set(fresh);
        }
        token.set_value(submit::new_token());
        definition.with_value(|form| {
            values.with_value(|values| {
                for (field, value) in form.fields.iter().zip(values) {
                    if field.is_shown() {
                        value.set(String::new());
                    }
                }
            })
        });
        errors.set(BTreeMap::new());
        known.set(Some(BTreeSet::new()));
    };

    let field_prefix = prefix.clone();
    let questions = move || {
        let known = known.get()?;
        let form = definition.get_value();
        let asked: BTreeSet<&str> = form
            .questions(&known)
            .into_iter()
            .map(|field| field.name.as_str())
            .collect();
        let views = form
            .fields
            .iter()
            .zip(values.get_value())
            .filter(|(field, _)| asked.contains(field.name.as_str()))
            .map(|(field, value)| {
                let context = FieldContext {
                    prefix: field_prefix.clone(),
                    value,
                    errors,
                    language,
                };
                fields::field_view(field, context)
            })
            .collect_view();
        Some(views)
    };
    // A refusal the visitor cannot see next to a question (a field not shown).
    let unplaced_error = move || {
        let known = known.get().unwrap_or_default();
        errors.with(|errors| {
            definition.with_value(|form| {
                let asked: BTreeSet<&str> = form
                    .questions(&known)
                    .into_iter()
                    .map(|field| field.name.as_str())
                    .collect();
                errors.keys().any(|name| !asked.contains(name.as_str()))
            })
        })
    };
    let returning = move || known.get().is_some_and(|known| !known.is_empty());
    let form = options.with_value(|options| options.form.clone());
    let title = form.title.get(language).to_owned();
    let submit_label = form.submit.get(language).to_owned();
    let thank_you = form.thank_you.get(language).to_owned();
    let sent = move || status.get() == Status::Sent;
    let failed = move || status.get() == Status::Failed || unplaced_error();

    view! {
        <form class="hw-form" id=format!("{prefix}-form") novalidate on:submit=on_submit
            data-headwater-rendered=form.id.clone() lang=language.tag() hidden=sent>
            <h2 id=title_id(&prefix)>{title}</h2>
            <p class="hw-not-you" hidden=move || !returning()>
                {wording.not_you} " " <a href="#" on:click=on_not_you>{wording.start_afresh}</a>
            </p>
            {questions}
            <div class="hw-trap" aria-hidden="true">
                <label for=format!("{prefix}-website")>"Leave this field empty"</label>
                <input id=format!("{prefix}-website") type="text" name="website" tabindex="-1"
                    autocomplete="off" on:input=move |event| trap.set(event_target_value(&event)) />
            </div>
            <p class="hw-error" role="alert">{move || failed().then_some(wording.failure)}</p>
            <button type="submit" disabled=move || status.get() == Status::Sending>
                {submit_label}
            </button>
        </form>
        <p class="hw-thanks" id=format!("{prefix}-thanks") role="status" tabindex="-1"
            lang=language.tag() hidden=move || !sent()>
            {thank_you}
        </p>
    }
}

/// A field's value when the form appears: what the page's address gives it. A
/// hidden value the rules refuse (too long, control characters) is left out, since
/// nobody could correct it.
fn initial_value(field: &FormField, query: &str) -> String {
    let Some(value) = field.prefill(query) else {
        return String::new();
    };
    let acceptable = field.kind != FieldKind::Hidden || field.clean(&value, &BrowserEngine).is_ok();
    if acceptable { value } else { String::new() }
}

/// The answers to send: those to the questions asked, and the hidden fields. A
/// pre-filled answer to a question not asked (the contact gave it before) stays
/// at home.
fn answers_to_send(
    form: &FormDefinition,
    values: &[RwSignal<String>],
    known: &BTreeSet<String>,
) -> BTreeMap<String, String> {
    let asked: BTreeSet<&str> = form
        .questions(known)
        .into_iter()
        .map(|field| field.name.as_str())
        .collect();
    form.fields
        .iter()
        .zip(values)
        .filter(|(field, _)| !field.is_shown() || asked.contains(field.name.as_str()))
        .map(|(field, value)| (field.name.clone(), value.get_untracked()))
        .filter(|(_, value)| !value.trim().is_empty())
        .collect()
}

fn focus_first_error(form: &FormDefinition, errors: &BTreeMap<String, Problem>, prefix: &str) {
    if let Some(field) = form
        .fields
        .iter()
        .find(|field| errors.contains_key(&field.name))
    {
        page::focus_by_id(&fields::control_id(prefix, &field.name));
    }
}

/// Focuses the first question asked, unless the visitor has already moved the
/// focus to a control of its own choosing.
fn focus_first_asked(prefix: &str) {
    let in_a_control = page::focused()
        .is_some_and(|element| matches!(element.tag_name().as_str(), "INPUT" | "SELECT"));
    if in_a_control {
        return;
    }
    let first = format!("#{prefix}-form .hw-field input, #{prefix}-form .hw-field select");
    if let Some(element) = page::query_selector(&first) {
        let _ = element.focus();
    }
}
