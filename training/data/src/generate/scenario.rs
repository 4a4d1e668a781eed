//! Scenarios: one query (and maybe a profile) with everything the model
//! must say about it: the intent, the rewrite for self-reference, the
//! tagger's model-side calls on its input.

// `*rng.pick(list)` pins `pick`'s type parameter to `&str`; without the
// star inference picks `str` and fails, whatever clippy suggests.
#![allow(clippy::explicit_auto_deref)]

use quarry::trust::{self, Category};
use quarry::{Intent, Profile, Seniority, ToolCall, ToolName};

use super::lists;
use super::part::{assemble, Case, Field, Part, Seg};
use super::pools::{City, Pools, Split};
use crate::rng::Rng;

#[derive(Debug, Clone)]
pub struct Scenario {
    pub query: String,
    pub profile: Option<Profile>,
    pub intent: Intent,
    /// The gold rewrite (self-reference with a profile only).
    pub rewrite: Option<String>,
    /// Model-side calls on [`Scenario::source`], in its order.
    pub calls: Vec<ToolCall>,
    pub category: Option<Category>,
    pub lang: &'static str,
    pub family: &'static str,
}

impl Scenario {
    /// The tagger's input: the rewrite for self-reference, else the query.
    pub fn source(&self) -> &str {
        self.rewrite.as_deref().unwrap_or(&self.query)
    }
}

/// Self-reference phrases: (text, its words kept before the place, glue).
type SelfPhrases = &'static [(&'static str, usize, Option<&'static str>)];

/// Whether a scenario comes with the member's profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WithProfile {
    Never,
    Sometimes(f64),
    Always,
}

pub struct Gen<'p> {
    pub pools: &'p Pools,
    pub split: Split,
}

const TOOL_TITLE: ToolName = ToolName::Title;

fn cap_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn title_case(text: &str) -> String {
    text.split(' ').map(cap_first).collect::<Vec<_>>().join(" ")
}

/// Leading seniority words and the level they mean.
fn leading_level(words: &[String]) -> Option<(usize, &'static str)> {
    let first = words.first()?.as_str();
    let second = words.get(1).map(String::as_str);
    match (first, second) {
        ("entry", Some("level")) | ("new", Some("grad")) => Some((2, "entry_level")),
        ("senior" | "sr" | "sr." | "snr", _) => Some((1, "mid_senior")),
        ("junior" | "jr" | "jr." | "entry-level" | "graduate", _) => Some((1, "entry_level")),
        _ => None,
    }
}

/// What seniority a role's own words carry ("creative director",
/// "head of marketing", "cfo"); "head chef" and "executive assistant" none.
fn inherent_level(words: &[String]) -> Option<&'static str> {
    let has = |w: &str| words.iter().any(|x| x == w);
    if has("director") {
        return Some("director");
    }
    let first = words.first().map(String::as_str).unwrap_or("");
    let exec_abbrev = ["ceo", "cfo", "cto", "coo", "cmo", "cio", "ciso"];
    if first == "chief"
        || has("vp")
        || (has("vice") && has("president"))
        || (first == "head" && words.get(1).map(String::as_str) == Some("of"))
        || (words.len() == 1 && exec_abbrev.contains(&first))
    {
        return Some("executive");
    }
    None
}

/// [`title_part`], or the text as it is when it holds no title words.
pub fn title_or_plain(title: &str) -> Part {
    title_part(title).unwrap_or_else(|| Part::plain(title))
}

/// A role as a part: the title span without seniority words, and the
/// seniority calls the spec asks for, in the order the words appear.
pub fn title_part(title: &str) -> Option<Part> {
    let words: Vec<&str> = title.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let (mut start, pre) = match leading_level(&lower) {
        Some((n, level)) => (n, Some(level)),
        None => (0, None),
    };
    let mut end = words.len();
    let mut trailing: Option<&'static str> = None;
    let mut intern = false;
    match lower.last().map(String::as_str) {
        Some("intern" | "internship" | "internships" | "interns") => {
            intern = true;
            end -= 1;
        }
        Some("junior") if end > start + 1 => {
            trailing = Some("entry_level");
            end -= 1;
        }
        Some("senior") if end > start + 1 => {
            trailing = Some("mid_senior");
            end -= 1;
        }
        _ => {}
    }
    if start > end {
        start = end;
    }
    let core = &lower[start..end];
    let level = inherent_level(core);
    let mut part = Part::new();
    if let Some(level) = pre {
        part = part.tag(ToolName::Seniority, "level", level);
    }
    for w in &words[..start] {
        part = part.word(w);
    }
    if start < end {
        part = part.span(TOOL_TITLE, "title", &words[start..end].join(" "));
    }
    if let Some(level) = level {
        part = part.tag(ToolName::Seniority, "level", level);
    }
    for w in &words[end..] {
        part = part.word(w);
    }
    if let Some(level) = trailing {
        part = part.tag(ToolName::Seniority, "level", level);
    }
    if intern {
        part = part.tag(ToolName::Seniority, "level", "internship").tag(
            ToolName::EmploymentType,
            "type",
            "internship",
        );
    }
    part.has_calls().then_some(part)
}

/// A one-letter slip in a longer word: dropped, doubled or swapped.
pub(super) fn typo(rng: &mut Rng, text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let candidates: Vec<usize> = (0..words.len())
        .filter(|&i| {
            words[i].chars().count() >= 5 && words[i].chars().all(|c| c.is_ascii_alphabetic())
        })
        .collect();
    if candidates.is_empty() {
        return text.to_string();
    }
    let i = *rng.pick(&candidates);
    let mut chars: Vec<char> = words[i].chars().collect();
    let at = rng.range(1, chars.len() - 2);
    match rng.below(3) {
        0 => {
            chars.remove(at);
        }
        1 => chars.insert(at, chars[at]),
        _ => chars.swap(at, at + 1),
    }
    let fixed: String = chars.into_iter().collect();
    words
        .iter()
        .enumerate()
        .map(|(j, w)| if j == i { fixed.as_str() } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

fn plural(title: &str) -> Option<String> {
    let last = title.split(' ').next_back()?;
    if !last.chars().all(|c| c.is_ascii_alphabetic()) || last.len() < 3 {
        return None;
    }
    let lower = last.to_ascii_lowercase();
    let base = &title[..title.len() - last.len()];
    let p = if lower.ends_with('s')
        || lower.ends_with('x')
        || lower.ends_with("sh")
        || lower.ends_with("ch")
    {
        format!("{last}es")
    } else if lower.ends_with('y') && !"aeiou".contains(&lower[lower.len() - 2..lower.len() - 1]) {
        format!("{}ies", &last[..last.len() - 1])
    } else {
        format!("{last}s")
    };
    Some(format!("{base}{p}"))
}

/// Fills `{x}` placeholders of a template with parts (spans move along).
pub(super) fn fill(template: &str, mut slot: impl FnMut(char) -> Part) -> Part {
    let mut out = Part::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out = out.raw(&rest[..open]);
        let name = rest[open + 1..].chars().next().unwrap_or('?');
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .unwrap_or(rest.len() - 1);
        let inner = slot(name);
        out = append_raw(out, &inner);
        rest = &rest[close + 1..];
    }
    out.raw(rest)
}

pub(super) fn append_raw(mut out: Part, inner: &Part) -> Part {
    let offset = out.text.len();
    out.text.push_str(&inner.text);
    for call in &inner.calls {
        let mut call = call.clone();
        if let super::part::Arg::Span(_, r) = &mut call.arg {
            *r = r.start + offset..r.end + offset;
        }
        out.calls.push(call);
    }
    out.jobs_word |= inner.jobs_word;
    out
}

/// Kinds of extra criteria a query may add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    Location,
    Company,
    Industry,
    Salary,
    Workplace,
    Employment,
    Date,
    Applicants,
    EasyApply,
    Network,
    Filler,
}

const SLOTS: &[(f64, Slot)] = &[
    (0.34, Slot::Location),
    (0.10, Slot::Company),
    (0.07, Slot::Industry),
    (0.08, Slot::Salary),
    (0.12, Slot::Workplace),
    (0.10, Slot::Employment),
    (0.07, Slot::Date),
    (0.045, Slot::Applicants),
    (0.045, Slot::EasyApply),
    (0.035, Slot::Network),
    (0.03, Slot::Filler),
];

pub(super) fn draw_slots(rng: &mut Rng, n: usize, exclude: &[Slot]) -> Vec<Slot> {
    let mut out: Vec<Slot> = Vec::new();
    let mut tries = 0;
    while out.len() < n && tries < 50 {
        tries += 1;
        let slot = *rng.pick_weighted(SLOTS);
        if !out.contains(&slot) && !exclude.contains(&slot) {
            out.push(slot);
        }
    }
    out
}

