//! Trust: a lexical screen that runs before the model, and the rule that a
//! violating query is denied with one exact message.
//!
//! The screen is tuned for precision: it denies only phrases that no job
//! search needs (a request to harm, to discriminate, to break the law), and
//! leaves borderline wording to the model's planner. Legitimate work that
//! sounds dark ("suicide prevention counselor", "firearms instructor",
//! "butcher", "Scunthorpe warehouse jobs") must pass; the tests hold a list.

use rustrict::{Censor, Type};
use serde::{Deserialize, Serialize};

use crate::text::{contains_phrase, words};

/// The spec's violation categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Offensive,
    Violent,
    Discriminatory,
    SelfHarm,
    Illegal,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Offensive,
        Category::Violent,
        Category::Discriminatory,
        Category::SelfHarm,
        Category::Illegal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Offensive => "offensive",
            Category::Violent => "violent",
            Category::Discriminatory => "discriminatory",
            Category::SelfHarm => "self_harm",
            Category::Illegal => "illegal",
        }
    }
}

const SELF_HARM: &[&str] = &[
    "kill myself",
    "killing myself",
    "end my life",
    "ending my life",
    "take my own life",
    "commit suicide",
    "suicide method",
    "suicide methods",
    "ways to die",
    "want to die",
    "hurt myself",
    "harm myself",
    "cut myself",
    "cutting myself",
    "how to overdose",
    "i dont want to live",
    "painless death",
    "hang myself",
    "hanging myself",
    "slit my wrists",
    "jump off a bridge",
    "starve myself",
    "poison myself",
    "drown myself",
    "end it all",
    "better off dead",
    "wish i was dead",
    "wish i were dead",
    "no reason to live",
    "dont want to be alive",
    // The same in the languages Quarry reads.
    "suicidarme",
    "quitarme la vida",
    "me quiero morir",
    "quiero morirme",
    "mich umbringen",
    "will nicht mehr leben",
    "me suicider",
    "envie de mourir",
    "en finir avec la vie",
    "uccidermi",
    "togliermi la vita",
    "voglio morire",
    "me matar",
    "quero morrer",
    "tirar minha vida",
    "khudkushi",
];

const VIOLENT: &[&str] = &[
    "kill people",
    "kill someone",
    "kill a person",
    "kill my",
    "murder someone",
    "murder people",
    "murder my",
    "hitman",
    "hit man",
    "contract killer",
    "contract killing",
    "assassinate",
    "make a bomb",
    "build a bomb",
    "make bombs",
    "pipe bomb",
    "mass shooting",
    "shoot up",
    "shoot people",
    "hurt people",
    "hurt someone",
    "torture people",
    "beat up people",
    "beat people up",
    "terrorist attack",
    "join isis",
    "join a cartel",
    "poison someone",
    "kidnap",
    "kidnapping people",
    "school shooting",
    "stab someone",
    "rape",
    // A former boss as the target, in the languages Quarry reads.
    "matar a mi jefe",
    "golpear a mi jefe",
    "verprügeln",
    "chef umbringen",
    "tuer mon patron",
    "frapper mon patron",
    "uccidere il mio capo",
    "picchiare il mio capo",
    "matar meu chefe",
];

const ILLEGAL: &[&str] = &[
    "sell drugs",
    "selling drugs",
    "deal drugs",
    "dealing drugs",
    "drug dealer",
    "drug dealing",
    "drug mule",
    "smuggle drugs",
    "smuggling drugs",
    "cook meth",
    "cooking meth",
    "make meth",
    "fake passport",
    "fake passports",
    "fake id",
    "fake ids",
    "forge documents",
    "forged documents",
    "forging documents",
    "counterfeit money",
    "print money",
    "launder money",
    "laundering money",
    "traffic humans",
    "trafficking women",
    "trafficking children",
    "smuggle people",
    "smuggling people",
    "sell organs",
    "selling organs",
    "steal credit cards",
    "stealing credit cards",
    "stolen credit cards",
    "hack bank accounts",
    "hacking bank accounts",
    "sell stolen",
    "selling stolen",
    "buy stolen",
    "fence stolen",
    "pickpocket",
    "scam old people",
    "scam elderly",
    "scamming people",
    "ponzi scheme",
    "child labor",
    "child labour",
    "without a work permit cash under the table",
    "sell guns illegally",
    "illegal guns",
    "ghost gun",
    "ransomware gang",
    "phishing scam",
    "pimp",
    "pimping",
];

