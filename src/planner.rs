//! The planner's rule around the model: a query that names the member's own
//! place, employer, field, role or profile ("near me", "at my company",
//! "cerca de mí") is self-reference, whatever words surround it.
//!
//! The model decides the intent; this rule only corrects a
//! `criteria_search` answer when the query holds one of these phrases. A
//! small model misses such phrases in unfamiliar wording and other
//! languages, and then the member's data never reaches the search. Non-job
//! and violation answers are left alone: "how do i ask my employer for a
//! raise" is not a search, and a denial must never be lifted by wording.

use crate::contract::Intent;
use crate::text::{contains_phrase, words};

/// Phrases that can only mean the member's own data, in the languages
/// Quarry reads (matched on whole lower-cased words).
const SELF_REFERENCE_CUES: &[&str] = &[
    // The member's place.
    "near me",
    "close to me",
    "close to home",
    "near my home",
    "near my house",
    "near where i live",
    "around me",
    "in my area",
    "in my city",
    "in my town",
    "in my hometown",
    "in my neighborhood",
    "in my neighbourhood",
    "my neck of the woods",
    "in my state",
    "in my province",
    "in my region",
    "in my country",
    "within commuting distance",
    // The member's employer.
    "at my company",
    "at my current company",
    "at my employer",
    "at my current employer",
    "with my current employer",
    "at my firm",
    "at my current firm",
    "at my organization",
    "at my workplace",
    "at my university",
    "at my school",
    "at my college",
    "at my agency",
    "at my hospital",
    "the company i work for",
    // The member's field, role, level and profile.
    "in my industry",
    "in my field",
    "in my sector",
    "in my line of work",
    "in my profession",
    "in my trade",
    "like mine",
    "similar to mine",
    "like my current job",
    "like my current role",
    "similar to my current role",
    "similar to my current position",
    "what i do now",
    "at my level",
    "match my profile",
    "matching my profile",
    "fit my profile",
    "match my resume",
    "match my cv",
    "matching my cv",
    "matching my resume",
    "use my skills",
    "using my skills",
    "matching my skills",
    "match my skills",
    "my skill set",
    // Spanish, Portuguese, French, German, Italian, Hinglish.
    "cerca de mí",
    "cerca de mi casa",
    "en mi ciudad",
    "en mi zona",
    "en mi empresa",
    "perto de mim",
    "perto de casa",
    "na minha cidade",
    "na minha região",
    "na minha empresa",
    "près de chez moi",
    "près de moi",
    "dans ma ville",
    "dans ma région",
    "dans mon entreprise",
    "in meiner nähe",
    "in meiner stadt",
    "in meiner region",
    "in meiner umgebung",
    "in meiner firma",
    "wie meine",
    "vicino a me",
    "vicino a casa",
    "nella mia città",
    "nella mia zona",
    "nella mia azienda",
    "mere area",
    "mere shehar",
    "mere city",
    "apne area",
    "apne shehar",
];

/// The intent to route by: the model's, or self-reference when the model
/// called a query that names the member's own data a criteria search.
pub fn settle(model: Intent, query: &str) -> Intent {
    if model == Intent::CriteriaSearch && names_the_member(query) {
        Intent::SelfReference
    } else {
        model
    }
}

/// Does the query name the member's own place, employer, field or profile?
pub fn names_the_member(query: &str) -> bool {
    let words = words(query);
    SELF_REFERENCE_CUES
        .iter()
        .any(|cue| contains_phrase(&words, cue))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_reference_cues_correct_a_criteria_search() {
        for query in [
            "vagas de enfermeira perto de mim",
            "mere area mein maths teacher ki vacancy",
            "internships at my university",
            "Offres de designer UX près de chez moi",
            "barista jobs in my neck of the woods",
            "Stellen wie meine in München",
        ] {
            assert_eq!(
                settle(Intent::CriteriaSearch, query),
                Intent::SelfReference,
                "{query}"
            );
        }
    }

    #[test]
    fn other_intents_and_plain_searches_stay() {
        // A denial and a non-job answer are never changed by wording.
        assert_eq!(
            settle(Intent::TrustViolation, "kill my boss at my company"),
            Intent::TrustViolation
        );
        assert_eq!(
            settle(Intent::NonJob, "how to ask for a raise at my company"),
            Intent::NonJob
        );
        for query in [
            "nurse jobs in naples",
            "mechanic near mesa az",
            "my first job as a teacher",
            "company like google",
            "mermaid jobs",
        ] {
            assert_eq!(
                settle(Intent::CriteriaSearch, query),
                Intent::CriteriaSearch,
                "{query}"
            );
        }
    }
}