/// How likely a slot is written before the role ("remote PM roles").
fn before_role(slot: Slot) -> f64 {
    match slot {
        Slot::Workplace => 0.35,
        Slot::Employment => 0.3,
        Slot::Industry => 0.25,
        Slot::EasyApply => 0.2,
        Slot::Company => 0.18,
        Slot::Location => 0.12,
        Slot::Date => 0.08,
        _ => 0.03,
    }
}

fn case_style(rng: &mut Rng) -> Case {
    *rng.pick_weighted(&[
        (0.55, Case::Lower),
        (0.28, Case::Natural),
        (0.07, Case::Title),
        (0.08, Case::Sentence),
        (0.02, Case::Upper),
    ])
}

fn seps(rng: &mut Rng, n: usize) -> Vec<String> {
    let style = rng.f64();
    (0..n)
        .map(|_| {
            if style < 0.82 {
                " ".to_string()
            } else if style < 0.95 {
                if rng.chance(0.7) {
                    ", ".to_string()
                } else {
                    " ".to_string()
                }
            } else {
                rng.pick(&[" - ", " | ", " / "]).to_string()
            }
        })
        .collect()
}

/// A finished query: parts re-cased, joined.
struct Query {
    parts: Vec<Part>,
    seps: Vec<String>,
}

impl Query {
    fn finish(parts: Vec<Part>, rng: &mut Rng, allow_seps: bool) -> Query {
        let style = case_style(rng);
        Query::finish_styled(parts, rng, allow_seps, style)
    }

    fn finish_styled(mut parts: Vec<Part>, rng: &mut Rng, allow_seps: bool, style: Case) -> Query {
        parts.retain(|p| !p.text.is_empty());
        for (i, part) in parts.iter_mut().enumerate() {
            part.recase(style, i == 0);
        }
        let seps = if allow_seps {
            seps(rng, parts.len().saturating_sub(1))
        } else {
            vec![" ".to_string(); parts.len().saturating_sub(1)]
        };
        Query { parts, seps }
    }

    fn built(&self) -> super::part::Built {
        assemble(&self.parts, &self.seps)
    }
}