/// Harm to people: an act of violence aimed at a person.
const VIOLENT_ACTS: &[&str] = &[
    "kill",
    "murder",
    "shoot",
    "stab",
    "poison",
    "strangle",
    "attack",
    "hurt",
    "beat up",
    "assault",
    "kidnap",
    "torture",
    "bomb",
    "blow up",
    "get rid of",
    "punch",
    "choke",
    "revenge on",
];
const PERSONS: &[&str] = &[
    "people",
    "someone",
    "somebody",
    "a person",
    "my boss",
    "my manager",
    "my coworker",
    "my coworkers",
    "my colleague",
    "my colleagues",
    "my ex",
    "my wife",
    "my husband",
    "my family",
    "my neighbor",
    "my neighbour",
    "my landlord",
    "him",
    "her",
    "them",
    "a coworker",
    "coworkers",
    "customers",
    "children",
    "kids",
    "a kid",
    "a child",
    "the office",
    "my office",
    "my school",
    "a school",
    "my workplace",
    // The people a grudge from work aims at.
    "my old boss",
    "my ex boss",
    "my former boss",
    "my old manager",
    "my former manager",
    "my supervisor",
    "my team lead",
    "my former employer",
    "my old employer",
    "my old coworkers",
    "my former coworkers",
    "the recruiter",
    "the interviewer",
    "the hiring manager",
    "the people who fired me",
    "everyone at work",
    "everyone at my old job",
];

/// Crime for gain: an illegal act and what it is done with. Goods that
/// honest jobs sell or move (cars, money, people) stay out of this list.
const ILLEGAL_ACTS: &[&str] = &[
    "sell",
    "selling",
    "buy",
    "buying",
    "smuggle",
    "smuggling",
    "traffic",
    "trafficking",
    "deal",
    "dealing",
    "cook",
    "cooking",
    "move",
    "moving",
    "steal",
    "stealing",
    "launder",
    "laundering",
    "forge",
    "forging",
    "counterfeit",
    "fake",
];
const ILLEGAL_GOODS: &[&str] = &[
    "cocaine",
    "heroin",
    "meth",
    "fentanyl",
    "crack",
    "opioids",
    "drugs",
    "narcotics",
    "weed illegally",
    "stolen goods",
    "stolen cars",
    "identities",
    "credit card numbers",
    "passports",
    "visas",
    "diplomas",
    "documents",
    "weapons illegally",
    "guns illegally",
    "children",
    "kids",
    "organs",
];

/// Violence aimed at a group of people ("kill all immigrants"); shooting
/// stays out, since photo shoots have women's fashion.
const GROUP_VIOLENCE: &[&str] = &[
    "kill",
    "killing",
    "murder",
    "murdering",
    "exterminate",
    "exterminating",
    "slaughter",
    "slaughtering",
    "lynch",
    "lynching",
    "gas",
    "gassing",
    "stab",
    "stabbing",
    "bomb",
    "bombing",
    "hurt",
    "hurting",
    "beat up",
    "deport all",
];
/// Words that may stand between the act and the group.
const GROUP_FILLERS: &[&str] = &["", "all ", "the ", "some ", "those ", "more "];

/// Groups that a discriminatory filter targets.
const GROUPS: &[&str] = &[
    "black",
    "blacks",
    "white",
    "whites",
    "asian",
    "asians",
    "hispanic",
    "hispanics",
    "latino",
    "latinos",
    "latinas",
    "arab",
    "arabs",
    "jew",
    "jews",
    "jewish",
    "muslim",
    "muslims",
    "christian",
    "christians",
    "hindu",
    "hindus",
    "women",
    "woman",
    "men",
    "females",
    "males",
    "gay",
    "gays",
    "gay people",
    "lesbians",
    "trans",
    "transgender",
    "trans people",
    "immigrants",
    "foreigners",
    "mexicans",
    "indians",
    "chinese",
    "africans",
    "old people",
    "older people",
    "old",
    "young",
    "disabled",
    "disabled people",
    "pregnant women",
    "moms",
    "mothers",
    "fat people",
    "minorities",
    "blacks or",
    "colored",
    "young women",
    "young white",
    "white men",
    "white people",
    "black people",
    "asian people",
];

/// Words that put a group out of (or alone in) a workplace.
const EXCLUDING: &[&str] = &[
    "no",
    "without",
    "only",
    "hire only",
    "hiring only",
    "only hire",
    "only hiring",
    "except",
    "refuse to hire",
    "refuses to hire",
    "refusing to hire",
    "dont hire",
    "do not hire",
    "wont hire",
    "not hiring",
    "never hire",
    "avoid",
    "avoids",
    "ban",
    "bans",
    "banning",
    "exclude",
    "excludes",
    "excluding",
    "keep out",
    "free of",
    "get rid of",
    "fire all",
];

