//! The controls of each field kind: a label tied to its control, an optional hint,
//! and an error message next to the field, linked by `aria-describedby` and
//! announced when it appears. Hidden fields have no control at all.

use std::collections::BTreeMap;

use headwater_core::form::{Language, Problem, TICKED};
use headwater_core::{FieldKind, FormField};
use leptos::prelude::*;

/// What one field's view needs from the form around it.
pub struct FieldContext {
    /// Prefixes element ids, unique per mounted form.
    pub prefix: String,
    pub value: RwSignal<String>,
    pub errors: RwSignal<BTreeMap<String, Problem>>,
    pub language: Language,
}

/// The id of a field's control: where labels point and focus goes.
pub fn control_id(prefix: &str, field: &str) -> String {
    format!("{prefix}-{field}")
}

/// The control of a shown field with its label, hint and error.
pub fn field_view(field: &FormField, context: FieldContext) -> impl IntoView + use<> {
    let FieldContext {
        prefix,
        value,
        errors,
        language,
    } = context;
    let id = control_id(&prefix, &field.name);
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = match field.hint {
        Some(_) => format!("{hint_id} {error_id}"),
        None => error_id.clone(),
    };
    let problem = {
        let name = field.name.clone();
        move || errors.with(|errors| errors.get(&name).copied())
    };
    let invalid = {
        let problem = problem.clone();
        move || if problem().is_some() { "true" } else { "false" }
    };
    let message = {
        let field = field.clone();
        move || problem().map(|problem| field.explain(problem, language))
    };
    let label = field.label.get(language).to_owned();
    let required = field.required;
    let required_mark =
        required.then(|| view! { <span class="hw-required" aria-hidden="true">" *"</span> });
    let hint = field.hint.as_ref().map(|hint| {
        let text = hint.get(language).to_owned();
        view! { <p class="hw-hint" id=hint_id.clone()>{text}</p> }
    });
    let error = view! {
        <p class="hw-error" id=error_id aria-live="polite">{message}</p>
    };

    if field.kind == FieldKind::Checkbox {
        let on_change = move |event| {
            let ticked = event_target_checked(&event);
            value.set(if ticked {
                TICKED.to_owned()
            } else {
                String::new()
            });
        };
        return view! {
            <div class="hw-field hw-check">
                <input type="checkbox" id=id.clone() name=field.name.clone() required=required
                    aria-invalid=invalid aria-describedby=described_by
                    prop:checked=move || value.with(|value| value == TICKED)
                    on:change=on_change />
                <label for=id>{label}{required_mark}</label>
                {hint}
                {error}
            </div>
        }
        .into_any();
    }

    let control = match field.kind {
        FieldKind::Select => select_view(field, &id, &described_by, value, invalid, language),
        kind => {
            let (input_type, input_mode) = match kind {
                FieldKind::Email => ("text", "email"),
                FieldKind::Phone => ("tel", "tel"),
                FieldKind::Number => ("text", "numeric"),
                _ => ("text", "text"),
            };
            // An e-mail address is a plain text input: Chromium's `type=email`
            // turns an internationalised domain into punycode, and the address
            // must be kept as typed.
            let is_email = kind == FieldKind::Email;
            view! {
                <input id=id.clone() name=field.name.clone() type=input_type inputmode=input_mode
                    autocomplete=autocomplete_for(&field.name, kind) required=required
                    spellcheck=if is_email { "false" } else { "true" }
                    autocapitalize=is_email.then_some("none")
                    aria-invalid=invalid aria-describedby=described_by
                    prop:value=move || value.get()
                    on:input=move |event| value.set(event_target_value(&event)) />
            }
            .into_any()
        }
    };
    view! {
        <div class="hw-field">
            <label for=id>{label}{required_mark}</label>
            {hint}
            {control}
            {error}
        </div>
    }
    .into_any()
}

fn select_view(
    field: &FormField,
    id: &str,
    described_by: &str,
    value: RwSignal<String>,
    invalid: impl Fn() -> &'static str + Send + Sync + 'static,
    language: Language,
) -> AnyView {
    let choose = language.wording().choose;
    let options = field
        .options
        .iter()
        .map(|choice| {
            let choice_value = choice.value().to_owned();
            let selected = {
                let choice_value = choice_value.clone();
                move || value.with(|value| *value == choice_value)
            };
            view! {
                <option value=choice_value selected=selected>
                    {choice.label(language).to_owned()}
                </option>
            }
        })
        .collect_view();
    view! {
        <select id=id.to_owned() name=field.name.clone() required=field.required
            aria-invalid=invalid aria-describedby=described_by.to_owned()
            on:change=move |event| value.set(event_target_value(&event))>
            <option value="">{choose}</option>
            {options}
        </select>
    }
    .into_any()
}

/// Autofill hints browsers understand, for the field names and kinds we know.
fn autocomplete_for(name: &str, kind: FieldKind) -> &'static str {
    match (name, kind) {
        (_, FieldKind::Email) => "email",
        (_, FieldKind::Phone) => "tel",
        ("name", _) => "name",
        ("company", _) => "organization",
        ("role", _) => "organization-title",
        _ => "off",
    }
}
