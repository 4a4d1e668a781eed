//! The rewriter's rules around the model: when it runs, what a rewrite
//! must be to replace the query, and which of the member's data a query
//! asks for.
//!
//! A phrase such as "near me" or "using my skills" can only mean one part
//! of the profile. The rewrite grammar ([`crate::decode::RewriteShape`])
//! requires that part's value, so a small model that drops a skill or
//! forgets the place cannot: it still chooses the wording and the order.

use crate::contract::{Input, Profile, MAX_QUERY_BYTES};
use crate::text::{find_phrase, words};

/// Self-reference with no profile keeps the query as it is (spec).
pub fn needs_model(input: &Input) -> bool {
    input.profile.is_some()
}

/// A rewrite becomes the tagger's input, so it obeys the query's limits.
pub fn check(rewrite: &str) -> Result<String, String> {
    let trimmed = rewrite.trim();
    if trimmed.is_empty() {
        return Err("empty rewrite".into());
    }
    if trimmed.len() > MAX_QUERY_BYTES {
        return Err(format!("rewrite longer than {MAX_QUERY_BYTES} bytes"));
    }
    Ok(trimmed.to_string())
}

/// The part of the profile a self-reference phrase stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cited {
    /// The member's place, whole.
    Place,
    /// The region of the member's place ("in my state").
    Region,
    /// The country of the member's place ("in my country").
    Country,
    Company,
    Industry,
    /// The member's role: "like mine", "my line of work", "my resume".
    Title,
    Skills,
    Education,
    /// The member's level alone ("at my level"): a seniority word, no
    /// value to require.
    Level,
}

/// Phrases that can only mean the member's own data, in the languages
/// Quarry reads (matched on whole lower-cased words), and what each cites.
const CUES: &[(&str, Cited)] = {
    use Cited::*;
    &[
        // The member's place.
        ("near me", Place),
        ("close to me", Place),
        ("close to home", Place),
        ("near my home", Place),
        ("near my house", Place),
        ("near where i live", Place),
        ("around me", Place),
        ("in my area", Place),
        ("in my city", Place),
        ("in my town", Place),
        ("in my hometown", Place),
        ("in my neighborhood", Place),
        ("in my neighbourhood", Place),
        ("my neck of the woods", Place),
        ("within commuting distance", Place),
        ("in my state", Region),
        ("in my province", Region),
        ("in my region", Region),
        ("in my country", Country),
        // The member's employer.
        ("at my company", Company),
        ("at my current company", Company),
        ("at my employer", Company),
        ("at my current employer", Company),
        ("with my current employer", Company),
        ("at my firm", Company),
        ("at my current firm", Company),
        ("at my organization", Company),
        ("at my workplace", Company),
        ("at my university", Company),
        ("at my school", Company),
        ("at my college", Company),
        ("at my agency", Company),
        ("at my hospital", Company),
        ("the company i work for", Company),
        // The member's field, role, level, skills, education and profile.
        ("in my industry", Industry),
        ("in my field", Industry),
        ("in my sector", Industry),
        ("in my current industry", Industry),
        ("in my area of expertise", Industry),
        ("in my domain", Industry),
        ("related to my field", Industry),
        ("related to my industry", Industry),
        ("in my line of business", Industry),
        ("within my industry", Industry),
        ("in my professional field", Industry),
        ("in the industry i work in", Industry),
        ("in the sector i work in", Industry),
        ("in the field i work in", Industry),
        ("in my line of work", Title),
        ("in my profession", Title),
        ("in my trade", Title),
        ("in my occupation", Title),
        ("with my job title", Title),
        ("matching my job title", Title),
        ("match my current title", Title),
        ("like my current one", Title),
        ("like my current position", Title),
        ("close to my current role", Title),
        ("like mine", Title),
        ("similar to mine", Title),
        ("like my current job", Title),
        ("like my current role", Title),
        ("similar to my current role", Title),
        ("similar to my current position", Title),
        ("what i do now", Title),
        ("at my level", Level),
        ("match my profile", Title),
        ("matching my profile", Title),
        ("fit my profile", Title),
        ("match my resume", Title),
        ("match my cv", Title),
        ("matching my cv", Title),
        ("matching my resume", Title),
        ("use my skills", Skills),
        ("using my skills", Skills),
        ("matching my skills", Skills),
        ("match my skills", Skills),
        ("my skill set", Skills),
        ("my skillset", Skills),
        ("need my skills", Skills),
        ("requiring my skills", Skills),
        ("for my skills", Skills),
        ("based on my skills", Skills),
        ("match my qualifications", Title),
        ("my degree", Education),
        ("my education", Education),
        ("my qualifications", Education),
        ("my qualification", Education),
        ("my diploma", Education),
        // Spanish, Portuguese, French, German, Italian, Hinglish.
        ("cerca de mí", Place),
        ("cerca de mi casa", Place),
        ("en mi ciudad", Place),
        ("en mi zona", Place),
        ("en mi país", Country),
        ("en mi empresa", Company),
        ("perto de mim", Place),
        ("perto de casa", Place),
        ("na minha cidade", Place),
        ("na minha região", Region),
        ("na minha empresa", Company),
        ("près de chez moi", Place),
        ("près de moi", Place),
        ("dans ma ville", Place),
        ("dans ma région", Region),
        ("dans mon entreprise", Company),
        ("in meiner nähe", Place),
        ("in meiner stadt", Place),
        ("in meiner region", Region),
        ("in meiner umgebung", Place),
        ("in meiner firma", Company),
        ("wie meine", Title),
        ("vicino a me", Place),
        ("vicino a casa", Place),
        ("nella mia città", Place),
        ("nella mia zona", Place),
        ("nella mia azienda", Company),
        ("mere area", Place),
        ("mere shehar", Place),
        ("mere city", Place),
        ("apne area", Place),
        ("apne shehar", Place),
    ]
};