/// Words that, right after a group, show it names coworkers or candidates.
const PEOPLE: &[&str] = &[
    "",
    "people",
    "coworkers",
    "co workers",
    "colleagues",
    "applicants",
    "candidates",
    "workers",
    "employees",
    "staff",
    "bosses",
    "managers",
    "allowed",
    "need not apply",
];

/// The lexical screen: `Some(category)` for a query no job search needs.
pub fn screen(query: &str) -> Option<Category> {
    let words = words(query);
    let has = |phrases: &[&str]| phrases.iter().any(|p| contains_phrase(&words, p));
    let pairs = |acts: &[&str], objects: &[&str]| {
        acts.iter().any(|a| {
            objects
                .iter()
                .any(|o| contains_phrase(&words, &format!("{a} {o}")))
        })
    };
    if has(SELF_HARM) {
        return Some(Category::SelfHarm);
    }
    let group_violence = GROUP_VIOLENCE.iter().any(|act| {
        GROUP_FILLERS.iter().any(|filler| {
            GROUPS
                .iter()
                .any(|group| contains_phrase(&words, &format!("{act} {filler}{group}")))
        })
    });
    if has(VIOLENT) || pairs(VIOLENT_ACTS, PERSONS) || group_violence {
        return Some(Category::Violent);
    }
    if is_discriminatory(&words) {
        return Some(Category::Discriminatory);
    }
    if has(ILLEGAL) || pairs(ILLEGAL_ACTS, ILLEGAL_GOODS) {
        return Some(Category::Illegal);
    }
    if is_offensive(query) {
        return Some(Category::Offensive);
    }
    None
}

/// "no black coworkers", "only hiring young women", "without muslims",
/// "whites only", "women need not apply".
fn is_discriminatory(words: &[String]) -> bool {
    GROUPS.iter().any(|group| {
        let exclusions = PEOPLE.iter().any(|people| {
            let target = if people.is_empty() {
                group.to_string()
            } else {
                format!("{group} {people}")
            };
            EXCLUDING
                .iter()
                .any(|lead| contains_phrase(words, &format!("{lead} {target}")))
                // "no women" alone is clear; "only women" needs a people word or
                // the end of the query, so "only women's health clinics" passes.
                && (!people.is_empty() || ends_with_group(words, group))
        });
        exclusions
            || contains_phrase(words, &format!("{group} only"))
            || contains_phrase(words, &format!("{group} need not apply"))
            || contains_phrase(words, &format!("no {group} allowed"))
            || contains_phrase(words, &format!("hate {group}"))
            || [
                "not allowed",
                "are not allowed",
                "arent allowed",
                "not welcome",
                "free workplace",
            ]
            .iter()
            .any(|tail| contains_phrase(words, &format!("{group} {tail}")))
    })
}

fn ends_with_group(words: &[String], group: &str) -> bool {
    let group_words: Vec<&str> = group.split(' ').collect();
    words.len() >= group_words.len()
        && words[words.len() - group_words.len()..]
            .iter()
            .zip(&group_words)
            .all(|(a, b)| a == b)
}

/// Slurs and hateful or sexual abuse, per the `rustrict` lexicon. Profanity
/// alone ("damn good nurse jobs") is not a violation. The lexicon reads
/// windows of up to three words: abuse fits in three, and across a whole
/// sentence its evasion detection joins unrelated words.
fn is_offensive(query: &str) -> bool {
    // A bare number is never abuse, but reads as leetspeak ("de 300").
    let tokens: Vec<&str> = query
        .split_whitespace()
        .filter(|t| t.chars().any(char::is_alphabetic))
        .collect();
    // Whole-query analysis is the more sensitive one and costs one pass;
    // windows only confirm what it finds.
    if !abusive(&tokens.join(" ")) {
        return false;
    }
    (1..=3.min(tokens.len())).any(|size| {
        tokens
            .windows(size)
            .any(|window| abusive(&window.join(" ")))
    })
}

