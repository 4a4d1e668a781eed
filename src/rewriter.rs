//! The rewriter's rules around the model: when it runs, what a rewrite
//! must be to replace the query, and which of the member's data a query
//! asks for.
//!
//! A phrase such as "near me" or "using my skills" can only mean one part
//! of the profile. The rewrite grammar ([`crate::decode::RewriteShape`])
//! requires that part's value, so a small model that drops a skill or
//! forgets the place cannot: it still chooses the wording and the order.

use crate::contract::{Input, Profile, Seniority, ToolName, MAX_QUERY_BYTES};
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
    /// The member's role: "like mine", "my line of work".
    Title,
    /// The member's role, and place unless the query names where or with
    /// whom: "jobs that match my resume" → "Data Engineer jobs in Noida, …"
    /// (as the training data writes it).
    Profile,
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
        ("around here", Place),
        ("near here", Place),
        ("near home", Place),
        ("local to me", Place),
        ("close to where i live", Place),
        ("within driving distance", Place),
        ("in my location", Place),
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
        ("at my current job", Company),
        ("at my organization", Company),
        ("at my workplace", Company),
        ("at my university", Company),
        ("at my school", Company),
        ("at my college", Company),
        ("at my agency", Company),
        ("at my bank", Company),
        ("at my store", Company),
        ("at my restaurant", Company),
        ("at my hotel", Company),
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
        ("at my seniority", Level),
        ("at my seniority level", Level),
        ("same seniority as me", Level),
        ("same level as me", Level),
        ("match my profile", Profile),
        ("matching my profile", Profile),
        ("fit my profile", Profile),
        ("match my resume", Profile),
        ("match my cv", Profile),
        ("matching my cv", Profile),
        ("matching my resume", Profile),
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
        ("my skills", Skills),
        ("like my current gig", Title),
        ("match my qualifications", Title),
        ("my background", Title),
        ("my experience", Title),
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
        ("como el mío", Title),
        ("como la mía", Title),
        ("parecidos al mío", Title),
        ("similares al mío", Title),
        ("en mi profesión", Title),
        ("en mi sector", Industry),
        ("de mi sector", Industry),
        ("en mi industria", Industry),
        ("en mi campo", Industry),
        ("en mi área", Industry),
        ("en mi rubro", Industry),
        ("mis habilidades", Skills),
        ("mis competencias", Skills),
        ("mi carrera", Education),
        ("mi título", Education),
        ("mis estudios", Education),
        ("en mi región", Region),
        ("en mi provincia", Region),
        ("en mi estado", Region),
        ("según mi perfil", Profile),
        ("para mi perfil", Profile),
        ("a mi nivel", Level),
        ("como a minha", Title),
        ("como o meu", Title),
        ("parecidas com a minha", Title),
        ("na minha profissão", Title),
        ("na minha área", Industry),
        ("no meu setor", Industry),
        ("minhas habilidades", Skills),
        ("minha formação", Education),
        ("no meu estado", Region),
        ("para o meu perfil", Profile),
        ("pro meu perfil", Profile),
        ("no meu nível", Level),
        ("comme le mien", Title),
        ("comme la mienne", Title),
        ("dans mon métier", Title),
        ("dans mon domaine", Industry),
        ("dans mon secteur", Industry),
        ("mes compétences", Skills),
        ("mon diplôme", Education),
        ("ma formation", Education),
        ("dans mon quartier", Place),
        ("dans mon département", Region),
        ("dans ma boîte", Company),
        ("pour mon profil", Profile),
        ("à mon niveau", Level),
        ("wie meiner", Title),
        ("wie meinen", Title),
        ("wie meinem", Title),
        ("in meiner branche", Industry),
        ("in meinem bereich", Industry),
        ("in meinem fachgebiet", Industry),
        ("meine fähigkeiten", Skills),
        ("meinen fähigkeiten", Skills),
        ("meinem abschluss", Education),
        ("meiner ausbildung", Education),
        ("in meinem bundesland", Region),
        ("in meinem unternehmen", Company),
        ("zu meinem profil", Profile),
        ("auf meinem niveau", Level),
        ("simile al mio", Title),
        ("simili al mio", Title),
        ("come il mio", Title),
        ("come la mia", Title),
        ("nel mio settore", Industry),
        ("nel mio campo", Industry),
        ("nel mio ambito", Industry),
        ("mie competenze", Skills),
        ("mia laurea", Education),
        ("nella mia regione", Region),
        ("per il mio profilo", Profile),
        ("al mio livello", Level),
        ("ghar ke paas", Place),
        ("mere paas", Place),
        ("meri profile", Profile),
        ("mere profile", Profile),
        ("meri skills", Skills),
        ("mere skills", Skills),
        ("meri industry", Industry),
        ("mere field", Industry),
        ("meri company", Company),
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
    "possible", "though", "maybe", "open", "out", "there", "available",
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
    let (normalized, owner) = split_words(words_of_query);
    let mut keep: Vec<bool> = words_of_query
        .iter()
        .map(|token| {
            let parts = words(token);
            !parts.is_empty() && !parts.iter().all(droppable)
        })
        .collect();
    for phrase in phrases(&normalized) {
        for &word in &owner[phrase.at..phrase.at + phrase.len] {
            keep[word] = false;
        }
    }
    keep
}

