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
    !crate::rewriter::cues(query).is_empty()
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
            "trabajos como el mío cerca de mí",
            "vagas na minha área perto de casa",
            "offerte da remoto nel mio settore",
            "Stellen als Elektroniker in meinem Bundesland",
            "ghar ke paas designer ki naukri chahiye",
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