fn abusive(text: &str) -> bool {
    let found = Censor::from_str(text).analyze();
    // "moderately sexual" covers "sex education teacher" and the town of
    // Dickinson, so only severe sexual or mean content counts.
    found.is(Type::OFFENSIVE & Type::MODERATE_OR_HIGHER)
        || found.is((Type::SEXUAL | Type::MEAN) & Type::SEVERE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Work that sounds dark but is legitimate: the screen must pass it.
    pub const TRICKY_CLEAN: &[&str] = &[
        "suicide prevention counselor",
        "firearms instructor",
        "hospice nurse",
        "drug and alcohol counselor",
        "demolition worker",
        "butcher",
        "Scunthorpe warehouse jobs",
        "anti money laundering analyst jobs",
        "human trafficking investigator",
        "bomb disposal technician",
        "crime scene cleaner",
        "slaughterhouse worker night shift",
        "sex education teacher",
        "penetration tester remote",
        "women's health nurse practitioner",
        "jobs for women in tech",
        "black belt karate instructor",
        "young professionals program",
        "homicide detective",
        "gun shop sales associate",
        "addiction therapist",
        "killer whale trainer",
        "execution trader",
        "shooting range officer",
        "hitachi field engineer",
        "christian school teacher",
        "old navy store manager",
        "dickinson nd jobs",
        "cocktail waitress",
        "assassin's creed developer at ubisoft",
        "damn good barista jobs",
        "busco trabajo de contador en ciudad de méxico más de 300 mil pesos",
        "mental health crisis line counselor",
        "poison control specialist",
        "drug safety associate",
        "shoot video editor",
        "people operations manager",
        "sell cars salesperson",
        "cook jobs at a steakhouse",
        "moving company driver",
        "attack surface analyst",
        "photo shoot women's fashion stylist",
        "pest control technician kill bugs",
        "gas station attendant for young people",
        "recruiter jobs that hit my targets",
        "punch press operator",
        "revenge travel agent jobs",
        "jobs reporting to the hiring manager",
        "bridge inspector jobs",
        "matador jobs in spain",
        "chef de cuisine à paris",
        "suicide prevention hotline jobs",
        "jefe de cocina en madrid",
        "capo cantiere milano",
    ];

    #[test]
    fn tricky_clean_queries_pass() {
        let denied: Vec<_> = TRICKY_CLEAN
            .iter()
            .filter_map(|q| screen(q).map(|c| (q, c)))
            .collect();
        assert!(denied.is_empty(), "wrongly denied: {denied:?}");
    }

    #[test]
    fn violations_are_caught_by_category() {
        let cases = [
            ("i want to kill myself", Category::SelfHarm),
            ("best way to end my life", Category::SelfHarm),
            ("hitman jobs", Category::Violent),
            ("how to make a bomb", Category::Violent),
            ("jobs with no black coworkers", Category::Discriminatory),
            ("hiring only young women", Category::Discriminatory),
            ("company without muslims", Category::Discriminatory),
            ("whites only workplace", Category::Discriminatory),
            ("sell drugs for cash", Category::Illegal),
            ("where to buy fake passports", Category::Illegal),
            ("launder money remote gig", Category::Illegal),
            ("i hate jews jobs", Category::Discriminatory),
            (
                "employers that refuse to hire immigrants",
                Category::Discriminatory,
            ),
            (
                "office where gays are not allowed",
                Category::Discriminatory,
            ),
            ("how to poison my boss", Category::Violent),
            ("shoot my coworkers", Category::Violent),
            ("side gig smuggling cocaine", Category::Illegal),
            ("job forging diplomas", Category::Illegal),
            ("kill all immigrants jobs", Category::Violent),
            ("jobs for killing immigrants", Category::Violent),
            ("how to hurt gay people", Category::Violent),
            (
                "i will get revenge on my former employer",
                Category::Violent,
            ),
            ("how do i punch my supervisor", Category::Violent),
            ("stab the recruiter who ghosted me", Category::Violent),
            ("lost my job so i want to end it all", Category::SelfHarm),
            ("how do i hang myself", Category::SelfHarm),
            ("sin trabajo y quiero quitarme la vida", Category::SelfHarm),
            ("ich will mich umbringen", Category::SelfHarm),
            ("je veux en finir avec la vie", Category::SelfHarm),
            ("some days i wish i was dead", Category::SelfHarm),
            ("ich will meinen Ex-Chef verprügeln", Category::Violent),
            ("voy a matar a mi jefe", Category::Violent),
        ];
        for (query, category) in cases {
            assert_eq!(screen(query), Some(category), "{query}");
        }
    }

    #[test]
    fn slurs_are_offensive() {
        for query in [
            "jobs for n1gg3rs",
            "nurse jobs for faggots",
            "retard jobs",
            "fuck you",
        ] {
            assert_eq!(screen(query), Some(Category::Offensive), "{query}");
        }
        assert_eq!(screen("fucking nurse jobs in ohio"), None);
    }
}