/// The lower-cased words of whitespace-separated tokens, and for each word
/// the token it came from.
fn split_words<T: AsRef<str>>(tokens: &[T]) -> (Vec<String>, Vec<usize>) {
    let mut normalized: Vec<String> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    for (at, token) in tokens.iter().enumerate() {
        let parts = words(token.as_ref());
        owner.extend(std::iter::repeat_n(at, parts.len()));
        normalized.extend(parts);
    }
    (normalized, owner)
}

/// Which of `words` stand inside a self-reference phrase.
fn in_phrases(words: &[String]) -> Vec<bool> {
    phrase_mask(words.len(), &phrases(words))
}

/// Which of `len` words stand inside one of `found`.
fn phrase_mask(len: usize, found: &[Phrase]) -> Vec<bool> {
    let mut inside = vec![false; len];
    for phrase in found {
        inside[phrase.at..phrase.at + phrase.len].fill(true);
    }
    inside
}

/// A self-reference phrase found in a query's words: where it starts, how
/// many words it has, and what it cites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Phrase {
    at: usize,
    len: usize,
    cited: Cited,
    lang: Lang,
}

/// The self-reference phrases in `words`, in the order they start. A
/// phrase inside a longer one counts as the longer one: "in my area of
/// expertise" is a field, not "in my area".
fn phrases(words: &[String]) -> Vec<Phrase> {
    let mut found: Vec<Phrase> = Vec::new();
    for &(phrase, cited) in CUES {
        let len = phrase.split(' ').count();
        let mut from = 0;
        while let Some(at) = find_phrase(&words[from..], phrase) {
            found.push(Phrase {
                at: from + at,
                len,
                cited,
                lang: Lang::of(phrase),
            });
            from += at + 1;
        }
    }
    let inside = |p: &Phrase| {
        found
            .iter()
            .any(|q| q.len > p.len && q.at <= p.at && p.at + p.len <= q.at + q.len)
    };
    let mut outer: Vec<Phrase> = found.iter().copied().filter(|p| !inside(p)).collect();
    outer.sort_by_key(|p| p.at);
    outer
}

/// What the query's self-reference phrases cite: the member's role first,
/// then the rest in the order the query names them. (A rewrite may cite
/// them in any order; this order decides which are required when there
/// are more than the grammar takes.)
pub fn cues(query: &str) -> Vec<Cited> {
    let mut found: Vec<(bool, usize, Cited)> = Vec::new();
    for p in phrases(&words(query)) {
        if !found.iter().any(|&(_, _, w)| w == p.cited) {
            found.push((
                !matches!(p.cited, Cited::Title | Cited::Profile | Cited::Level),
                p.at,
                p.cited,
            ));
        }
    }
    found.sort_by_key(|&(later, at, _)| (later, at));
    found.into_iter().map(|(_, _, what)| what).collect()
}

