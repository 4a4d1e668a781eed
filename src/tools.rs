//! Tool execution: each call the tagger names becomes a structured filter.
//!
//! The model copies text spans; this module turns them into the contract's
//! values, deterministically: a place into a gazetteer entry, "150k euros"
//! into `{min_annual: 150000, currency: "EUR"}`, "not many applicants" into
//! `{max: 10}`, "this week" into a cutoff timestamp. Keeping arithmetic and
//! lookups out of the model is what lets a small model be exact.
//!
//! Tagger arguments, as the wire format carries them (the model writes the
//! one argument as plain text, `title_tool rust engineer`; the parser keys it
//! by [`ToolName::wire_argument`]):
//!
//! | tool | model arguments | contract arguments |

//! | --- | --- | --- |
//! | title / company / industry / location | `{"<key>": span}` | same, plus `resolved` for location and industry |
//! | seniority, workplace_type, employment_type, date_posted | `{"<key>": enum}` | same, date_posted adds `posted_after` (Unix seconds) |
//! | salary | `{"amount": span}` | `{"min_annual": int, "currency": ISO 4217}` |
//! | num_applicants | `{"applicants": span}` | `{"max": int}` |
//! | easy_apply, job_in_network | `{}` | `{}` |

use serde_json::{json, Map, Value};

use crate::contract::{Profile, ToolCall, ToolName};
use crate::taxonomy::{Place, PlaceHints, Taxonomy};

/// The seniority levels, workplace and employment types, and date windows
/// that enum tools accept.
pub const SENIORITY_LEVELS: &[&str] = &[
    "internship",
    "entry_level",
    "associate",
    "mid_senior",
    "director",
    "executive",
];
pub const WORKPLACE_TYPES: &[&str] = &["on_site", "remote", "hybrid"];
pub const EMPLOYMENT_TYPES: &[&str] = &[
    "full_time",
    "part_time",
    "contract",
    "temporary",
    "internship",
    "volunteer",
];
pub const DATE_WINDOWS: &[&str] = &["past_24_hours", "past_week", "past_month"];

/// The values an enum tool's argument takes; `None` for the other tools.
/// The decoder's grammar offers exactly these, and execution accepts them.
pub fn enum_values(tool: ToolName) -> Option<&'static [&'static str]> {
    match tool {
        ToolName::Seniority => Some(SENIORITY_LEVELS),
        ToolName::WorkplaceType => Some(WORKPLACE_TYPES),
        ToolName::EmploymentType => Some(EMPLOYMENT_TYPES),
        ToolName::DatePosted => Some(DATE_WINDOWS),
        _ => None,
    }
}

/// "not many applicants", "low competition": the spec's default cap.
pub const DEFAULT_MAX_APPLICANTS: u64 = 10;

/// Everything tool execution may consult besides the call itself.
#[derive(Debug, Clone)]
pub struct ToolContext<'a> {
    pub taxonomy: &'a Taxonomy,
    /// The member's resolved home, which breaks ties between places.
    pub home: Option<&'a Place>,
    /// Countries the query itself points to (its currency, its language).
    pub query_countries: Vec<&'static str>,
    /// The query (or rewrite) as a whole, for context a span leaves out.
    pub source: &'a str,
    /// Now, in Unix seconds, for `date_posted_tool`'s cutoff.
    pub now_unix: i64,
}

impl<'a> ToolContext<'a> {
    pub fn new(
        taxonomy: &'a Taxonomy,
        profile: Option<&Profile>,
        source: &'a str,
        now_unix: i64,
    ) -> ToolContext<'a> {
        let home = profile
            .and_then(|p| p.location.as_deref())
            .and_then(|loc| taxonomy.gazetteer.resolve(loc, &PlaceHints::default()));
        ToolContext {
            taxonomy,
            home,
            query_countries: query_countries(source),
            source,
            now_unix,
        }
    }
}

