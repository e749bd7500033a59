//! The identification form component: fields from the configuration, errors next to
//! each field and announced to screen readers, one submission at a time, and a
//! thank-you state.

use std::collections::{BTreeMap, BTreeSet};

use headwater_core::form::{Language, Problem};
use headwater_core::{FieldKind, FormDefinition, FormField, Identification};
use leptos::prelude::*;
use serde::Deserialize;

use crate::submit::{self, Outcome};

/// What the tracker passes when it mounts a form.
#[derive(Debug, Clone, Deserialize)]
pub struct FormOptions {
    pub site: String,
    /// The Headwater server, e.g. `https://headwater.example.com`.
    pub endpoint: String,
    pub visitor_id: String,
    pub form: FormDefinition,
    /// Forces a language; by default the page's `lang`, then the browser's.
    #[serde(default)]
    pub language: Option<Language>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Editing,
    Sending,
    Sent,
    Failed,
}

/// The identification form. Validates in the browser with the server's rules,
/// disables its button while sending, and shows the configured thank-you text.
#[component]
pub fn IdentificationForm(
    /// The form's definition and where to send it.
    options: FormOptions,
) -> impl IntoView {
    let language = options.language.unwrap_or_else(page_language);
    let definition = StoredValue::new(options.form.clone());
    let values: Vec<RwSignal<String>> = options
        .form
        .fields
        .iter()
        .map(|_| RwSignal::new(String::new()))
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
        leptos::task::spawn_local(async move {
            known.set(Some(submit::known_fields(&endpoint, &site, &visitor).await));
        });
    }
    let options = StoredValue::new(options);
    // Spam protection: when the form appeared, and a honeypot field people never
    // see. The server keeps a submission sent too soon, or with the honeypot
    // filled, as spam, and answers it like any other.
    let shown_at = js_sys::Date::now();
    let trap = RwSignal::new(String::new());

    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if status.get_untracked() == Status::Sending {
            return;
        }
        let answered: Vec<(String, String)> = definition.with_value(|form| {
            values.with_value(|values| {
                form.fields
                    .iter()
                    .zip(values)
                    .map(|(field, value)| (field.name.clone(), value.get_untracked()))
                    .collect()
            })
        });
        let answers = submit::answers(&answered);
        let known_fields = known.get_untracked().unwrap_or_default();
        if let Err(problems) = definition.with_value(|form| form.validate(&answers, &known_fields))
        {
            errors.set(
                problems
                    .into_iter()
                    .map(|error| (error.field, error.problem))
                    .collect(),
            );
            focus_first_error(&definition.get_value(), &errors.get_untracked());
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
        leptos::task::spawn_local(async move {
            match submit::identify(&endpoint, &identification).await {
                Outcome::Accepted => status.set(Status::Sent),
                Outcome::Refused(problems) => {
                    errors.set(
                        problems
                            .into_iter()
                            .map(|error| (error.field, error.problem))
                            .collect(),
                    );
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
        values.with_value(|values| values.iter().for_each(|value| value.set(String::new())));
        errors.set(BTreeMap::new());
        known.set(Some(BTreeSet::new()));
    };

    let form = options.with_value(|options| options.form.clone());
    let fields = move || {
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
            .map(|(field, value)| field_view(&form.id, field, value, errors, language))
            .collect_view();
        Some(views)
    };
    let (not_you, start_afresh) = match language {
        Language::Ru => ("Не вы?", "Начать заново"),
        Language::En => ("Not you?", "Start afresh"),
    };
    let returning = move || known.get().is_some_and(|known| !known.is_empty());
    let title = form.title.get(language).to_owned();
    let submit_label = form.submit.get(language).to_owned();
    let thank_you = form.thank_you.get(language).to_owned();
    let failure = match language {
        Language::Ru => "Не удалось отправить форму. Попробуйте ещё раз.",
        Language::En => "The form could not be sent. Please try again.",
    };

    let trap_id = format!("hw-{}-website", form.id);
    let sent = move || status.get() == Status::Sent;
    view! {
        <form class="hw-form" novalidate on:submit=on_submit data-headwater-rendered="" hidden=sent>
            <h2>{title}</h2>
            <p class="hw-not-you" hidden=move || !returning()>
                {not_you} " " <a href="#" on:click=on_not_you>{start_afresh}</a>
            </p>
            {fields}
            <div class="hw-trap" aria-hidden="true">
                <label for=trap_id.clone()>"Leave this field empty"</label>
                <input id=trap_id type="text" name="website" tabindex="-1" autocomplete="off"
                    on:input=move |event| trap.set(event_target_value(&event)) />
            </div>
            <p class="hw-error" role="alert">
                {move || (status.get() == Status::Failed).then_some(failure)}
            </p>
            <button type="submit" disabled=move || status.get() == Status::Sending>
                {submit_label}
            </button>
        </form>
        <p class="hw-thanks" role="status" hidden=move || !sent()>{thank_you}</p>
    }
}

fn field_view(
    form_id: &str,
    field: &FormField,
    value: RwSignal<String>,
    errors: RwSignal<BTreeMap<String, Problem>>,
    language: Language,
) -> impl IntoView + use<> {
    let id = format!("hw-{form_id}-{}", field.name);
    let error_id = format!("{id}-error");
    let name = field.name.clone();
    let problem = {
        let name = name.clone();
        move || errors.with(|errors| errors.get(&name).copied())
    };
    let invalid = {
        let problem = problem.clone();
        move || if problem().is_some() { "true" } else { "false" }
    };
    let message = move || problem().map(|problem| problem.message(language));
    let on_input = move |event| value.set(event_target_value(&event));
    let required = field.required;
    let label = field.label.get(language).to_owned();

    let control = match field.kind {
        FieldKind::Select => {
            let choose = match language {
                Language::Ru => "Выберите…",
                Language::En => "Choose…",
            };
            let options = field
                .options
                .iter()
                .map(|option| view! { <option value=option.clone()>{option.clone()}</option> })
                .collect_view();
            view! {
                <select id=id.clone() name=name.clone() required=required aria-invalid=invalid
                    aria-describedby=error_id.clone() on:change=on_input>
                    <option value="">{choose}</option>
                    {options}
                </select>
            }
            .into_any()
        }
        kind => {
            let (input_type, autocomplete, input_mode) = match kind {
                FieldKind::Email => ("email", autocomplete_for(&name), "email"),
                FieldKind::Number => ("text", "off", "numeric"),
                _ => ("text", autocomplete_for(&name), "text"),
            };
            view! {
                <input id=id.clone() name=name.clone() type=input_type inputmode=input_mode
                    autocomplete=autocomplete required=required aria-invalid=invalid
                    aria-describedby=error_id.clone() prop:value=move || value.get()
                    on:input=on_input />
            }
            .into_any()
        }
    };

    view! {
        <div class="hw-field">
            <label for=id.clone()>
                {label}
                {required
                    .then(|| view! { <span class="hw-required" aria-hidden="true">" *"</span> })}
            </label>
            {control}
            <p class="hw-error" id=error_id.clone() aria-live="polite">{message}</p>
        </div>
    }
}

/// Autofill hints browsers understand, for the field names we know.
fn autocomplete_for(name: &str) -> &'static str {
    match name {
        "name" => "name",
        "email" => "email",
        "company" => "organization",
        "role" => "organization-title",
        "phone" => "tel",
        _ => "on",
    }
}

/// The page's `lang`, else the browser's language.
fn page_language() -> Language {
    let window = web_sys::window();
    let page = window
        .as_ref()
        .and_then(|window| window.document())
        .and_then(|document| document.document_element())
        .and_then(|root| root.get_attribute("lang"))
        .filter(|lang| !lang.is_empty());
    let tag = page
        .or_else(|| window.and_then(|window| window.navigator().language()))
        .unwrap_or_default();
    Language::from_tag(&tag)
}

fn focus_first_error(form: &FormDefinition, errors: &BTreeMap<String, Problem>) {
    let Some(field) = form
        .fields
        .iter()
        .find(|field| errors.contains_key(&field.name))
    else {
        return;
    };
    let id = format!("hw-{}-{}", form.id, field.name);
    let element = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.get_element_by_id(&id));
    if let Some(element) = element
        .and_then(|element| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(element).ok())
    {
        let _ = element.focus();
    }
}