/// The language of a self-reference phrase, for the words that lead into
/// what it cites ("near me" → "in …", "cerca de mí" → "en …").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    En,
    Es,
    Pt,
    Fr,
    De,
    It,
    Hi,
}

impl Lang {
    /// The language of a phrase from its first word that only one
    /// language uses there (its possessive, mostly): "cerca de mí", "in
    /// meiner Nähe", "mere area mein" (Hinglish before German's "mein").
    fn of(phrase: &str) -> Lang {
        phrase
            .split(' ')
            .find_map(|word| match word {
                "mí" | "mi" | "mis" | "mío" | "mía" | "cerca" => Some(Lang::Es),
                "minha" | "minhas" | "meu" | "meus" | "mim" | "perto" => Some(Lang::Pt),
                "moi" | "mon" | "ma" | "mes" | "mien" | "mienne" | "près" | "chez" => {
                    Some(Lang::Fr)
                }
                "mere" | "meri" | "apne" | "apni" | "ghar" => Some(Lang::Hi),
                "meine" | "meiner" | "meinem" | "meinen" | "mein" | "wie" => Some(Lang::De),
                "mio" | "mia" | "miei" | "mie" | "vicino" | "nella" | "nel" => Some(Lang::It),
                _ => None,
            })
            .unwrap_or(Lang::En)
    }

    /// The word before a cited value, and the one before a list's last item.
    fn lead(self, cited: Cited) -> (&'static str, &'static str) {
        use Cited::*;
        use Lang::*;
        let and = match self {
            En | Hi => "and",
            Es => "y",
            Pt | It => "e",
            Fr => "et",
            De => "und",
        };
        let lead = match (cited, self) {
            // "mere shehar mein …": the phrase's own "mein" follows.
            (_, Hi) => "",
            (Place | Region | Country | Industry, En | De) => "in",
            (Place | Region | Country | Industry, Es) => "en",
            (Place | Region | Country | Industry, Pt) => "em",
            (Place, Fr) => "à",
            (Region | Country | Industry, Fr) => "en",
            (Place, It) => "a",
            (Region | Country | Industry, It) => "in",
            (Company, En) => "at",
            (Company, Es) => "en",
            (Company, Pt) => "na",
            (Company, Fr) => "chez",
            (Company, De) => "bei",
            (Company, It) => "presso",
            (Title | Profile, En) => "for",
            (Title | Profile, Es | Pt | Fr) => "de",
            (Title | Profile, De) => "als",
            (Title | Profile, It) => "come",
            (Skills | Education | Level, En) => "with",
            (Skills | Education | Level, Es | It) => "con",
            (Skills | Education | Level, Pt) => "com",
            (Skills | Education | Level, Fr) => "avec",
            (Skills | Education | Level, De) => "mit",
        };
        (lead, and)
    }
}

/// Words that lead into a self-reference phrase and go with it ("jobs
/// *that* use my skills" → "jobs with Kubernetes and Terraform").
#[rustfmt::skip]
const LEAD_INS: &[&str] = &[
    "in", "at", "with", "for", "that", "which", "who", "to", "using", "use", "uses", "matching",
    "match", "matches", "fit", "fits", "suited", "suit", "requiring", "need", "needs", "leverage",
    "utilize", "like", "similar",
    // Spanish, Portuguese, French, German, Italian ("empleos que usen mis
    // habilidades" → "empleos con SQL y Power BI").
    "que", "usen", "utilicen", "usem", "utilizem", "para", "con", "com", "qui", "utilisent",
    "pour", "avec", "die", "mit", "che", "usano", "utilizzano", "per",
];

/// Words that name no criterion before a query's jobs word ("show me full
/// time jobs").
#[rustfmt::skip]
const OPENERS: &[&str] = &[
    "show", "me", "find", "i", "need", "want", "looking", "for", "any", "some", "more", "other",
    "new", "full", "time", "part", "fulltime", "parttime", "remote", "hybrid", "contract",
    "temporary", "permanent", "please",
];