/// Is this a place call that is really a word of the job title ("welder"
/// in "pipe welder lyon", "apprentice" in "farrier apprentice")? One word
/// that no place in the gazetteer answers to but that job titles use: the
/// router drops such a call. A place the gazetteer does not know under
/// other words (a small town, a typo) is still a place.
pub fn mistakes_title_for_place(call: &ToolCall, ctx: &ToolContext<'_>) -> bool {
    if call.name != ToolName::Location {
        return false;
    }
    let Some(text) = call.text("location") else {
        return false;
    };
    let words = crate::text::words(text);
    let [word] = words.as_slice() else {
        return false;
    };
    if !ctx.taxonomy.titles.has_word(word) {
        return false;
    }
    ctx.taxonomy.gazetteer.lookup(text).next().is_none()
}

/// Executes one tagger call into the contract's call. An argument that does
/// not fit the tool is an error naming it.
pub fn execute(call: &ToolCall, ctx: &ToolContext<'_>) -> Result<ToolCall, String> {
    let name = call.name;
    let args = &call.arguments;
    let arguments = match name {
        ToolName::Title | ToolName::Company => {
            let key = name.text_argument().unwrap_or_default();
            json!({ key: span(args, key, name)? })
        }
        ToolName::Location => {
            let text = span(args, "location", name)?;
            let hints = PlaceHints {
                home: ctx.home,
                countries: ctx.query_countries.clone(),
            };
            let mut out = json!({ "location": text });
            if let Some(place) = ctx.taxonomy.gazetteer.resolve(text, &hints) {
                out["resolved"] = json!({
                    "name": place.name,
                    "admin1": place.admin1,
                    "country": place.country,
                    "geoname_id": place.geoname_id,
                });
            }
            out
        }
        ToolName::Industry => {
            let text = span(args, "industry", name)?;
            let mut out = json!({ "industry": text });
            if let Some(industry) = ctx.taxonomy.industries.resolve(text) {
                out["resolved"] = json!({ "code": industry.code, "name": industry.name });
            }
            out
        }
        ToolName::Seniority => json!({ "level": choice(args, "level", name)? }),
        ToolName::WorkplaceType => json!({ "type": choice(args, "type", name)? }),
        ToolName::EmploymentType => {
            json!({ "type": choice(args, "type", name)? })
        }
        ToolName::DatePosted => {
            let within = choice(args, "within", name)?;
            let seconds = match within {
                "past_24_hours" => 86_400,
                "past_week" => 7 * 86_400,
                _ => 30 * 86_400,
            };
            json!({ "within": within, "posted_after": ctx.now_unix - seconds })
        }
        ToolName::EasyApply | ToolName::JobInNetwork => {
            if let Some(key) = args.keys().next() {
                return Err(format!("{} takes no arguments, got `{key}`", name.as_str()));
            }
            json!({})
        }
        ToolName::NumApplicants => {
            let max = match args.get("max").and_then(Value::as_u64) {
                Some(max) => max,
                None => {
                    let text = span(args, "applicants", name)?;
                    first_integer(text).unwrap_or(DEFAULT_MAX_APPLICANTS)
                }
            };
            json!({ "max": max })
        }
        ToolName::Salary => {
            let text = span(args, "amount", name)?;
            let salary =
                parse_salary(text).ok_or_else(|| format!("no amount in salary text `{text}`"))?;
            let currency = salary
                .currency
                .or_else(|| currency_in(ctx.source))
                .or_else(|| {
                    ctx.home
                        .and_then(|h| ctx.taxonomy.currency_of(&h.country_code))
                })
                .unwrap_or("USD");
            json!({ "min_annual": salary.min_annual, "currency": currency })
        }
    };
    Ok(ToolCall::new(name, arguments))
}

fn span<'v>(args: &'v Map<String, Value>, key: &str, tool: ToolName) -> Result<&'v str, String> {
    if let Some(extra) = args.keys().find(|k| *k != key) {
        return Err(format!("{} has unknown argument `{extra}`", tool.as_str()));
    }
    match args.get(key).and_then(Value::as_str).map(str::trim) {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(format!("{} needs a non-empty `{key}`", tool.as_str())),
    }
}

