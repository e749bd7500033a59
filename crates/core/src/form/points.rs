//! The points a form's submission is worth, counted once per contact and form.
//!
//! They join the engagement profile as one tally per form, named `form:FORM_ID`, so
//! that the lead definition counts, decays and explains them like any behaviour.
//! The lead engine puts them in after updating the profile from events, on the
//! incremental path and on the full one alike, so both agree.

use std::collections::BTreeMap;

use super::FormDefinition;
use crate::profile::{BehaviourTally, EngagementProfile};

/// What form tallies are named with; behaviour names may not start with it.
pub const FORM_TALLY_PREFIX: &str = "form:";

/// The name of a form's tally in a profile and in explanations.
pub fn tally_name(form_id: &str) -> String {
    format!("{FORM_TALLY_PREFIX}{form_id}")
}

/// Replaces the form tallies of `profile` with one for each form of `forms` worth
/// points that the contact submitted. `first_submitted` gives, by form id, when
/// the contact first submitted it (since it was last recycled). Repeated calls
/// with the same submissions give the same profile.
pub fn award_form_points(
    profile: &mut EngagementProfile,
    forms: &[FormDefinition],
    first_submitted: &BTreeMap<String, i64>,
) {
    profile
        .behaviours
        .retain(|name, _| !name.starts_with(FORM_TALLY_PREFIX));
    for form in forms.iter().filter(|form| form.points != 0) {
        let Some(&at) = first_submitted.get(&form.id) else {
            continue;
        };
        let tally = BehaviourTally {
            count: 1,
            points: form.points,
            occurrences: vec![at],
        };
        profile.behaviours.insert(tally_name(&form.id), tally);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::tests::form;

    fn check(submitted: &[(&str, i64)], expected: &[(&str, i64)]) {
        let mut whitepaper = form();
        whitepaper.id = "whitepaper".into();
        whitepaper.points = 15;
        let mut demo = form();
        demo.points = 25;
        let mut newsletter = form();
        newsletter.id = "newsletter".into();
        let forms = [demo, whitepaper, newsletter];
        let submitted: BTreeMap<String, i64> = submitted
            .iter()
            .map(|(form, at)| (form.to_string(), *at))
            .collect();

        let mut profile = EngagementProfile::default();
        profile.behaviours.insert(
            "pricing_viewed".into(),
            BehaviourTally {
                count: 2,
                points: 10,
                occurrences: vec![1, 2],
            },
        );
        profile
            .behaviours
            .insert(tally_name("retired_form"), BehaviourTally::default());
        award_form_points(&mut profile, &forms, &submitted);
        let once_more = profile.clone();
        award_form_points(&mut profile, &forms, &submitted);
        assert_eq!(profile, once_more, "awarding again changes nothing");

        let tallies: Vec<(&str, i64)> = profile
            .behaviours
            .iter()
            .map(|(name, tally)| (name.as_str(), tally.points))
            .collect();
        assert_eq!(tallies, expected, "{submitted:?}");
    }

    #[test]
    fn each_form_counts_once_with_its_own_points() {
        check(&[], &[("pricing_viewed", 10)]);
        check(&[("demo", 5)], &[("form:demo", 25), ("pricing_viewed", 10)]);
        check(
            &[("demo", 5), ("whitepaper", 7), ("newsletter", 9)],
            &[
                ("form:demo", 25),
                ("form:whitepaper", 15),
                ("pricing_viewed", 10),
            ],
        );
        check(&[("unknown", 5)], &[("pricing_viewed", 10)]);
    }
}