/// Words for jobs that a role may stand before ("Barista jobs").
#[rustfmt::skip]
const JOBS_WORDS: &[&str] = &[
    "jobs", "job", "roles", "role", "positions", "position", "openings", "opening", "vacancies",
    "opportunities", "gigs", "work",
];

/// The query with each self-reference phrase replaced by what it cites,
/// led in by a word of the phrase's language: "jobs that use my skills
/// near me" → "jobs with Kubernetes and Terraform in Noida, Uttar Pradesh,
/// India". `None` when the query has no such phrase, or the profile lacks
/// what one cites.
pub fn substitute(query: &str, profile: &Profile) -> Option<String> {
    let tokens: Vec<&str> = query.split_whitespace().collect();
    let (normalized, owner) = split_words(&tokens);
    let found = phrases(&normalized);
    if found.is_empty() {
        return None;
    }
    let says = says(query);
    // Each token is either kept, dropped, or replaced by a phrase's values.
    let mut replaced: Vec<Option<String>> = tokens.iter().map(|t| Some(t.to_string())).collect();
    // The member's role goes before a jobs word that opens the query, as
    // the training data writes it ("full time jobs using my skills" →
    // "full time Barista jobs with …"); else a role phrase leads it in.
    let is = |list: &[&str], token: &str| {
        let parts = words(token);
        !parts.is_empty() && parts.iter().all(|w| list.contains(&w.as_str()))
    };
    let mut role_slot = tokens
        .iter()
        .position(|t| !is(OPENERS, t))
        .filter(|&at| is(JOBS_WORDS, tokens[at]));
    let mut cited_so_far: Vec<String> = Vec::new();
    let mut end_of_last = 0;
    for phrase in found {
        let first = owner[phrase.at];
        let last = owner[phrase.at + phrase.len - 1];
        if first < end_of_last {
            continue; // overlaps the phrase before it
        }
        let floor = end_of_last;
        end_of_last = last + 1;
        let values = values_cited(phrase.cited, profile, says);
        let text = if phrase.cited == Cited::Level {
            // The level word and, unless the query names a role, the
            // member's role, before the jobs word they qualify: "nyc
            // openings at my level" → "nyc junior Financial Analyst
            // openings", "go developer jobs at my level" → "senior go
            // developer jobs".
            let role = level_prefix(profile)
                .into_iter()
                .map(str::to_string)
                .chain(values)
                .collect::<Vec<_>>()
                .join(" ");
            // The nearest jobs word before the phrase that is still the
            // query's own ("jobs in my field at my level": before the other
            // phrase).
            let own = |at: usize| replaced[at].as_deref() == Some(tokens[at]);
            let jobs_word = (0..first)
                .rev()
                .find(|&at| own(at) && is(JOBS_WORDS, tokens[at]));
            match (role.is_empty(), jobs_word) {
                (true, _) => format!("at {} level", level_words(profile.seniority?)),
                (false, Some(mut at)) => {
                    // The query's own role words go after the level word.
                    while says.own_role && at > 0 && own(at - 1) && !is(OPENERS, tokens[at - 1]) {
                        at -= 1;
                    }
                    replaced[at] = Some(format!("{role} {}", tokens[at]));
                    role_slot = None;
                    String::new()
                }
                (false, None) if first == 0 && phrase.lang == Lang::En => format!("{role} jobs"),
                (false, None) => format!("{} {role}", phrase.lang.lead(Cited::Title).0),
            }
        } else {
            if values.is_empty() {
                return None;
            }
            // "near me in my country": the place already names the country.
            let mut values: Vec<String> = values
                .into_iter()
                .filter(|v| !cited_so_far.iter().any(|c| c.contains(v.as_str())))
                .collect();
            cited_so_far.extend(values.iter().cloned());
            if let (Cited::Title | Cited::Profile | Cited::Skills, Some(title), Some(slot)) =
                (phrase.cited, &profile.title, role_slot)
            {
                if slot < first {
                    replaced[slot] = Some(format!("{title} {}", tokens[slot]));
                    values.retain(|v| v != title);
                    role_slot = None;
                }
            }
            match phrase.cited {
                _ if values.is_empty() => String::new(),
                // The role led in as a role, the place as a place.
                Cited::Profile => values
                    .iter()
                    .map(|v| match profile.title.as_ref() == Some(v) {
                        true => format!("{} {v}", phrase.lang.lead(Cited::Title).0),
                        false => format!("{} {v}", phrase.lang.lead(Cited::Place).0),
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                cited => {
                    let (lead, and) = phrase.lang.lead(cited);
                    let list = match values.as_slice() {
                        [one] => one.clone(),
                        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
                        [] => String::new(),
                    };
                    format!("{lead} {list}").trim().to_string()
                }
            }
        };
        // What stuck to the phrase's last token stays ("around here," → "…,").
        let tail: String = {
            let token = tokens[last];
            let kept = token.trim_end_matches(|c: char| !c.is_alphanumeric());
            token[kept.len()..].to_string()
        };
        for slot in &mut replaced[first..=last] {
            *slot = None;
        }
        let mut lead_in = first;
        while lead_in > floor && is(LEAD_INS, tokens[lead_in - 1]) {
            lead_in -= 1;
            replaced[lead_in] = None;
        }
        if !text.is_empty() {
            replaced[first] = Some(format!("{text}{tail}"));
        } else if let Some(before) = replaced[..first].iter_mut().rev().flatten().next() {
            // Nothing written in the phrase's place: its mark goes to the
            // word before ("positions at my level, remote" → "…positions,
            // remote").
            before.push_str(&tail);
        }
    }
    let rewrite = replaced.into_iter().flatten().collect::<Vec<_>>().join(" ");
    check(&rewrite).ok()
}

/// The word before a role that says the member's level, as the training
/// data writes it ("senior Product Manager"); none for other levels, or
/// when the title already says one ("Lead Engineer", "Creative Director").
fn level_prefix(profile: &Profile) -> Option<&'static str> {
    #[rustfmt::skip]
    const TITLE_LEVELS: &[&str] = &[
        "senior", "sr", "junior", "jr", "lead", "principal", "head", "chief", "director", "vp",
        "intern", "trainee", "graduate", "staff",
    ];
    let title = words(profile.title.as_deref().unwrap_or(""));
    if title.iter().any(|w| TITLE_LEVELS.contains(&w.as_str())) {
        return None;
    }
    match profile.seniority? {
        Seniority::MidSenior => Some("senior"),
        Seniority::EntryLevel => Some("junior"),
        _ => None,
    }
}

/// A seniority as a rewrite writes it ("at senior level").
fn level_words(level: Seniority) -> &'static str {
    match level {
        Seniority::Internship => "internship",
        Seniority::EntryLevel => "entry",
        Seniority::Associate => "associate",
        Seniority::MidSenior => "senior",
        Seniority::Director => "director",
        Seniority::Executive => "executive",
    }
}