fn choice<'v>(args: &'v Map<String, Value>, key: &str, tool: ToolName) -> Result<&'v str, String> {
    let options = enum_values(tool).unwrap_or_default();
    let value = span(args, key, tool)?;
    if options.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{} `{key}` must be one of {options:?}, got `{value}`",
            tool.as_str()
        ))
    }
}

/// A salary floor read from text like "over 150k", "$80,000+", "60k euros",
/// "£45/hour", "20 lpa".
#[derive(Debug, Clone, PartialEq)]
pub struct Salary {
    pub min_annual: u64,
    pub currency: Option<&'static str>,
}

pub fn parse_salary(text: &str) -> Option<Salary> {
    let lower = text.to_lowercase();
    let (amount, mut rest) = first_amount(&lower)?;
    // In a range ("100-120k", "80 to 90k") the unit after the upper bound
    // applies to the lower one too.
    if let Some(upper) = ["-", "–", "to "]
        .iter()
        .find_map(|sep| rest.trim_start().strip_prefix(sep))
        .map(|upper| upper.trim_start().trim_start_matches(['$', '€', '£', '₹']))
        .filter(|upper| upper.starts_with(|c: char| c.is_ascii_digit()))
    {
        if let Some((_, upper_rest)) = first_amount(upper) {
            rest = upper_rest;
        }
    }
    let words = crate::text::words(rest);
    let word = |w: &str| words.first().map(|f| f == w).unwrap_or(false);
    let mut value = amount;
    // "mil" is a thousand in Spanish and Portuguese ("300 mil pesos") and a
    // million in English slang ("1.5 mil"); no salary floor is 300 million.
    if word("k") || word("thousand") || word("mille") || (word("mil") && value >= 10.0) {
        value *= 1_000.0;
    } else if word("m") || word("million") || word("mil") {
        value *= 1_000_000.0;
    } else if word("lakh") || word("lakhs") || word("lpa") || word("lac") {
        value *= 100_000.0;
    } else if rest.starts_with('k') {
        value *= 1_000.0;
    }
    let period = lower.as_str();
    let hourly = [
        "/h", "an hour", "per hour", "/hour", "hourly", "/hr", "an hr", "per hr",
    ];
    let monthly = ["/month", "a month", "per month", "monthly", "/mo"];
    if hourly.iter().any(|p| period.contains(p)) {
        value *= 2_080.0;
    } else if monthly.iter().any(|p| period.contains(p)) {
        value *= 12.0;
    }
    let currency = currency_in(&lower).or_else(|| {
        ["lakh", "lakhs", "lpa", "lac"]
            .iter()
            .any(|w| crate::text::words(&lower).iter().any(|x| x == w))
            .then_some("INR")
    });
    (value >= 1.0).then(|| Salary {
        min_annual: value.round() as u64,
        currency,
    })
}

/// The first number in `text` ("80,000", "1.5", "70.000") and what follows.
fn first_amount(text: &str) -> Option<(f64, &str)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let tail = &text[start..];
    let mut end = tail
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .unwrap_or(tail.len());
    // "45 000": a space (or a thin space) before exactly three digits groups
    // thousands, as French and others write them.
    while let Some(rest) = tail[end..].strip_prefix([' ', '\u{202f}', '\u{a0}']) {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let boundary = rest[digits..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_digit());
        if digits == 3 && boundary && tail[..end].len() <= 3 {
            end = tail.len() - rest.len() + 3;
        } else {
            break;
        }
    }
    let spaced = tail[..end].replace([' ', '\u{202f}', '\u{a0}'], ",");
    let raw = spaced.trim_end_matches(['.', ',']);
    let rest = &tail[end.min(tail.len())..];
    let rest = if raw.len() < spaced.len() {
        &tail[raw.len()..]
    } else {
        rest
    };
    // "80,000" and "70.000" group thousands; "1.5" is a decimal.
    let grouped = |sep: char| {
        let parts: Vec<&str> = raw.split(sep).collect();
        parts.len() > 1 && parts[1..].iter().all(|p| p.len() == 3)
    };
    let digits: String = if grouped(',') || grouped('.') {
        raw.chars().filter(char::is_ascii_digit).collect()
    } else {
        raw.replace(',', ".")
    };
    digits.parse::<f64>().ok().map(|v| (v, rest))
}