/// Words a rewrite may drop besides the self-reference phrases: the
/// member's pronouns and the connectives and hedges around a
/// self-reference ("something like what I do now, but", "a step up from
/// my current role", "jobs that fit my experience"), in the languages
/// Quarry reads. Every other word of the query is the member's own
/// criterion ("full time", "contador", "with less than 10 applicants"),
/// and a rewrite keeps it.
#[rustfmt::skip]
const DROPPABLE: &[&str] = &[
    // English.
    "i", "im", "ive", "me", "my", "mine", "myself", "we", "our", "us", "someone", "somebody",
    "something", "anything", "anywhere", "like", "similar", "same", "as", "that", "which", "who",
    "where", "what", "whats", "but", "also", "just", "other", "another", "from", "with", "to",
    "for", "in", "at", "on", "of", "the", "a", "an", "and", "or", "current", "currently", "now",
    "do", "does", "work", "working", "worked", "have", "has", "am", "is", "are", "be", "been",
    "suited", "suit", "fit", "fits", "fitting", "match", "matches", "matching", "use", "uses",
    "using", "need", "needs", "requiring", "based", "step", "up", "level", "background",
    "experience", "years", "profile", "resume", "cv", "skill", "skills", "set", "qualification",
    "qualifications", "degree", "education", "line", "field", "area", "here", "around", "near",
    "close", "home", "show", "find", "get", "give", "want", "looking", "look", "search", "please",
    "can", "could",
    // Spanish, Portuguese, French, German, Italian, Hinglish.
    "mi", "mí", "mis", "yo", "que", "como", "de", "en", "para", "con", "cerca", "casa", "meu",
    "minha", "meus", "minhas", "eu", "perto", "mim", "moi", "mon", "ma", "mes", "je", "près",
    "chez", "comme", "dans", "ich", "mein", "meine", "meiner", "meinem", "meinen", "wie", "als",
    "nähe", "io", "mio", "mia", "miei", "mie", "vicino", "per", "mere", "meri", "mera", "apne",
    "apni", "apna", "mujhe", "main", "ki", "ka", "ke",
    // Hedges and ambitions around a self-reference ("a promotion from my
    // current position", "roles that leverage my skills, ideally").
    "leverage", "utilize", "utilise", "suitable", "suits", "qualify", "ideal", "perfect", "right",
    "above", "next", "promotion", "higher", "only", "ideally", "preferably", "hopefully", "if",
    "possible", "though", "maybe",
    // Words of the wider self-reference phrases people write ("at the
    // bank I work at", "in my vicinity", "nahe meinem Wohnort", "jobs a
    // person with my kind of background would be good at").
    "agency", "any", "apply", "autour", "bank", "banking", "best", "business", "by", "cidade",
    "città", "city", "ciudad", "coin", "college", "commuting", "company", "construction",
    "country", "counts", "der", "diploma", "distance", "doing", "domain", "donde", "driving", "em",
    "employer", "engineering", "expertise", "finance", "firm", "good", "government", "healthcare",
    "hometown", "hospital", "house", "industry", "inside", "it", "job", "jobs", "kind", "lab",
    "linkedin", "live", "local", "locally", "location", "marketing", "mir", "more", "na", "nahe",
    "nearby", "neighborhood", "nella", "nursing", "occupation", "office", "one", "organization",
    "people", "person", "place", "por", "position", "profession", "professional", "province",
    "qualified", "recommended", "region", "região", "related", "relevant", "research",
    "restaurant", "retail", "role", "sales", "school", "sector", "seniority", "shehar", "sheher",
    "should", "startup", "state", "store", "suggest", "tailored", "teaching", "tech", "title",
    "town", "umgebung", "university", "vicinity", "ville", "vivo", "von", "warehouse", "within",
    "wohnort", "workplace", "would", "zona", "à",
];