impl<'p> Gen<'p> {
    pub(super) fn side<'a, T: Clone>(&self, parted: &'a super::pools::Parted<T>) -> &'a [T] {
        parted.side(self.split)
    }

    // ----- entities -------------------------------------------------------

    pub fn title(&self, rng: &mut Rng) -> String {
        let p = self.pools;
        match rng.weighted(&[0.58, 0.22, 0.07, 0.04, 0.04, 0.05]) {
            0 => rng.pick(self.side(&p.titles)).to_string(),
            1 => {
                let side = self.side(&p.lexicon_titles);
                side[rng.skewed(side.len(), 2.2)].clone()
            }
            2 => rng.pick(self.side(&p.short_titles)).to_string(),
            3 => rng.pick(self.side(&p.director_titles)).to_string(),
            4 => rng.pick(self.side(&p.executive_titles)).to_string(),
            _ => rng.pick(self.side(&p.tricky_titles)).to_string(),
        }
    }

    /// A plain role (no inherent seniority), for profiles and templates.
    pub(super) fn plain_title(&self, rng: &mut Rng) -> String {
        let p = self.pools;
        if rng.chance(0.7) {
            rng.pick(self.side(&p.titles)).to_string()
        } else {
            let side = self.side(&p.lexicon_titles);
            side[rng.skewed(side.len(), 2.2)].clone()
        }
    }

    pub fn company(&self, rng: &mut Rng) -> String {
        let p = self.pools;
        if rng.chance(0.45) {
            rng.pick(self.side(&p.curated_companies)).to_string()
        } else {
            let side = self.side(&p.companies);
            side[rng.skewed(side.len(), 1.3)].clone()
        }
    }

    pub(super) fn industry(&self, rng: &mut Rng) -> String {
        let (text, _) = rng.pick(&self.pools.industries);
        text.clone()
    }

    pub(super) fn city_text(&self, rng: &mut Rng, city: &City) -> String {
        let r = rng.f64();
        match (&city.region_code, r) {
            (Some(code), r) if r < 0.10 => format!("{} {}", city.name, code),
            (Some(code), r) if r < 0.17 => format!("{}, {}", city.name, code.to_uppercase()),
            (Some(_), r) if r < 0.21 => format!("{}, {}", city.name, city.admin1),
            (Some(_), r) if r < 0.23 => format!("{} {}", city.name, city.admin1),
            _ => city.name.clone(),
        }
    }

    /// A place as typed: city, alias, region, country, ambiguous name...
    pub(super) fn place(&self, rng: &mut Rng) -> String {
        let p = self.pools;
        match rng.weighted(&[0.60, 0.08, 0.08, 0.08, 0.10, 0.02, 0.015]) {
            0 => {
                let city = p.city(rng, self.split).clone();
                self.city_text(rng, &city)
            }
            1 => rng.pick(lists::PLACE_ALIASES).to_string(),
            2 => rng.pick(&p.regions).clone(),
            3 => rng.pick(&p.countries).clone(),
            4 => {
                let readings = rng.pick(&p.ambiguous);
                let city = rng.pick(readings);
                if rng.chance(0.25) {
                    self.city_text(rng, city)
                } else {
                    city.name.clone()
                }
            }
            5 => rng.pick(lists::LOOSE_REGIONS).to_string(),
            _ => rng.pick(&p.tricky_places).to_string(),
        }
    }

    fn salary_text(&self, rng: &mut Rng) -> String {
        let n = 5 * rng.range(6, 50);
        let m = n + 5 * rng.range(2, 8);
        let h = rng.range(15, 90);
        let l = rng.range(3, 40);
        let template = match rng.weighted(&[0.55, 0.1, 0.35]) {
            0 => *rng.pick(lists::SALARY_USD),
            1 => *rng.pick(lists::SALARY_HOURLY),
            _ => rng.pick(lists::SALARY_OTHER).1,
        };
        template
            .replace("{n}", &n.to_string())
            .replace("{m}", &m.to_string())
            .replace("{h}", &h.to_string())
            .replace("{l}", &l.to_string())
    }

    // ----- parts ----------------------------------------------------------

    pub(super) fn location_part(&self, rng: &mut Rng) -> Part {
        let mut place = self.place(rng);
        // People misspell places too; the span is the text as typed.
        if rng.chance(0.03) {
            place = typo(rng, &place);
        }
        let mut part = match rng.weighted(&[0.45, 0.35, 0.08, 0.04, 0.03, 0.03]) {
            0 => Part::plain("in").span(ToolName::Location, "location", &place),
            1 => Part::new().span(ToolName::Location, "location", &place),
            2 => Part::plain("near").span(ToolName::Location, "location", &place),
            3 => Part::plain("around").span(ToolName::Location, "location", &place),
            4 => Part::plain("based in").span(ToolName::Location, "location", &place),
            _ => Part::plain("in the")
                .span(ToolName::Location, "location", &place)
                .word("area"),
        };
        if rng.chance(0.05) {
            let other = self.place(rng);
            if quarry::text::key(&other) != quarry::text::key(&place) {
                part = part.word(*rng.pick(&["or", "or", "and", "/"])).span(
                    ToolName::Location,
                    "location",
                    &other,
                );
            }
        }
        part
    }

    pub(super) fn company_part(&self, rng: &mut Rng) -> Part {
        let mut company = self.company(rng);
        if rng.chance(0.03) {
            company = typo(rng, &company);
        }
        let mut part = match rng.weighted(&[0.5, 0.3, 0.1, 0.1]) {
            0 => Part::plain("at").span(ToolName::Company, "company", &company),
            1 => Part::new().span(ToolName::Company, "company", &company),
            2 => Part::plain("with").span(ToolName::Company, "company", &company),
            _ => Part::plain("for").span(ToolName::Company, "company", &company),
        };
        if rng.chance(0.06) {
            let other = self.company(rng);
            if quarry::text::key(&other) != quarry::text::key(&company) {
                part = part.word("or").span(ToolName::Company, "company", &other);
            }
        }
        part
    }

    fn industry_part(&self, rng: &mut Rng) -> Part {
        let industry = self.industry(rng);
        let span = |p: Part| p.span(ToolName::Industry, "industry", &industry);
        match rng.weighted(&[0.42, 0.25, 0.08, 0.08, 0.04, 0.04, 0.03, 0.03, 0.03]) {
            0 => span(Part::new()),
            1 => span(Part::plain("in")),
            2 => span(Part::plain("in the")).word("industry"),
            3 => span(Part::new()).word("industry"),
            4 => span(Part::plain("in")).word("companies"),
            5 => span(Part::new()).word("companies"),
            6 => span(Part::plain("in the")).word("sector"),
            7 => span(Part::new()).word("startups"),
            _ => span(Part::plain("at")).word("companies"),
        }
    }

    pub(super) fn salary_part(&self, rng: &mut Rng) -> Part {
        let text = self.salary_text(rng);
        let prefix = *rng.pick_weighted(&[
            (0.5, ""),
            (0.15, "paying"),
            (0.1, "salary"),
            (0.05, "with salary"),
            (0.05, "pay"),
            (0.05, "that pay"),
            (0.05, "making"),
            (0.05, "base"),
        ]);
        Part::plain(prefix).span(ToolName::Salary, "amount", &text)
    }

    fn applicants_part(&self, rng: &mut Rng) -> Part {
        let text = if rng.chance(0.4) {
            rng.pick(lists::FEW_APPLICANTS).to_string()
        } else {
            let n = rng.pick(&[5, 10, 10, 10, 15, 20, 25, 30, 50, 100]);
            rng.pick(lists::APPLICANT_FORMS)
                .replace("{n}", &n.to_string())
        };
        let prefix = if rng.chance(0.4) { "with" } else { "" };
        Part::plain(prefix).span(ToolName::NumApplicants, "applicants", &text)
    }

    fn enum_part(
        rng: &mut Rng,
        table: &[(&'static str, &'static str)],
        tool: ToolName,
        key: &'static str,
    ) -> Part {
        let (value, text) = rng.pick(table);
        let mut part = Part::plain(text).tag(tool, key, value);
        // Several values of one tool: "remote or hybrid", "part time or contract".
        if tool != ToolName::DatePosted && rng.chance(0.07) {
            let (other, other_text) = rng.pick(table);
            if other != value {
                part = part
                    .word(*rng.pick(&["or", "or", "/", "and"]))
                    .word(other_text)
                    .tag(tool, key, other);
            }
        }
        part
    }

    pub(super) fn slot_part(&self, rng: &mut Rng, slot: Slot) -> Part {
        match slot {
            Slot::Location => self.location_part(rng),
            Slot::Company => self.company_part(rng),
            Slot::Industry => self.industry_part(rng),
            Slot::Salary => self.salary_part(rng),
            Slot::Workplace => {
                Self::enum_part(rng, lists::WORKPLACE, ToolName::WorkplaceType, "type")
            }
            Slot::Employment => {
                Self::enum_part(rng, lists::EMPLOYMENT, ToolName::EmploymentType, "type")
            }
            Slot::Date => Self::enum_part(rng, lists::DATE_POSTED, ToolName::DatePosted, "within"),
            Slot::Applicants => self.applicants_part(rng),
            Slot::EasyApply => Part::plain(*rng.pick(lists::EASY_APPLY)).flag(ToolName::EasyApply),
            Slot::Network => Part::plain(*rng.pick(lists::NETWORK)).flag(ToolName::JobInNetwork),
            Slot::Filler => Part::plain(*rng.pick(lists::NO_TOOL_FILLER)),
        }
    }

    pub(super) fn jobs_word(rng: &mut Rng) -> Part {
        Part::plain(*rng.pick_weighted(lists::JOBS_WORDS)).jobs()
    }

    /// A role with an optional seniority word, several roles ("nurse or
    /// doctor"), or a typo'd role.
    pub(super) fn role(&self, rng: &mut Rng) -> Part {
        if rng.chance(0.06) {
            let n = if rng.chance(0.75) { 2 } else { 3 };
            let joiner = *rng.pick(&[" or ", ", ", " and ", " / ", " or "]);
            let mut titles: Vec<String> = Vec::new();
            while titles.len() < n {
                let t = self.plain_title(rng);
                if !titles
                    .iter()
                    .any(|x| quarry::text::key(x) == quarry::text::key(&t))
                {
                    titles.push(t);
                }
            }
            let mut part = Part::new();
            for (i, t) in titles.iter().enumerate() {
                if i > 0 {
                    let j = if n == 3 && i == 2 && joiner == ", " {
                        ", "
                    } else {
                        joiner
                    };
                    part = part.raw(j);
                }
                part = append_raw(part, &Part::new().span(TOOL_TITLE, "title", t));
            }
            return part;
        }
        let mut title = self.title(rng);
        let words = quarry::text::words(&title);
        if rng.chance(0.05) && words.iter().all(|w| w.len() > 1) {
            title = typo(rng, &title);
        }
        let carries = inherent_level(&words).is_some();
        let text = if carries {
            title
        } else {
            match rng.weighted(&[0.70, 0.13, 0.09, 0.06, 0.02]) {
                1 => format!("{} {title}", rng.pick(lists::MID_SENIOR_WORDS)),
                2 => format!("{} {title}", rng.pick(lists::ENTRY_WORDS)),
                3 => format!(
                    "{title} {}",
                    rng.pick(&["intern", "internship", "intern", "Intern"])
                ),
                4 => format!("{title} {}", rng.pick(&["senior", "junior"])),
                _ => title,
            }
        };
        title_or_plain(&text)
    }

    // ----- criteria_search ------------------------------------------------

    fn criteria(&self, rng: &mut Rng) -> (Vec<Part>, &'static str) {
        let shape = rng.weighted(&[0.66, 0.06, 0.06, 0.06, 0.03, 0.05, 0.02, 0.04, 0.02]);
        let (core, n_extra, exclude, family): (Vec<Part>, usize, Vec<Slot>, &str) = match shape {
            0 => {
                let mut core = vec![self.role(rng)];
                if rng.chance(0.5) {
                    core.push(Self::jobs_word(rng));
                }
                let n = rng.weighted(&[0.22, 0.38, 0.25, 0.12, 0.03]);
                (core, n, vec![], "role")
            }
            1 => {
                let company = self.company(rng);
                let t = *rng.pick(&[
                    "jobs at {c}",
                    "{c} jobs",
                    "{c} careers",
                    "careers at {c}",
                    "openings at {c}",
                    "{c} hiring",
                    "roles at {c}",
                    "work at {c}",
                ]);
                let part = fill(t, |_| {
                    Part::new().span(ToolName::Company, "company", &company)
                });
                (vec![part], rng.range(0, 2), vec![Slot::Company], "company")
            }
            2 => {
                let industry = self.industry(rng);
                let t = *rng.pick(&[
                    "{i} jobs",
                    "jobs in {i}",
                    "{i} roles",
                    "{i} companies hiring",
                    "{i} jobs",
                    "careers in {i}",
                    "{i} positions",
                ]);
                let part = fill(t, |_| {
                    Part::new().span(ToolName::Industry, "industry", &industry)
                });
                (
                    vec![part],
                    rng.range(0, 2),
                    vec![Slot::Industry],
                    "industry",
                )
            }
            3 => {
                let core = if rng.chance(0.7) {
                    vec![Self::jobs_word(rng)]
                } else {
                    vec![]
                };
                (core, rng.range(2, 3), vec![Slot::Filler], "filters")
            }
            4 => {
                let (level, text) = *rng.pick(&[
                    ("entry_level", "entry level"),
                    ("entry_level", "entry-level"),
                    ("entry_level", "junior"),
                    ("mid_senior", "senior"),
                    ("mid_senior", "sr"),
                    ("director", "director level"),
                    ("director", "director-level"),
                    ("executive", "executive level"),
                    ("executive", "c-level"),
                    ("executive", "c-suite"),
                    ("associate", "associate level"),
                    ("mid_senior", "mid-senior level"),
                    ("internship", "internships"),
                    ("internship", "summer internships"),
                    ("internship", "intern"),
                ]);
                let mut part = Part::plain(text).tag(ToolName::Seniority, "level", level);
                if level == "internship" {
                    part = part.tag(ToolName::EmploymentType, "type", "internship");
                }
                let mut core = vec![part];
                if level != "internship" || rng.chance(0.3) {
                    core.push(Self::jobs_word(rng));
                }
                (core, rng.range(1, 2), vec![], "level")
            }
            5 => {
                let t = *rng.pick(lists::AS_A_TEMPLATES);
                let title = self.plain_title(rng);
                let part = fill(t, |_| title_or_plain(&title));
                (vec![part], rng.range(0, 2), vec![], "as_a")
            }
            6 => {
                let title = self.plain_title(rng);
                let Some(p) = plural(&title) else {
                    return self.criteria(rng);
                };
                let t = *rng.pick(&[
                    "jobs for {t}",
                    "{t} wanted",
                    "hiring {t}",
                    "companies hiring {t}",
                    "{t} needed",
                ]);
                let part = fill(t, |_| Part::new().span(TOOL_TITLE, "title", &p));
                (vec![part], rng.range(0, 2), vec![], "plural")
            }
            7 => {
                // Who a job is open to: the inclusive look-alike of an
                // exclusionary violation; only the title is a criterion.
                if rng.chance(0.3) {
                    let title = self.plain_title(rng).to_lowercase();
                    let group = *rng.pick(lists::INCLUSIVE_GROUPS);
                    let part = fill(*rng.pick(lists::INCLUDING_FRAMES), |c| match c {
                        't' => title_or_plain(&title),
                        _ => Part::plain(group),
                    });
                    (vec![part], 0, vec![], "inclusive")
                } else {
                    // Legitimate work that sounds dark.
                    let title = rng.pick(self.side(&self.pools.tricky_titles)).to_string();
                    let mut core = vec![Part::new().span(TOOL_TITLE, "title", &title)];
                    if rng.chance(0.4) {
                        core.push(Self::jobs_word(rng));
                    }
                    (core, rng.range(0, 2), vec![], "lookalike")
                }
            }
            _ => {
                let core = vec![Part::plain(*rng.pick(&[
                    "jobs",
                    "any jobs",
                    "find me a job",
                    "job search",
                    "hiring",
                    "open positions",
                ]))
                .jobs()];
                (core, 0, vec![], "bare")
            }
        };
        let slots = draw_slots(rng, n_extra, &exclude);
        let mut before = Vec::new();
        let mut after = Vec::new();
        for slot in slots {
            let part = self.slot_part(rng, slot);
            if !core.is_empty() && rng.chance(before_role(slot)) {
                before.push(part);
            } else {
                after.push(part);
            }
        }
        if rng.chance(0.2) {
            rng.shuffle(&mut after);
        }
        let mut parts = before;
        parts.extend(core);
        parts.extend(after);
        if family != "as_a" {
            self.chat(rng, &mut parts, 0.16);
        }
        (parts, family)
    }

    /// Wraps a query in chat ("hey, can you find me ... please").
    pub(super) fn chat(&self, rng: &mut Rng, parts: &mut Vec<Part>, p: f64) {
        if rng.chance(p) {
            parts.insert(0, Part::plain(*rng.pick(lists::CHATTY_PREFIXES)));
        }
        if rng.chance(p * 0.5) {
            let suffix = *rng.pick(lists::CHATTY_SUFFIXES);
            if suffix == "?" {
                if let Some(last) = parts
                    .last_mut()
                    .filter(|p| p.text.ends_with(char::is_alphanumeric))
                {
                    last.text.push('?');
                }
            } else {
                parts.push(Part::plain(suffix));
            }
        }
    }

    // ----- other languages ------------------------------------------------

    fn foreign(&self, rng: &mut Rng) -> (Vec<Part>, &'static str) {
        let p = self.pools;
        // Portuguese and Hinglish a little rarer than the four others.
        let lang = *rng.pick_weighted(&[
            (1.0, "es"),
            (1.0, "de"),
            (1.0, "fr"),
            (1.0, "it"),
            (0.9, "pt"),
            (0.9, "hi"),
        ]);
        let (titles, cities, words, salaries): (&[&str], &[&str], _, &[&str]) = match lang {
            "es" => (
                self.side(&p.titles_es),
                self.side(&p.cities_es),
                lists::ES_WORDS,
                lists::SALARY_ES,
            ),
            "de" => (
                self.side(&p.titles_de),
                self.side(&p.cities_de),
                lists::DE_WORDS,
                lists::SALARY_DE,
            ),
            "fr" => (
                self.side(&p.titles_fr),
                self.side(&p.cities_fr),
                lists::FR_WORDS,
                lists::SALARY_FR,
            ),
            "pt" => (
                self.side(&p.titles_pt),
                self.side(&p.cities_pt),
                lists::PT_WORDS,
                &[],
            ),
            // Hinglish: English titles, Indian cities (drawn below).
            "hi" => (&[], &[], lists::HI_WORDS, &[]),
            _ => (
                self.side(&p.titles_it),
                self.side(&p.cities_it),
                lists::IT_WORDS,
                lists::SALARY_IT,
            ),
        };
        let (title, city) = if lang == "hi" {
            let title = if rng.chance(0.2) {
                rng.pick(self.side(&p.abbrev_titles)).to_string()
            } else {
                self.plain_title(rng).to_lowercase()
            };
            let city = self
                .home_in(rng, "hi")
                .map(|c| c.name)
                .unwrap_or_else(|| "delhi".to_string());
            (title, city)
        } else {
            (rng.pick(titles).to_string(), rng.pick(cities).to_string())
        };
        let intern = rng.chance(0.12);
        let (templates, intern_templates): (&[&str], &[&str]) = match lang {
            "es" => (
                &[
                    "trabajo de {t} en {l}",
                    "empleo de {t} {l}",
                    "ofertas de {t} en {l}",
                    "busco trabajo de {t} en {l}",
                    "{t} en {l}",
                    "{t} {l}",
                    "vacantes de {t} en {l}",
                    "empleo de {t} en {l}",
                    "trabajo {t} {l}",
                    "trabajo de {t} en {l}",
                ],
                &["prácticas de {t} en {l}", "becario {t} {l}"],
            ),
            "de" => (
                &[
                    "{t} Stellen in {l}",
                    "Jobs als {t} in {l}",
                    "Stellenangebote {t} {l}",
                    "{t} {l}",
                    "{t} Jobs {l}",
                    "Arbeit als {t} in {l}",
                    "Stellen als {t} in {l}",
                    "{t} Jobs in {l}",
                    "Jobs in {l}",
                ],
                &["Praktikum als {t} {l}", "Praktikum {t} in {l}"],
            ),
            "fr" => (
                &[
                    "offre d'emploi {t} {l}",
                    "{t} à {l}",
                    "emploi {t} {l}",
                    "offres {t} {l}",
                    "poste de {t} à {l}",
                    "{t} {l}",
                    "emploi {t} à {l}",
                    "poste de {t} en {l}",
                ],
                &["stage {t} {l}", "stage de {t} à {l}"],
            ),
            "pt" => (
                &[
                    "vagas de {t} em {l}",
                    "vaga de {t} em {l}",
                    "emprego de {t} em {l}",
                    "emprego {t} {l}",
                    "trabalho como {t} em {l}",
                    "vagas {t} {l}",
                    "{t} em {l}",
                    "oportunidades de {t} em {l}",
                ],
                &["estágio de {t} em {l}", "estágio {t} {l}"],
            ),
            "hi" => (
                &[
                    "mujhe {l} mein {t} ki job chahiye",
                    "{t} ki naukri {l} mein",
                    "{l} mein {t} ki job",
                    "{t} job chahiye {l} mein",
                    "koi {t} ki vacancy hai {l} mein",
                    "{t} ke liye job {l} mein",
                    "{l} mein {t} ki naukri chahiye",
                    "mujhe {t} ki job chahiye {l} mein",
                ],
                &[
                    "internship chahiye {t} ki {l} mein",
                    "internship {t} ki {l} mein",
                ],
            ),
            _ => (
                &[
                    "lavoro come {t} a {l}",
                    "offerte di lavoro {t} {l}",
                    "cercasi {t} {l}",
                    "{t} a {l}",
                    "{t} {l}",
                    "lavoro {t} {l}",
                ],
                &["stage come {t} a {l}", "tirocinio {t} {l}"],
            ),
        };
        let template = if intern {
            *rng.pick(intern_templates)
        } else {
            *rng.pick(templates)
        };
        let mut part = Part::new();
        let words_before_title = template.split("{t}").next().unwrap_or("");
        if intern {
            // The internship word opens the query.
            let first = words_before_title.split_whitespace().next().unwrap_or("");
            let rest = &template[first.len()..];
            part = part
                .word(first)
                .tag(ToolName::Seniority, "level", "internship")
                .tag(ToolName::EmploymentType, "type", "internship");
            let filled = fill(rest.trim_start(), |c| match c {
                't' => title_or_plain(&title),
                _ => Part::new().span(ToolName::Location, "location", &city),
            });
            part = part.join(&filled);
        } else {
            let levels: Vec<&str> = words
                .iter()
                .filter(|w| w.0 == "seniority")
                .map(|w| w.2)
                .collect();
            let with_level = match levels.is_empty() || !rng.chance(0.15) {
                true => title.clone(),
                // "desarrollador junior", "Senior Softwareentwickler".
                false if lang == "es" || lang == "pt" || rng.chance(0.5) => {
                    format!("{title} {}", rng.pick(&levels))
                }
                false => format!("{} {title}", rng.pick(&levels)),
            };
            part = fill(template, |c| match c {
                't' => title_or_plain(&with_level),
                _ => Part::new().span(ToolName::Location, "location", &city),
            });
        }
        let mut parts = vec![part];
        let extras = rng.weighted(&[0.45, 0.4, 0.15]);
        let mut used: Vec<&str> = Vec::new();
        for _ in 0..extras {
            if rng.chance(0.2) && !used.contains(&"salary") && !salaries.is_empty() {
                used.push("salary");
                let n = 5 * rng.range(5, 20);
                let text = rng.pick(salaries).replace("{n}", &n.to_string());
                parts.push(Part::new().span(ToolName::Salary, "amount", &text));
                continue;
            }
            let (tool, value, text) = *rng.pick(words);
            if used.contains(&tool) || tool == "seniority" {
                continue;
            }
            used.push(tool);
            let part = match tool {
                "workplace" => Part::plain(text).tag(ToolName::WorkplaceType, "type", value),
                "employment" => Part::plain(text).tag(ToolName::EmploymentType, "type", value),
                _ => Part::plain(text).tag(ToolName::DatePosted, "within", value),
            };
            parts.push(part);
        }
        if lang == "de" && rng.chance(0.08) {
            parts.push(Part::plain("mit").span(
                ToolName::NumApplicants,
                "applicants",
                "wenigen Bewerbern",
            ));
        }
        (parts, lang)
    }

    // ----- self_reference -------------------------------------------------

    /// A profile for the member; `home` is where they live.
    pub fn profile(&self, rng: &mut Rng, home: Option<&City>, lang: &str) -> Profile {
        let p = self.pools;
        let mut title = match lang {
            "es" => cap_first(*rng.pick(self.side(&p.titles_es))),
            "de" => rng.pick(self.side(&p.titles_de)).to_string(),
            "fr" => cap_first(*rng.pick(self.side(&p.titles_fr))),
            "it" => cap_first(*rng.pick(self.side(&p.titles_it))),
            "pt" => cap_first(*rng.pick(self.side(&p.titles_pt))),
            _ => match rng.weighted(&[0.8, 0.08, 0.06, 0.06]) {
                0 => title_case(&self.plain_title(rng)),
                1 => rng.pick(self.side(&p.director_titles)).to_string(),
                2 => rng.pick(self.side(&p.executive_titles)).to_string(),
                _ => rng.pick(self.side(&p.short_titles)).to_string(),
            },
        };
        let words = quarry::text::words(&title);
        let mut seniority = match inherent_level(&words) {
            Some("director") => Some(Seniority::Director),
            Some(_) => Some(Seniority::Executive),
            None => *rng.pick(&[
                Some(Seniority::EntryLevel),
                Some(Seniority::Associate),
                Some(Seniority::MidSenior),
                Some(Seniority::MidSenior),
                None,
            ]),
        };
        if lang == "en" && seniority == Some(Seniority::MidSenior) && rng.chance(0.2) {
            title = format!("Senior {title}");
        }
        if lang == "en" && rng.chance(0.03) {
            title = format!("{title} Intern");
            seniority = Some(Seniority::Internship);
        }
        let city = home
            .cloned()
            .unwrap_or_else(|| p.city(rng, self.split).clone());
        let industry = p.taxonomy.industries.all();
        Profile {
            title: rng.chance(0.93).then_some(title),
            company: rng.chance(0.7).then(|| {
                let c = self.company(rng);
                if c.len() <= 3 || ["kpmg", "nasa", "usps", "hsbc"].contains(&c.as_str()) {
                    c.to_uppercase()
                } else if c.chars().next().is_some_and(|ch| ch.is_lowercase()) {
                    title_case(&c)
                } else {
                    c
                }
            }),
            location: rng.chance(0.92).then(|| city.profile_location()),
            industry: rng.chance(0.75).then(|| rng.pick(industry).name.clone()),
            seniority: if rng.chance(0.85) { seniority } else { None },
            // Shares as in real profiles: most list their experience, many
            // their skills and schooling, and a rewrite must skip those.
            skills: if rng.chance(0.45) {
                (0..rng.range(1, 3))
                    .map(|_| rng.pick(lists::SKILLS).to_string())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect()
            } else {
                Vec::new()
            },
            years_experience: rng.chance(0.7).then(|| rng.range(0, 25) as u32),
            education: rng
                .chance(0.4)
                .then(|| rng.pick(lists::EDUCATION).to_string()),
        }
    }

    fn jobs_single(rng: &mut Rng) -> &'static str {
        *rng.pick_weighted(&[
            (5.0, "jobs"),
            (2.0, "roles"),
            (1.0, "positions"),
            (1.0, "openings"),
            (1.0, "job"),
        ])
    }

    /// A self-reference query's parts (markers included).
    fn self_reference(&self, rng: &mut Rng, lang: &str) -> (Vec<Part>, &'static str) {
        if lang == "hi" {
            // "mere area mein maths teacher ki vacancy": the place takes the
            // phrase's place and keeps its "mein".
            let title = self.plain_title(rng).to_lowercase();
            let template = *rng.pick(&[
                "{t} ki vacancy",
                "{t} ki naukri chahiye",
                "{t} job chahiye",
                "{t} ki job",
                "{t} ki naukri",
            ]);
            let role = fill(template, |_| title_or_plain(&title));
            let phrase = *rng.pick(lists::SELF_WORDS_HI);
            let marker = Part::marker(phrase, vec![Seg::Value(Field::Location), Seg::Keep(2)]);
            let parts = if rng.chance(0.5) {
                vec![marker, role]
            } else {
                vec![role, marker]
            };
            return (parts, "self_near_me");
        }
        if lang != "en" {
            let p = self.pools;
            let (titles, phrases, template): (&[&str], SelfPhrases, &str) = match lang {
                "es" => (
                    self.side(&p.titles_es),
                    lists::SELF_WORDS_ES,
                    *rng.pick(&[
                        "trabajos de {t}",
                        "empleo de {t}",
                        "ofertas de {t}",
                        "trabajo de {t}",
                    ]),
                ),
                "de" => (
                    self.side(&p.titles_de),
                    lists::SELF_WORDS_DE,
                    *rng.pick(&[
                        "{t} Jobs",
                        "Jobs als {t}",
                        "{t} Stellen",
                        "Stellenangebote {t}",
                    ]),
                ),
                "fr" => (
                    self.side(&p.titles_fr),
                    lists::SELF_WORDS_FR,
                    *rng.pick(&["offres de {t}", "emploi {t}", "{t}", "offres d'emploi {t}"]),
                ),
                "pt" => (
                    self.side(&p.titles_pt),
                    lists::SELF_WORDS_PT,
                    *rng.pick(&[
                        "vagas de {t}",
                        "emprego de {t}",
                        "vagas para {t}",
                        "trabalho de {t}",
                    ]),
                ),
                _ => (
                    self.side(&p.titles_it),
                    lists::SELF_WORDS_IT,
                    *rng.pick(&[
                        "lavoro come {t}",
                        "offerte di lavoro {t}",
                        "lavori come {t}",
                        "{t}",
                    ]),
                ),
            };
            let title = rng.pick(titles).to_string();
            let role = fill(template, |_| title_or_plain(&title));
            let (text, keep, glue) = *rng.pick(phrases);
            let mut segs: Vec<Seg> = (0..keep).map(Seg::Keep).collect();
            if let Some(g) = glue {
                segs.push(Seg::Glue(g));
            }
            segs.push(Seg::Value(Field::Location));
            return (vec![role, Part::marker(text, segs)], "self_near_me");
        }
        let family = rng.weighted(&[
            0.32, 0.14, 0.12, 0.08, 0.1, 0.07, 0.05, 0.04, 0.04, 0.04, 0.06,
        ]);
        let j = Self::jobs_single(rng);
        let role_or_jobs = |gen: &Gen, rng: &mut Rng| -> Vec<Part> {
            if rng.chance(0.7) {
                let mut v = vec![gen.role(rng)];
                if rng.chance(0.75) {
                    v.push(Self::jobs_word(rng));
                }
                v
            } else {
                vec![Part::plain(j).jobs()]
            }
        };
        let jobs_phrase = |template: &str, j: &str| -> (String, Option<usize>) {
            let index = template.split_whitespace().position(|w| w == "{j}");
            (template.replace("{j}", j), index)
        };
        let (mut parts, name, extras): (Vec<Part>, &str, usize) = match family {
            0 => {
                let mut parts = role_or_jobs(self, rng);
                let (text, keep, glue) = *rng.pick(lists::NEAR_ME);
                let mut segs: Vec<Seg> = (0..keep).map(Seg::Keep).collect();
                if let Some(g) = glue {
                    segs.push(Seg::Glue(g));
                }
                segs.push(Seg::Value(Field::Location));
                parts.push(Part::marker(text, segs));
                (parts, "self_near_me", rng.weighted(&[0.5, 0.35, 0.15]))
            }
            1 => {
                let (text, index) = jobs_phrase(*rng.pick(lists::PROFILE_PHRASES), j);
                let mut segs = vec![Seg::Value(Field::Title)];
                segs.push(index.map_or(Seg::Glue("jobs"), Seg::Keep));
                segs.extend([Seg::Glue("in"), Seg::Value(Field::Location)]);
                (
                    vec![Part::marker(&text, segs)],
                    "self_profile",
                    rng.weighted(&[0.7, 0.3]),
                )
            }
            2 => {
                let background = rng.chance(0.3);
                let phrases = if background {
                    lists::BACKGROUND_PHRASES
                } else {
                    lists::ROLE_PHRASES
                };
                let (mut text, mut index) = jobs_phrase(*rng.pick(phrases), j);
                // "research jobs like mine": the member's title replaces the
                // loose word before the jobs word too.
                if index == Some(0) && rng.chance(0.2) {
                    text = format!("{} {text}", rng.pick(lists::ROLE_PREFIXES));
                    index = Some(1);
                }
                let mut segs = vec![
                    Seg::Value(Field::Title),
                    index.map_or(Seg::Glue("jobs"), Seg::Keep),
                ];
                let follow = match rng.below(3) {
                    0 => Some(self.location_part(rng)),
                    1 => Some(self.company_part(rng)),
                    _ => None,
                };
                // "… like my current job, but in toronto": the contrast word
                // belongs to the phrase the rewrite replaces.
                let text = match follow {
                    Some(_) if rng.chance(0.3) => {
                        format!(
                            "{text}{}",
                            rng.pick(&[" but", ", but", ", ideally", " only"])
                        )
                    }
                    _ => text,
                };
                if background && follow.is_none() {
                    segs.extend([Seg::Glue("in"), Seg::Value(Field::Location)]);
                }
                let mut parts = vec![Part::marker(&text, segs)];
                parts.extend(follow);
                if rng.chance(0.2) {
                    parts.insert(
                        0,
                        Part::plain(*rng.pick(&["show me", "find", "any", "i want"])),
                    );
                }
                (parts, "self_role", rng.weighted(&[0.6, 0.4]))
            }
            3 => {
                let mut parts = role_or_jobs(self, rng);
                if rng.chance(0.2) {
                    parts.insert(0, Part::plain("other"));
                } else if rng.chance(0.1) {
                    // "other teams hiring at my current firm": a move
                    // inside the member's own employer.
                    parts = vec![Part::plain(*rng.pick(&[
                        "other teams hiring",
                        "which teams are hiring",
                        "other departments hiring",
                        "internal openings",
                        "internal transfers",
                    ]))];
                }
                parts.push(Part::marker(
                    *rng.pick(lists::COMPANY_PHRASES),
                    vec![Seg::Keep(0), Seg::Value(Field::Company)],
                ));
                (parts, "self_company", rng.weighted(&[0.6, 0.4]))
            }
            4 => {
                let phrase = *rng.pick(lists::FIELD_PHRASES);
                if rng.chance(0.5) {
                    let mut parts = role_or_jobs(self, rng);
                    // "related to my field" → "in Retail": only "in" is kept.
                    let lead = if phrase.starts_with("in ") {
                        Seg::Keep(0)
                    } else {
                        Seg::Glue("in")
                    };
                    parts.push(Part::marker(
                        phrase,
                        vec![lead, Seg::Value(Field::Industry)],
                    ));
                    (parts, "self_field", rng.weighted(&[0.6, 0.4]))
                } else {
                    let text = format!("{j} {phrase}");
                    (
                        vec![Part::marker(
                            &text,
                            vec![Seg::Value(Field::Industry), Seg::Keep(0)],
                        )],
                        "self_field",
                        rng.weighted(&[0.5, 0.5]),
                    )
                }
            }
            5 => {
                let (text, index) = jobs_phrase(*rng.pick(lists::LEVEL_PHRASES), j);
                let segs = vec![
                    Seg::Level,
                    Seg::Value(Field::Title),
                    index.map_or(Seg::Glue("jobs"), Seg::Keep),
                ];
                let mut parts = vec![Part::marker(&text, segs)];
                if rng.chance(0.3) {
                    parts.push(Part::marker(
                        "near me",
                        vec![Seg::Glue("in"), Seg::Value(Field::Location)],
                    ));
                }
                (parts, "self_level", rng.weighted(&[0.6, 0.4]))
            }
            6 => {
                let text = format!(
                    "{j} {} at my level",
                    rng.pick(&["in my field", "in my industry"])
                );
                let mut parts = vec![Part::marker(
                    &text,
                    vec![Seg::Level, Seg::Value(Field::Industry), Seg::Keep(0)],
                )];
                if rng.chance(0.3) {
                    parts.push(Part::marker(
                        "near me",
                        vec![Seg::Glue("in"), Seg::Value(Field::Location)],
                    ));
                }
                (parts, "self_level", rng.weighted(&[0.7, 0.3]))
            }
            7 => {
                let mut parts = role_or_jobs(self, rng);
                parts.push(Part::marker(
                    *rng.pick(lists::STATE_PHRASES),
                    vec![Seg::Keep(0), Seg::Value(Field::State)],
                ));
                (parts, "self_state", rng.weighted(&[0.7, 0.3]))
            }
            9 => {
                let (text, index) = jobs_phrase(*rng.pick(lists::SKILL_PHRASES), j);
                let segs = vec![
                    Seg::Value(Field::Title),
                    index.map_or(Seg::Glue("jobs"), Seg::Keep),
                    Seg::Glue("with"),
                    Seg::Value(Field::Skills),
                ];
                let mut parts = vec![Part::marker(&text, segs)];
                if rng.chance(0.3) {
                    parts.push(self.location_part(rng));
                } else if rng.chance(0.3) {
                    // Skills and the place together: "… that use my skills near me".
                    let (near, keep, glue) = *rng.pick(lists::NEAR_ME);
                    let mut segs: Vec<Seg> = (0..keep).map(Seg::Keep).collect();
                    segs.extend(glue.map(Seg::Glue));
                    segs.push(Seg::Value(Field::Location));
                    parts.push(Part::marker(near, segs));
                }
                (parts, "self_skills", rng.weighted(&[0.6, 0.4]))
            }
            10 => {
                // "jobs suited to my qualifications" → "jobs suited to BA
                // Economics": the words before "my" stay, the degree
                // replaces the rest.
                let (text, _) = jobs_phrase(*rng.pick(lists::EDUCATION_PHRASES), j);
                let mine = text.split_whitespace().position(|w| w == "my").unwrap_or(0);
                let mut segs: Vec<Seg> = (0..mine).map(Seg::Keep).collect();
                segs.push(Seg::Value(Field::Education));
                let mut parts = vec![Part::marker(&text, segs)];
                match rng.below(3) {
                    0 => parts.push(self.location_part(rng)),
                    1 => parts.push(Part::marker(
                        "near me",
                        vec![Seg::Glue("in"), Seg::Value(Field::Location)],
                    )),
                    _ => {}
                }
                (parts, "self_education", rng.weighted(&[0.6, 0.4]))
            }
            _ => {
                let mut parts = role_or_jobs(self, rng);
                parts.push(Part::marker(
                    *rng.pick(lists::COUNTRY_PHRASES),
                    vec![Seg::Keep(0), Seg::Value(Field::Country)],
                ));
                (parts, "self_country", rng.weighted(&[0.7, 0.3]))
            }
        };
        let mut exclude = vec![Slot::Location, Slot::Network, Slot::Filler];
        match name {
            "self_field" | "self_level" => exclude.push(Slot::Industry),
            "self_company" | "self_role" | "self_skills" | "self_education" => {
                exclude.push(Slot::Company)
            }
            _ => {}
        }
        let slots = draw_slots(rng, extras, &exclude);
        for slot in slots {
            parts.push(self.slot_part(rng, slot));
        }
        self.chat(rng, &mut parts, 0.08);
        (parts, name)
    }

    // ----- non_job and trust ----------------------------------------------

    fn non_job(&self, rng: &mut Rng) -> (Vec<Part>, &'static str) {
        let place = |gen: &Gen, rng: &mut Rng| {
            let text = if rng.chance(0.3) {
                let readings = rng.pick(&gen.pools.ambiguous);
                rng.pick(readings).name.clone()
            } else {
                gen.place(rng)
            };
            Part::new().span(ToolName::Location, "location", &text)
        };
        let (part, family) = match rng.weighted(&[0.32, 0.34, 0.06, 0.14, 0.09, 0.05]) {
            0 => (Part::plain(*rng.pick(lists::NON_JOB_PLAIN)), "plain"),
            1 => {
                let t = *rng.pick(lists::NON_JOB_PLACE);
                (fill(t, |_| place(self, rng)), "place")
            }
            2 => {
                let t = *rng.pick(lists::NON_JOB_TWO_PLACES);
                let a = place(self, rng);
                let mut b = place(self, rng);
                if b.text == a.text {
                    b = Part::new().span(
                        ToolName::Location,
                        "location",
                        *rng.pick(lists::PLACE_ALIASES),
                    );
                }
                let mut first = true;
                (
                    fill(t, |_| {
                        if std::mem::take(&mut first) {
                            a.clone()
                        } else {
                            b.clone()
                        }
                    }),
                    "places",
                )
            }
            3 => {
                let t = *rng.pick(lists::NON_JOB_TITLE);
                let title = if rng.chance(0.5) {
                    rng.pick(lists::DREAM_TITLES).to_string()
                } else {
                    self.plain_title(rng).to_lowercase()
                };
                (
                    fill(t, |_| Part::new().span(TOOL_TITLE, "title", &title)),
                    "title",
                )
            }
            4 => {
                let t = *rng.pick(lists::NON_JOB_COMPANY);
                let company = self.company(rng);
                (
                    fill(t, |_| {
                        Part::new().span(ToolName::Company, "company", &company)
                    }),
                    "company",
                )
            }
            _ => {
                let t = *rng.pick(lists::NON_JOB_WORKPLACE);
                let value = if t.contains("hybrid") {
                    "hybrid"
                } else {
                    "remote"
                };
                (
                    Part::plain(t).tag(ToolName::WorkplaceType, "type", value),
                    "workplace",
                )
            }
        };
        (vec![part], family)
    }

    fn violation(&self, rng: &mut Rng) -> (Vec<Part>, Category) {
        let (category, list) = *rng.pick_weighted(&[
            (0.18, (Category::Offensive, lists::OFFENSIVE)),
            (0.23, (Category::Violent, lists::VIOLENT)),
            (0.22, (Category::Discriminatory, lists::DISCRIMINATORY)),
            (0.14, (Category::SelfHarm, lists::SELF_HARM)),
            (0.23, (Category::Illegal, lists::ILLEGAL)),
        ]);
        // Half the time a frame around an act, so that what is asked for,
        // not the sentence, is what the model learns to deny.
        let composed = match category {
            Category::Illegal => Some((lists::ILLEGAL_FRAMES, lists::ILLEGAL_ACTS)),
            Category::Violent => Some((lists::VIOLENT_FRAMES, lists::VIOLENT_ACTS)),
            Category::SelfHarm => Some((lists::SELF_HARM_FRAMES, lists::SELF_HARM_ACTS)),
            Category::Discriminatory => Some((lists::EXCLUDING_FRAMES, lists::GROUPS)),
            Category::Offensive => None,
        };
        let (template, act) = match composed {
            Some((frames, acts)) if rng.chance(0.5) => (*rng.pick(frames), *rng.pick(acts)),
            _ => (*rng.pick(list), ""),
        };
        let title = self.plain_title(rng).to_lowercase();
        let place = self.place(rng);
        let mut part = fill(template, |c| {
            Part::plain(match c {
                't' => &title,
                'x' | 'g' => act,
                _ => &place,
            })
        });
        part.calls.clear();
        let mut parts = vec![part];
        if rng.chance(0.25) {
            let extra = match rng.below(4) {
                0 => format!("in {place}"),
                1 => "remote".to_string(),
                2 => "jobs".to_string(),
                _ => "part time".to_string(),
            };
            if !parts[0].text.contains(&extra) {
                parts.push(Part::plain(&extra));
            }
        }
        if rng.chance(0.1) {
            parts.insert(
                0,
                Part::plain(*rng.pick(&["hey", "show me", "find", "looking for", "i need"])),
            );
        }
        (parts, category)
    }

    // ----- scenarios ------------------------------------------------------

    /// One scenario of the given intent; retries until it is clean.
    pub fn scenario(&self, rng: &mut Rng, intent: Intent, with_profile: WithProfile) -> Scenario {
        loop {
            if let Some(s) = self.try_scenario(rng, intent, with_profile) {
                return s;
            }
        }
    }

    fn try_scenario(
        &self,
        rng: &mut Rng,
        intent: Intent,
        with_profile: WithProfile,
    ) -> Option<Scenario> {
        let want_profile = match with_profile {
            WithProfile::Never => false,
            WithProfile::Always => true,
            WithProfile::Sometimes(p) => rng.chance(p),
        };
        let mut category = None;
        let mut lang = "en";
        let mut home: Option<City> = None;
        let (parts, family) = match intent {
            Intent::CriteriaSearch => {
                let r = rng.f64();
                if r < 0.10 {
                    let (parts, l) = self.foreign(rng);
                    lang = l;
                    (parts, "foreign")
                } else if r < 0.36 {
                    // Shapes of hand-written queries (lists, qualifiers,
                    // abbreviations, typos...): see `typed`.
                    self.typed(rng)
                } else {
                    self.criteria(rng)
                }
            }
            Intent::SelfReference => {
                lang = if rng.chance(0.08) {
                    *rng.pick(&["es", "de", "fr", "it", "pt", "hi"])
                } else {
                    "en"
                };
                self.self_reference(rng, lang)
            }
            Intent::NonJob => self.non_job(rng),
            Intent::TrustViolation => {
                let (parts, c) = self.violation(rng);
                category = Some(c);
                (parts, "violation")
            }
        };
        let style = match family {
            // Shouted, Title Cased or all lower-case, typos kept.
            "noisy" => {
                *rng.pick_weighted(&[(0.4, Case::Upper), (0.3, Case::Title), (0.3, Case::Lower)])
            }
            _ => case_style(rng),
        };
        // Long chatty queries bring their own commas.
        let allow_seps = intent == Intent::CriteriaSearch && family != "conversational";
        let query = Query::finish_styled(parts, rng, allow_seps, style);
        let built = query.built();
        let text = built.text.trim().to_string();
        if text.is_empty() || text.len() > 200 || text != built.text {
            return None;
        }
        // Clean test queries must get past the lexical screen to reach the
        // model. (The screen costs milliseconds a query, so training queries,
        // whose labels stay right either way, skip it.)
        if self.split == Split::Test
            && intent != Intent::TrustViolation
            && trust::screen(&text).is_some()
        {
            return None;
        }
        let profile = if want_profile {
            if intent != Intent::SelfReference {
                // An ambiguous place, settled by where the member lives.
                home = self.ambiguous_home(rng, &text);
            }
            if home.is_none() && lang != "en" {
                home = self.home_in(rng, lang);
            }
            let mut profile = self.profile(rng, home.as_ref(), lang);
            if let Some(home) = &home {
                profile.location = Some(home.profile_location());
            }
            Some(profile)
        } else {
            None
        };
        let (rewrite, calls) = match (intent, &profile) {
            (Intent::TrustViolation, _) => (None, Vec::new()),
            (Intent::SelfReference, Some(profile)) => {
                let rewritten = rewrite(&query, profile);
                if rewritten.text.is_empty() || rewritten.text.len() > 400 {
                    return None;
                }
                (Some(rewritten.text), rewritten.calls)
            }
            _ => (None, built.calls),
        };
        // Held-out names reach training by no route (a region sharing a
        // held-out city's name, a plural the lexicon also lists).
        if self.split == Split::Train && calls.iter().any(|c| self.names_held_out(c)) {
            return None;
        }
        Some(Scenario {
            query: text,
            profile,
            intent,
            rewrite,
            calls,
            category,
            lang,
            family,
        })
    }

    fn names_held_out(&self, call: &ToolCall) -> bool {
        matches!(
            call.name,
            ToolName::Title | ToolName::Company | ToolName::Location
        ) && call
            .name
            .text_argument()
            .and_then(|k| call.text(k))
            .is_some_and(|span| self.pools.names_held_out(span))
    }

    /// A home that makes the query's ambiguous place name a local one.
    fn ambiguous_home(&self, rng: &mut Rng, query: &str) -> Option<City> {
        let words = quarry::text::words(query);
        for readings in &self.pools.ambiguous {
            let name = quarry::text::key(&readings[0].name);
            if quarry::text::contains_phrase(&words, &name) && rng.chance(0.8) {
                // Mostly a lesser-known reading: the one only a profile settles.
                let index = if rng.chance(0.7) {
                    rng.range(1, readings.len() - 1)
                } else {
                    0
                };
                return Some(readings[index].clone());
            }
        }
        None
    }

    /// A criteria query naming an ambiguous place bare, and a home in one
    /// of its readings (test: resolution must follow the profile).
    pub fn ambiguous_scenario(&self, rng: &mut Rng) -> Scenario {
        loop {
            let readings = rng.pick(&self.pools.ambiguous);
            let index = if rng.chance(0.7) {
                rng.range(1, readings.len() - 1)
            } else {
                0
            };
            let home = readings[index].clone();
            let mut parts = vec![self.role(rng)];
            if rng.chance(0.5) {
                parts.push(Self::jobs_word(rng));
            }
            let place = Part::plain(if rng.chance(0.6) { "in" } else { "" }).span(
                ToolName::Location,
                "location",
                &readings[0].name,
            );
            parts.push(place);
            let n = rng.range(0, 1);
            for slot in draw_slots(rng, n, &[Slot::Location]) {
                parts.push(self.slot_part(rng, slot));
            }
            let query = Query::finish(parts, rng, false);
            let built = query.built();
            if trust::screen(&built.text).is_some() {
                continue;
            }
            let mut profile = self.profile(rng, Some(&home), "en");
            profile.location = Some(home.profile_location());
            return Scenario {
                query: built.text,
                profile: Some(profile),
                intent: Intent::CriteriaSearch,
                rewrite: None,
                calls: built.calls,
                category: None,
                lang: "en",
                family: "ambiguous",
            };
        }
    }

    pub(super) fn home_in(&self, rng: &mut Rng, lang: &str) -> Option<City> {
        let codes: &[&str] = match lang {
            "es" => &["ES", "MX", "AR", "CO"],
            "de" => &["DE", "AT", "CH"],
            "fr" => &["FR", "BE"],
            "pt" => &["BR", "PT"],
            "hi" => &["IN"],
            _ => &["IT"],
        };
        let code = *rng.pick(codes);
        let bucket = self
            .pools
            .cities
            .iter()
            .find(|(_, p)| p.train.first().is_some_and(|c| c.country_code == code))?;
        let side = bucket.1.side(self.split);
        (!side.is_empty()).then(|| side[rng.skewed(side.len(), 1.5)].clone())
    }
}