fn first_integer(text: &str) -> Option<u64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Currency words and symbols, most specific first ("c$" before "$").
const CURRENCIES: &[(&str, &str)] = &[
    ("c$", "CAD"),
    ("ca$", "CAD"),
    ("cad", "CAD"),
    ("canadian dollars", "CAD"),
    ("a$", "AUD"),
    ("au$", "AUD"),
    ("aud", "AUD"),
    ("australian dollars", "AUD"),
    ("nz$", "NZD"),
    ("nzd", "NZD"),
    ("s$", "SGD"),
    ("sgd", "SGD"),
    ("€", "EUR"),
    ("eur", "EUR"),
    ("euro", "EUR"),
    ("euros", "EUR"),
    ("£", "GBP"),
    ("gbp", "GBP"),
    ("pounds", "GBP"),
    ("quid", "GBP"),
    ("₹", "INR"),
    ("inr", "INR"),
    ("rupees", "INR"),
    ("rs", "INR"),
    ("chf", "CHF"),
    ("francs", "CHF"),
    ("¥", "JPY"),
    ("yen", "JPY"),
    ("jpy", "JPY"),
    ("sek", "SEK"),
    ("nok", "NOK"),
    ("dkk", "DKK"),
    ("pln", "PLN"),
    ("zł", "PLN"),
    ("r$", "BRL"),
    ("brl", "BRL"),
    ("reais", "BRL"),
    ("mxn", "MXN"),
    ("pesos", "MXN"),
    ("aed", "AED"),
    ("dirhams", "AED"),
    ("zar", "ZAR"),
    ("rand", "ZAR"),
    ("usd", "USD"),
    ("us$", "USD"),
    ("dollars", "USD"),
    ("bucks", "USD"),
    ("$", "USD"),
];

/// The currency a text names, if any.
pub fn currency_in(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    let words = crate::text::words(&lower);
    CURRENCIES.iter().find_map(|(token, code)| {
        let found = if token.chars().all(char::is_alphabetic) {
            crate::text::contains_phrase(&words, token)
                || words.iter().any(|w| {
                    // "60keur", "150k$" glue a number to the currency.
                    w.trim_start_matches(|c: char| c.is_ascii_digit() || c == 'k') == *token
                        && w.starts_with(|c: char| c.is_ascii_digit())
                })
        } else {
            symbol_at_word_start(&lower, token)
        };
        found.then_some(*code)
    })
}

/// A symbol like "c$" counts only where a word starts, so "abc$" is no CAD.
fn symbol_at_word_start(text: &str, symbol: &str) -> bool {
    text.match_indices(symbol).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let letter_symbol = symbol.starts_with(|c: char| c.is_alphabetic());
        !letter_symbol || before.is_none_or(|c| !c.is_alphanumeric())
    })
}

const EUROZONE: &[&str] = &[
    "AT", "BE", "HR", "CY", "EE", "FI", "FR", "DE", "GR", "IE", "IT", "LV", "LT", "LU", "MT", "NL",
    "PT", "SK", "SI", "ES",
];