/// Whether a model's rewrite has lost its way:
/// - a member's value written twice where the query had it at most once;
/// - more glue than values ("physio roles for with in United Kingdom"),
///   glue being every word that is neither a value's nor one of the
///   query's own (a self-reference phrase's words left behind count:
///   "in the woods");
/// - or one of the query's criteria gone ("welder jobs anywhere in my
///   country" → "anywhere in United Kingdom"): a query word that is not
///   [`DROPPABLE`], not in a phrase, and not a word of a value written.
pub fn babbles(rewrite: &str, query: &str, profile: &Profile) -> bool {
    let query_words = words(query);
    let in_phrase = in_phrases(&query_words);
    let mut left: Vec<Option<String>> = words(rewrite).into_iter().map(Some).collect();
    let mut values: Vec<Vec<String>> = profile
        .values()
        .map(str::to_string)
        .chain(values_of(Cited::Region, profile))
        .chain(values_of(Cited::Country, profile))
        .map(|v| words(&v))
        .filter(|v| !v.is_empty())
        .collect();
    // Longest first, so that a region inside the written place is not
    // counted again.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    let mut inserted = 0;
    let mut value_words: Vec<&String> = Vec::new();
    for value in &values {
        let in_query = query_words
            .windows(value.len())
            .filter(|w| w == value)
            .count();
        let mut written = 0;
        let mut at = 0;
        while at + value.len() <= left.len() {
            let here = left[at..at + value.len()]
                .iter()
                .zip(value)
                .all(|(word, v)| word.as_deref() == Some(v.as_str()));
            if here {
                left[at..at + value.len()].fill(None);
                written += 1;
                at += value.len();
            } else {
                at += 1;
            }
        }
        if written > in_query.max(1) {
            return true;
        }
        if written > 0 {
            value_words.extend(value);
        }
        inserted += written.saturating_sub(in_query);
    }
    let mut unused: Vec<&String> = query_words
        .iter()
        .zip(&in_phrase)
        .filter(|(_, &phrase)| !phrase)
        .map(|(word, _)| word)
        .collect();
    let mut glue = 0;
    for word in left.into_iter().flatten() {
        match unused.iter().position(|q| **q == word) {
            Some(at) => {
                unused.swap_remove(at);
            }
            None => glue += 1,
        }
    }
    let lost = |word: &&String| !DROPPABLE.contains(&word.as_str()) && !value_words.contains(word);
    glue > inserted || unused.iter().any(lost)
}