/// Which of `words` (a query split at whitespace) a rewrite must keep:
/// every word but those inside a self-reference phrase of [`CUES`], the
/// [`DROPPABLE`] ones, and words of the profile's values (a value may
/// replace them: "chef jobs" → "Sous Chef jobs"). A small model that
/// loses its way otherwise skips the query's own criteria and writes glue
/// in their place.
pub fn kept_words(words_of_query: &[String], profile: &Profile) -> Vec<bool> {
    let in_profile: Vec<String> = profile.values().flat_map(words).collect();
    let droppable = |p: &String| DROPPABLE.contains(&p.as_str()) || in_profile.contains(p);
    let mut normalized: Vec<String> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    let mut keep: Vec<bool> = Vec::with_capacity(words_of_query.len());
    for (at, word) in words_of_query.iter().enumerate() {
        let parts = words(word);
        keep.push(!parts.is_empty() && !parts.iter().all(droppable));
        owner.extend(std::iter::repeat_n(at, parts.len()));
        normalized.extend(parts);
    }
    for &(phrase, _) in CUES {
        let length = phrase.split(' ').count();
        let mut from = 0;
        while let Some(at) = find_phrase(&normalized[from..], phrase) {
            for &word in &owner[from + at..from + at + length] {
                keep[word] = false;
            }
            from += at + 1;
        }
    }
    keep
}

/// What the query's self-reference phrases cite: the member's role first,
/// then the rest in the order the query names them. (A rewrite may cite
/// them in any order; this order decides which are required when there
/// are more than the grammar takes.) A phrase
/// inside a longer one counts as the longer one: "in my area of expertise"
/// is a field, not "in my area".
pub fn cues(query: &str) -> Vec<Cited> {
    let words = words(query);
    let matches: Vec<(usize, usize, Cited)> = CUES
        .iter()
        .filter_map(|&(phrase, what)| {
            find_phrase(&words, phrase).map(|at| (at, phrase.split(' ').count(), what))
        })
        .collect();
    let inside = |&(at, len, _): &(usize, usize, Cited)| {
        matches
            .iter()
            .any(|&(a, l, _)| l > len && a <= at && at + len <= a + l)
    };
    let mut found: Vec<(bool, usize, Cited)> = Vec::new();
    for m in matches.iter().filter(|m| !inside(m)) {
        let (at, _, what) = *m;
        if !found.iter().any(|&(_, _, w)| w == what) {
            found.push((!matches!(what, Cited::Title | Cited::Level), at, what));
        }
    }
    found.sort_by_key(|&(later, at, _)| (later, at));
    found.into_iter().map(|(_, _, what)| what).collect()
}