/// Countries a query points to without naming a place: its currency, or
/// words of a language spoken in few countries ("lavoro" → Italy).
pub fn query_countries(query: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = match currency_in(query) {
        Some("EUR") => EUROZONE.to_vec(),
        Some("GBP") => vec!["GB"],
        Some("INR") => vec!["IN"],
        Some("CAD") => vec!["CA"],
        Some("AUD") => vec!["AU"],
        Some("USD") => vec!["US"],
        _ => Vec::new(),
    };
    const LANGUAGE: &[(&str, &[&str])] = &[
        ("lavoro", &["IT"]),
        ("offerte", &["IT"]),
        ("cercasi", &["IT"]),
        ("stellenangebote", &["DE", "AT", "CH"]),
        ("stelle", &["DE", "AT", "CH"]),
        ("arbeit", &["DE", "AT", "CH"]),
        ("emploi", &["FR", "BE", "CH"]),
        ("offres", &["FR", "BE", "CH"]),
        ("empleo", &["ES", "MX", "AR", "CO", "CL", "PE"]),
        ("trabajo", &["ES", "MX", "AR", "CO", "CL", "PE"]),
        ("vagas", &["BR", "PT"]),
        ("vacatures", &["NL", "BE"]),
    ];
    let words = crate::text::words(query);
    for (word, countries) in LANGUAGE {
        if words.iter().any(|w| w == word) {
            out.extend(
                countries
                    .iter()
                    .filter(|c| !out.contains(c))
                    .collect::<Vec<_>>(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salaries_parse_with_units_periods_and_currencies() {
        let cases = [
            ("over 150k", 150_000, None),
            ("$80,000+", 80_000, Some("USD")),
            ("at least 60k euros", 60_000, Some("EUR")),
            ("€70.000", 70_000, Some("EUR")),
            ("£45/hour", 93_600, Some("GBP")),
            ("20 lpa", 2_000_000, Some("INR")),
            ("1.5 million yen", 1_500_000, Some("JPY")),
            ("100-120k CAD", 100_000, Some("CAD")),
            ("80 to 90k", 80_000, None),
            ("80k-90k", 80_000, None),
            ("5000 a month", 60_000, None),
            ("más de 300 mil pesos", 300_000, Some("MXN")),
            ("1.5 mil", 1_500_000, None),
            ("45 000 €", 45_000, Some("EUR")),
            ("au moins 45 000 euros", 45_000, Some("EUR")),
        ];
        for (text, min_annual, currency) in cases {
            assert_eq!(
                parse_salary(text),
                Some(Salary {
                    min_annual,
                    currency
                }),
                "{text}"
            );
        }
        assert_eq!(parse_salary("well paid"), None);
    }

    #[test]
    fn query_hints_come_from_currency_and_language() {
        assert!(query_countries("naples jobs 60k euros").contains(&"IT"));
        assert_eq!(query_countries("offerte di lavoro napoli"), vec!["IT"]);
        assert!(query_countries("nurse jobs").is_empty());
        // "c$" counts only at a word's start: "abc$" is dollars, not CAD.
        assert_eq!(currency_in("abc$ nurse"), Some("USD"));
    }

    #[test]
    fn a_title_word_is_not_a_place_unless_the_gazetteer_knows_it() {
        let taxonomy = Taxonomy::embedded();
        let source = "pipe welder reading";
        let ctx = ToolContext::new(taxonomy, None, source, 0);
        let place = |text: &str| ToolCall::new(ToolName::Location, json!({ "location": text }));
        assert!(mistakes_title_for_place(&place("welder"), &ctx));
        assert!(mistakes_title_for_place(&place("Apprentice"), &ctx));
        // Reading is a town, Lyon no title's word, and a town the
        // gazetteer lacks under other words stays a place.
        assert!(!mistakes_title_for_place(&place("reading"), &ctx));
        assert!(!mistakes_title_for_place(&place("lyon"), &ctx));
        assert!(!mistakes_title_for_place(&place("Smallville"), &ctx));
        assert!(!mistakes_title_for_place(&place("pipe welder"), &ctx));
        let title = ToolCall::new(ToolName::Title, json!({ "title": "welder" }));
        assert!(!mistakes_title_for_place(&title, &ctx));
    }
}