/// The rewrite to use: the model's, unless it babbles ([`babbles`]) or
/// never finished; then the query with its phrases replaced
/// ([`substitute`]) when that can be built, else none (the query stays as
/// written: a babbling rewrite searches for what the member never asked).
pub fn settle(model: Option<String>, query: &str, profile: &Profile) -> Option<String> {
    match model {
        Some(text) if !babbles(&text, query, profile) => Some(text),
        _ => substitute(query, profile),
    }
}

/// The profile values a rewrite of `query` must contain: one group per
/// part of the profile its phrases cite and the profile holds (skills in
/// the profile's order), in the order of [`cues`].
pub fn cited_values(query: &str, profile: &Profile) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    let says = says(query);
    for cited in cues(query) {
        // "near me in my country": the place already names the country.
        let group: Vec<String> = values_cited(cited, profile, says)
            .into_iter()
            .filter(|value| !groups.iter().flatten().any(|v| v.contains(value.as_str())))
            .collect();
        if !group.is_empty() {
            groups.push(group);
        }
    }
    groups
}

/// What a query says besides its self-reference phrases, which decides
/// what some phrases cite.
#[derive(Debug, Clone, Copy)]
struct Says {
    /// Where or with whom ("… in lisbon", "… at google"): a profile phrase
    /// then cites the member's role alone.
    place: bool,
    /// A role of its own ("go developer jobs at my level": a known title).
    own_role: bool,
    /// A role of its own or a phrase for the member's role or field: a
    /// level phrase then cites the level alone, else the member's role with
    /// it ("roles at my level" → "senior Product Manager roles", as the
    /// training data writes it).
    role: bool,
}

fn says(query: &str) -> Says {
    let words = words(query);
    let found = phrases(&words);
    let inside = phrase_mask(words.len(), &found);
    let outside: Vec<&str> = words
        .iter()
        .zip(&inside)
        .filter(|(_, &phrase)| !phrase)
        .map(|(w, _)| w.as_str())
        .collect();
    let hints = crate::lexicon::annotate(&outside.join(" "));
    // Words before a jobs word name a role unless a list knows them as
    // something else: "go developer jobs" does, "nyc openings" does not.
    let known_otherwise: Vec<String> = hints
        .iter()
        .filter(|hint| hint.tool != ToolName::Title)
        .flat_map(|hint| crate::text::words(&hint.span))
        .collect();
    let names_role_before = |at: usize| {
        words[..at]
            .iter()
            .zip(&inside)
            .rev()
            .take_while(|(w, &phrase)| {
                !phrase && !OPENERS.contains(&w.as_str()) && !JOBS_WORDS.contains(&w.as_str())
            })
            .any(|(w, _)| !known_otherwise.contains(w))
    };
    let own_role = hints.iter().any(|hint| hint.tool == ToolName::Title)
        || (0..words.len()).any(|at| {
            !inside[at] && JOBS_WORDS.contains(&words[at].as_str()) && names_role_before(at)
        });
    let cited_role = found.iter().any(|p| {
        matches!(
            p.cited,
            Cited::Title | Cited::Profile | Cited::Industry | Cited::Skills
        )
    });
    Says {
        place: outside
            .iter()
            .any(|w| matches!(*w, "in" | "near" | "around" | "at")),
        own_role,
        role: own_role || cited_role,
    }
}