/// The level word a profile's seniority becomes in a rewrite, unless the
/// title already says it.
fn level_word(profile: &Profile) -> Option<(&'static str, &'static str)> {
    let title_words = quarry::text::words(profile.title.as_deref().unwrap_or(""));
    if leading_level(&title_words).is_some() || inherent_level(&title_words).is_some() {
        return None;
    }
    match profile.seniority? {
        Seniority::MidSenior => Some(("senior", "mid_senior")),
        Seniority::EntryLevel => Some(("junior", "entry_level")),
        _ => None,
    }
}

fn profile_value(profile: &Profile, field: Field) -> Option<String> {
    let parts = || {
        profile
            .location
            .as_deref()
            .map(|l| l.split(',').map(str::trim).collect::<Vec<_>>())
    };
    match field {
        Field::Title => profile.title.clone(),
        Field::Company => profile.company.clone(),
        Field::Location => profile.location.clone(),
        Field::Industry => profile.industry.clone(),
        Field::Education => profile.education.clone(),
        Field::Skills => match profile.skills.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            [init @ .., last] => Some(format!("{} and {last}", init.join(", "))),
        },
        Field::State => parts().filter(|p| p.len() == 3).map(|p| p[1].to_string()),
        Field::Country => parts()
            .filter(|p| p.len() >= 2)
            .map(|p| p[p.len() - 1].to_string()),
    }
}