/// The profile values a rewrite of `query` must contain: one group per
/// part of the profile its phrases cite and the profile holds (skills in
/// the profile's order), in the order of [`cues`].
pub fn cited_values(query: &str, profile: &Profile) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    for cited in cues(query) {
        // "near me in my country": the place already names the country.
        let group: Vec<String> = values_of(cited, profile)
            .into_iter()
            .filter(|value| !groups.iter().flatten().any(|v| v.contains(value.as_str())))
            .collect();
        if !group.is_empty() {
            groups.push(group);
        }
    }
    groups
}

/// The profile's values for one part of it (none when it lacks that part;
/// a region only for a three-part place, a country for two or more).
pub fn values_of(cited: Cited, profile: &Profile) -> Vec<String> {
    let place: Vec<&str> = profile
        .location
        .as_deref()
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    match cited {
        Cited::Place => profile.location.iter().cloned().collect(),
        // A place without a region or a country has none to cite.
        Cited::Region => match place.as_slice() {
            [_, region, _] => vec![region.to_string()],
            _ => Vec::new(),
        },
        Cited::Country => match place.as_slice() {
            [_, .., country] => vec![country.to_string()],
            _ => Vec::new(),
        },
        Cited::Company => profile.company.iter().cloned().collect(),
        Cited::Industry => profile.industry.iter().cloned().collect(),
        Cited::Title => profile.title.iter().cloned().collect(),
        Cited::Skills => profile.skills.clone(),
        Cited::Education => profile.education.iter().cloned().collect(),
        Cited::Level => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> Profile {
        Profile {
            title: Some("Site Reliability Engineer".into()),
            location: Some("Noida, Uttar Pradesh, India".into()),
            skills: vec!["Kubernetes".into(), "Terraform".into()],
            education: Some("BTech Computer Science".into()),
            ..Profile::default()
        }
    }

    #[test]
    fn a_rewrite_keeps_the_queries_own_criteria() {
        let kept = |query: &str| {
            let split: Vec<String> = query.split_whitespace().map(str::to_string).collect();
            let keep = kept_words(&split, &member());
            split
                .into_iter()
                .zip(keep)
                .filter(|(_, keep)| *keep)
                .map(|(word, _)| word)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            kept("full time jobs using my skills in my town"),
            "full time"
        );
        assert_eq!(
            kept("jobs that match my resume with less than 10 applicants"),
            "less than 10 applicants"
        );
        assert_eq!(
            kept("empleos de contador cerca de mi casa"),
            "empleos contador"
        );
        // A word of the member's own title may give way to the title.
        assert_eq!(kept("engineer roles at my level, remote"), "roles remote");
        assert_eq!(
            kept("something like what I do now, but in Toronto"),
            "Toronto"
        );
    }

    #[test]
    fn phrases_cite_the_profile_values_they_mean() {
        let profile = member();
        assert_eq!(
            cited_values("jobs that use my skills near me", &profile),
            [
                vec!["Kubernetes", "Terraform"],
                vec!["Noida, Uttar Pradesh, India"]
            ]
        );
        assert_eq!(
            cited_values("devops jobs in my state", &profile),
            [["Uttar Pradesh"]]
        );
        assert_eq!(
            cited_values("jobs for my degree, like mine", &profile),
            [["Site Reliability Engineer"], ["BTech Computer Science"]]
        );
        assert_eq!(
            cited_values("jobs near me using my skills", &profile),
            [
                vec!["Noida, Uttar Pradesh, India"],
                vec!["Kubernetes", "Terraform"]
            ]
        );
        assert_eq!(cited_values("vagas perto de mim", &profile).len(), 1);
        // What the profile lacks is not required, and a plain query cites
        // nothing.
        assert!(cited_values("jobs at my company", &profile).is_empty());
        assert!(cited_values("sre jobs in noida", &profile).is_empty());
        assert!(cited_values("roles at my level", &profile).is_empty());
        // The longer phrase wins.
        assert!(cited_values("jobs in my area of expertise", &profile).is_empty());
        assert_eq!(
            cited_values("jobs that match my qualifications", &profile),
            [["Site Reliability Engineer"]]
        );
    }
}