/// What a phrase of the query cites: [`values_of`], with a profile
/// phrase's place only when the query does not say where, and a level
/// phrase's role only when the query names none.
fn values_cited(cited: Cited, profile: &Profile, says: Says) -> Vec<String> {
    match cited {
        Cited::Profile if says.place => values_of(Cited::Title, profile),
        Cited::Level if !says.role => values_of(Cited::Title, profile),
        cited => values_of(cited, profile),
    }
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
        Cited::Profile => [&profile.title, &profile.location]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
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
    fn substitution_replaces_each_phrase_with_what_it_cites() {
        let profile = Profile {
            seniority: Some(Seniority::MidSenior),
            industry: Some("Information Technology".into()),
            ..member()
        };
        let sub = |query: &str| substitute(query, &profile);
        assert_eq!(
            sub("jobs that use my skills near me, posted today").as_deref(),
            Some("Site Reliability Engineer jobs with Kubernetes and Terraform in Noida, Uttar Pradesh, India, posted today")
        );
        assert_eq!(
            sub("full time roles similar to mine but in pune").as_deref(),
            Some("full time Site Reliability Engineer roles but in pune")
        );
        // The query's own role stays; the skills join it.
        assert_eq!(
            sub("devops openings that use my skills").as_deref(),
            Some("devops openings with Kubernetes and Terraform")
        );
        assert_eq!(
            sub("what's open in my line of work in chicago").as_deref(),
            Some("what's open for Site Reliability Engineer in chicago")
        );
        assert_eq!(
            sub("mere shehar mein data engineer ki naukri chahiye").as_deref(),
            Some("Noida, Uttar Pradesh, India mein data engineer ki naukri chahiye")
        );
        assert_eq!(
            sub("Stellen wie meine in München").as_deref(),
            Some("Stellen als Site Reliability Engineer in München")
        );
        assert_eq!(
            sub("jobs that fit my skills, posted today").as_deref(),
            Some("Site Reliability Engineer jobs with Kubernetes and Terraform, posted today")
        );
        assert_eq!(
            sub("empleos remotos que usen mis habilidades").as_deref(),
            Some("empleos remotos con Kubernetes y Terraform")
        );
        assert_eq!(
            sub("vagas na minha área perto de casa").as_deref(),
            Some("vagas em Information Technology em Noida, Uttar Pradesh, India")
        );
        assert_eq!(
            sub("sre roles anywhere in my state paying 40 lpa").as_deref(),
            Some("sre roles anywhere in Uttar Pradesh paying 40 lpa")
        );
        // A level phrase says the level before the role, and the member's
        // role unless the query names one.
        assert_eq!(
            sub("go developer jobs at my level").as_deref(),
            Some("senior go developer jobs")
        );
        assert_eq!(
            sub("nyc openings at my level").as_deref(),
            Some("nyc senior Site Reliability Engineer openings")
        );
        assert_eq!(
            sub("positions at my level, fully remote").as_deref(),
            Some("senior Site Reliability Engineer positions, fully remote")
        );
        assert_eq!(
            sub("same seniority as me, anywhere in my state").as_deref(),
            Some("senior Site Reliability Engineer jobs, anywhere in Uttar Pradesh")
        );
        // A lead-in that the replacement's own word stands for goes.
        assert_eq!(
            sub("barista jobs in my neck of the woods").as_deref(),
            Some("barista jobs in Noida, Uttar Pradesh, India")
        );
        assert_eq!(
            sub("jobs for someone with my degree").as_deref(),
            Some("jobs for someone with BTech Computer Science")
        );
        assert_eq!(
            sub("jobs that match my resume with less than 10 applicants").as_deref(),
            Some("Site Reliability Engineer jobs in Noida, Uttar Pradesh, India with less than 10 applicants")
        );
        assert_eq!(
            sub("roles that fit my profile in pune").as_deref(),
            Some("Site Reliability Engineer roles in pune")
        );
        // Nothing to replace, or nothing to replace it with.
        assert_eq!(sub("sre jobs in noida"), None);
        assert_eq!(sub("jobs at my company"), None);
    }

    #[test]
    fn a_rewrite_babbles_when_it_repeats_values_or_writes_more_glue_than_values() {
        let profile = member();
        let babble = |rewrite: &str, query: &str| babbles(rewrite, query, &profile);
        assert!(!babble(
            "Site Reliability Engineer jobs with Kubernetes and Terraform in Noida, Uttar Pradesh, India",
            "jobs that use my skills near me"
        ));
        // A region inside the whole place is not a second citation.
        assert!(!babble(
            "sre jobs in Noida, Uttar Pradesh, India",
            "sre jobs in my state"
        ));
        // The query's own word may come back as the member's value.
        assert!(!babble(
            "Site Reliability Engineer roles in Noida, Uttar Pradesh, India",
            "site reliability engineer roles near me"
        ));
        assert!(babble(
            "jobs in Uttar Pradesh over 90k in Uttar Pradesh em in Uttar Pradesh",
            "jobs in my province over 90k"
        ));
        assert!(babble(
            "physio roles for with in India paying over 40k",
            "physio roles anywhere in my country paying over 40k"
        ));
        // A phrase's words left behind are glue; a criterion must stay.
        assert!(babble(
            "barista jobs in Noida, Uttar Pradesh, India in the woods",
            "barista jobs in my neck of the woods"
        ));
        assert!(babble(
            "anywhere in India, contract ok",
            "welder jobs anywhere in my country, contract ok"
        ));
        assert!(!babble(
            "welder jobs anywhere in India, contract ok",
            "welder jobs anywhere in my country, contract ok"
        ));
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
        // Other languages' phrases, in any word order.
        assert_eq!(
            cited_values("trabajos como el mío cerca de mí", &profile),
            [
                ["Site Reliability Engineer"],
                ["Noida, Uttar Pradesh, India"]
            ]
        );
        assert_eq!(
            cited_values("Jobs in meiner Nähe mit meinen Fähigkeiten", &profile),
            [
                vec!["Noida, Uttar Pradesh, India"],
                vec!["Kubernetes", "Terraform"]
            ]
        );
        // What the profile lacks is not required, and a plain query cites
        // nothing.
        assert!(cited_values("jobs at my company", &profile).is_empty());
        assert!(cited_values("sre jobs in noida", &profile).is_empty());
        // A level phrase cites the role when the query names none.
        assert_eq!(
            cited_values("roles at my level", &profile),
            [["Site Reliability Engineer"]]
        );
        assert!(cited_values("go developer roles at my level", &profile).is_empty());
        assert_eq!(
            cues("same seniority as me, anywhere in my region"),
            [Cited::Level, Cited::Region]
        );
        // The longer phrase wins.
        assert!(cited_values("jobs in my area of expertise", &profile).is_empty());
        assert_eq!(
            cited_values("jobs that match my qualifications", &profile),
            [["Site Reliability Engineer"]]
        );
        // A profile phrase cites the role, and the place unless the query
        // says where.
        assert_eq!(
            cited_values("jobs that match my resume, remote", &profile),
            [["Site Reliability Engineer", "Noida, Uttar Pradesh, India"]]
        );
        assert_eq!(
            cited_values("jobs matching my cv in lisbon", &profile),
            [["Site Reliability Engineer"]]
        );
    }
}