/// The rewrite: markers replaced by profile values (tagged), everything
/// else copied token for token from the query.
fn rewrite(query: &Query, profile: &Profile) -> super::part::Built {
    let mut parts: Vec<Part> = Vec::new();
    let mut seps: Vec<String> = Vec::new();
    for (i, part) in query.parts.iter().enumerate() {
        let replaced = match &part.mark {
            None => part.clone(),
            Some(segs) => resolve(part, segs, profile),
        };
        parts.push(replaced);
        if i + 1 < query.parts.len() {
            // A separator glued to a replaced marker would make a new token.
            let sep = if part.mark.is_some() {
                " ".to_string()
            } else {
                query.seps[i].clone()
            };
            seps.push(sep);
        }
    }
    assemble(&parts, &seps)
}

fn resolve(marker: &Part, segs: &[Seg], profile: &Profile) -> Part {
    let tokens: Vec<&str> = marker.text.split_whitespace().collect();
    let values: Vec<Option<String>> = segs
        .iter()
        .map(|s| match s {
            Seg::Value(f) => profile_value(profile, *f),
            _ => None,
        })
        .collect();
    let any_value = segs
        .iter()
        .zip(&values)
        .any(|(s, v)| matches!(s, Seg::Value(_)) && v.is_some());
    if !any_value {
        // Nothing to draw on: the phrase stays as the member wrote it.
        return Part::plain(&marker.text);
    }
    let mut out = Part::new();
    let mut i = 0;
    while i < segs.len() {
        // A preposition whose value is missing goes with it.
        let next_missing =
            matches!(segs.get(i + 1), Some(Seg::Value(_))) && values[i + 1].is_none();
        match segs[i] {
            Seg::Keep(_) | Seg::Glue(_) if next_missing => {}
            Seg::Keep(k) => {
                if let Some(token) = tokens.get(k) {
                    out = out.word(token);
                }
            }
            Seg::Glue(g) => out = out.word(g),
            Seg::Level => {
                if let Some((word, level)) = level_word(profile) {
                    out = out.tag(ToolName::Seniority, "level", level).word(word);
                }
            }
            Seg::Value(field) => {
                if let Some(value) = &values[i] {
                    let part = match field {
                        Field::Title => title_or_plain(value),
                        // Skills are not a tool's argument: the rewrite names them,
                        // the tagger leaves them.
                        Field::Skills | Field::Education => Part::plain(value),
                        Field::Company => Part::new().span(ToolName::Company, "company", value),
                        Field::Industry => Part::new().span(ToolName::Industry, "industry", value),
                        Field::Location | Field::State | Field::Country => {
                            Part::new().span(ToolName::Location, "location", value)
                        }
                    };
                    out = out.join(&part);
                }
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sous_chef() -> Profile {
        Profile {
            title: Some("Sous Chef".into()),
            location: Some("Naples, Florida, United States".into()),
            ..Profile::default()
        }
    }

    fn rewritten(parts: Vec<Part>, profile: &Profile) -> (String, Vec<ToolCall>) {
        let seps = vec![" ".to_string(); parts.len() - 1];
        let built = rewrite(&Query { parts, seps }, profile);
        (built.text, built.calls)
    }

    #[test]
    fn rewrites_copy_profile_values_word_for_word() {
        let near_me = Part::marker(
            "near me",
            vec![Seg::Glue("in"), Seg::Value(Field::Location)],
        );
        let chef = Part::new().span(TOOL_TITLE, "title", "chef");
        let (text, calls) = rewritten(
            vec![chef, Part::plain("jobs").jobs(), near_me],
            &sous_chef(),
        );
        assert_eq!(text, "chef jobs in Naples, Florida, United States");
        assert_eq!(
            calls[1].text("location"),
            Some("Naples, Florida, United States")
        );

        let profile_phrase = Part::marker(
            "jobs that fit my profile",
            vec![
                Seg::Value(Field::Title),
                Seg::Keep(0),
                Seg::Glue("in"),
                Seg::Value(Field::Location),
            ],
        );
        let (text, calls) = rewritten(vec![profile_phrase.clone()], &sous_chef());
        assert_eq!(text, "Sous Chef jobs in Naples, Florida, United States");
        assert_eq!(calls[0].text("title"), Some("Sous Chef"));

        // Without a location, the preposition goes with it.
        let no_home = Profile {
            location: None,
            ..sous_chef()
        };
        assert_eq!(
            rewritten(vec![profile_phrase.clone()], &no_home).0,
            "Sous Chef jobs"
        );
        // With nothing to draw on, the phrase stays as written.
        assert_eq!(
            rewritten(vec![profile_phrase], &Profile::default()).0,
            "jobs that fit my profile"
        );
    }

    #[test]
    fn levels_and_titles_with_levels() {
        let level = Part::marker(
            "roles at my level",
            vec![Seg::Level, Seg::Value(Field::Title), Seg::Keep(0)],
        );
        let pm = Profile {
            title: Some("Product Manager".into()),
            seniority: Some(Seniority::MidSenior),
            ..Profile::default()
        };
        let (text, calls) = rewritten(vec![level.clone()], &pm);
        assert_eq!(text, "senior Product Manager roles");
        assert_eq!(calls[0].text("level"), Some("mid_senior"));
        let director = Profile {
            title: Some("Director of Operations".into()),
            seniority: Some(Seniority::Director),
            ..Profile::default()
        };
        let (text, calls) = rewritten(vec![level], &director);
        assert_eq!(text, "Director of Operations roles");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].text("level"), Some("director"));
    }
}
