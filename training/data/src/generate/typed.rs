//! Criteria queries as people type them, beyond the template families of
//! `scenario`: lists of places, titles and companies; places with short
//! qualifiers, postcodes and metro areas; company- and industry-only
//! queries; title abbreviations; typos and shouting; long chatty requests.
//! Each is a few percent of criteria samples (see [`Gen::typed`]), so the
//! small model meets these shapes before it meets hand-written queries.

#![allow(clippy::explicit_auto_deref)]

use quarry::ToolName;

use super::lists;
use super::part::Part;
use super::scenario::{append_raw, draw_slots, fill, title_or_plain, typo, Gen, Slot};
use crate::rng::Rng;

/// Families of [`Gen::typed`], with their share among its draws.
const FAMILIES: &[(f64, &str)] = &[
    (0.14, "list"),
    (0.11, "qualified_place"),
    (0.05, "postcode"),
    (0.06, "metro"),
    (0.07, "company_only"),
    (0.07, "company_filter"),
    (0.10, "no_preposition"),
    (0.09, "industry_typed"),
    (0.12, "abbrev"),
    (0.10, "noisy"),
    (0.09, "conversational"),
];

/// Whether a comma may follow `text` without gluing onto a symbol chunk
/// ("$80k+," would cut the span that ends at "+").
fn comma_ok(text: &str) -> bool {
    text.ends_with(char::is_alphanumeric)
}

impl Gen<'_> {
    /// One hand-written-looking criteria query and its family name.
    pub fn typed(&self, rng: &mut Rng) -> (Vec<Part>, &'static str) {
        let family = *rng.pick_weighted(FAMILIES);
        let mut parts = match family {
            "list" => self.listed(rng),
            "qualified_place" => self.around_place(rng, |g, rng| g.qualified_place(rng)),
            "postcode" => self.postcode(rng),
            "metro" => self.around_place(rng, |_, rng| {
                let m = *rng.pick(lists::METROS);
                if rng.chance(0.15) {
                    m.to_uppercase()
                } else {
                    m.to_string()
                }
            }),
            "company_only" => self.company_only(rng),
            "company_filter" => self.company_filter(rng),
            "no_preposition" => self.no_preposition(rng),
            "industry_typed" => self.industry_typed(rng),
            "abbrev" => self.abbrev(rng),
            "noisy" => self.noisy(rng),
            _ => self.conversational(rng),
        };
        if !matches!(family, "conversational" | "company_only") {
            self.chat(rng, &mut parts, 0.08);
        }
        (parts, family)
    }

    /// Values of one tool joined as people list them: "a or b",
    /// "a, b or c", "a,b", "a / b"; one call per value.
    fn list_of(&self, rng: &mut Rng, tool: ToolName, key: &'static str, values: &[String]) -> Part {
        let style = rng.weighted(&[0.40, 0.16, 0.22, 0.08, 0.08, 0.06]);
        let mut part = Part::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                let last = i + 1 == values.len();
                let comma = comma_ok(&part.text);
                let sep = match style {
                    0 if comma && !last => ", ",
                    0 => " or ",
                    1 if comma && !last => ", ",
                    1 => " and ",
                    2 if comma => ", ",
                    // "a,b" only where b starts a word: ",'s-hertogenbosch"
                    // is not one.
                    3 if comma && v.starts_with(char::is_alphanumeric) => ",",
                    4 => " / ",
                    5 => " & ",
                    _ => " or ",
                };
                part = part.raw(sep);
            }
            part = append_raw(part, &Part::new().span(tool, key, v));
        }
        part
    }

    /// Two or three distinct values from `draw`.
    fn distinct(&self, rng: &mut Rng, draw: impl Fn(&Gen, &mut Rng) -> String) -> Vec<String> {
        let n = if rng.chance(0.75) { 2 } else { 3 };
        let mut out: Vec<String> = Vec::new();
        for _ in 0..12 {
            if out.len() == n {
                break;
            }
            let v = draw(self, rng);
            if !out
                .iter()
                .any(|x| quarry::text::key(x) == quarry::text::key(&v))
            {
                out.push(v);
            }
        }
        out
    }

    /// "nurse or midwife jobs in leeds", "berlin or munich",
    /// "google, meta or amazon".
    fn listed(&self, rng: &mut Rng) -> Vec<Part> {
        match rng.below(3) {
            0 => {
                let places = self.distinct(rng, |g, rng| g.place(rng));
                let list = self.list_of(rng, ToolName::Location, "location", &places);
                let mut parts = Vec::new();
                if rng.chance(0.75) {
                    parts.push(self.role(rng));
                    if rng.chance(0.5) {
                        parts.push(Self::jobs_word(rng));
                    }
                } else if rng.chance(0.5) {
                    parts.push(Self::jobs_word(rng));
                }
                let prep = *rng.pick(&["in", "in", "", "near", "around"]);
                parts.push(Part::plain(prep).join(&list));
                parts
            }
            1 => {
                let titles = self.distinct(rng, |g, rng| {
                    if rng.chance(0.2) {
                        rng.pick(g.side(&g.pools.abbrev_titles)).to_string()
                    } else {
                        g.plain_title(rng).to_lowercase()
                    }
                });
                let mut parts = vec![self.list_of(rng, ToolName::Title, "title", &titles)];
                if rng.chance(0.6) {
                    parts.push(Self::jobs_word(rng));
                }
                if rng.chance(0.6) {
                    parts.push(self.location_part(rng));
                }
                parts
            }
            _ => {
                let companies = self.distinct(rng, |g, rng| g.company(rng));
                let list = self.list_of(rng, ToolName::Company, "company", &companies);
                match rng.below(4) {
                    0 => vec![list],
                    1 => vec![
                        Part::plain(*rng.pick(&["jobs at", "roles at", "openings at"])).join(&list),
                    ],
                    2 => vec![list, Self::jobs_word(rng)],
                    _ => vec![self.role(rng), Part::plain("at").join(&list)],
                }
            }
        }
    }

    /// A city with a short state or country qualifier, as one location:
    /// "austin tx", "portland, or", "london uk", "toronto,on".
    fn qualified_place(&self, rng: &mut Rng) -> String {
        if rng.chance(0.35) {
            return rng.pick(lists::QUALIFIED_PLACES).to_string();
        }
        for _ in 0..8 {
            let city = self.pools.city(rng, self.split).clone();
            let country = lists::COUNTRY_QUALIFIERS
                .iter()
                .find(|(code, _)| *code == city.country_code)
                .map(|(_, qs)| *qs);
            let qualifier = match (&city.region_code, country) {
                (Some(code), Some(qs)) => {
                    if rng.chance(0.7) {
                        code.clone()
                    } else {
                        rng.pick(qs).to_string()
                    }
                }
                (Some(code), None) => code.clone(),
                (None, Some(qs)) => rng.pick(qs).to_string(),
                (None, None) => continue,
            };
            let qualifier = if rng.chance(0.25) {
                qualifier.to_uppercase()
            } else {
                qualifier
            };
            let glue = *rng.pick(&[" ", " ", ", ", ","]);
            return format!("{}{glue}{qualifier}", city.name);
        }
        rng.pick(lists::QUALIFIED_PLACES).to_string()
    }

    /// A role (or none) around a place written by `place`.
    fn around_place(&self, rng: &mut Rng, place: impl Fn(&Gen, &mut Rng) -> String) -> Vec<Part> {
        let text = place(self, rng);
        let prep = *rng.pick(&["in", "in", "", "", "near", "around", "based in"]);
        let loc = Part::plain(prep).span(ToolName::Location, "location", &text);
        let mut parts = Vec::new();
        let with_role = rng.chance(0.8);
        if with_role {
            parts.push(self.role(rng));
        }
        if !with_role || rng.chance(0.4) {
            parts.push(Self::jobs_word(rng));
        }
        if rng.chance(0.15) && with_role {
            // "austin tx software engineer"
            parts.insert(0, Part::new().span(ToolName::Location, "location", &text));
        } else {
            parts.push(loc);
        }
        if rng.chance(0.35) {
            for slot in draw_slots(rng, 1, &[Slot::Location, Slot::Filler]) {
                parts.push(self.slot_part(rng, slot));
            }
        }
        parts
    }

    /// Zip codes and postcodes, alone ("nurse jobs 10001") or with their
    /// place, which they qualify: one location ("london sw1a").
    fn postcode(&self, rng: &mut Rng) -> Vec<Part> {
        let (code, city) = *rng.pick(lists::POSTCODES);
        let code = if rng.chance(0.5) {
            code.to_lowercase()
        } else {
            code.to_string()
        };
        let text = match rng.below(4) {
            0 | 1 => code,
            2 => format!("{city} {code}"),
            _ => format!("{city}, {code}"),
        };
        let prep = *rng.pick(&["in", "near", "", "", "within 10 miles of", "around"]);
        let mut parts = Vec::new();
        if rng.chance(0.8) {
            parts.push(self.role(rng));
        }
        if parts.is_empty() || rng.chance(0.4) {
            parts.push(Self::jobs_word(rng));
        }
        parts.push(Part::plain(prep).span(ToolName::Location, "location", &text));
        parts
    }

    /// "stripe", "jobs at deloitte", "mckinsey careers": no title call.
    fn company_only(&self, rng: &mut Rng) -> Vec<Part> {
        let company = self.company(rng);
        let template = *rng.pick(lists::COMPANY_ONLY);
        vec![fill(template, |_| {
            Part::new().span(ToolName::Company, "company", &company)
        })]
    }

    /// "remote jobs at shopify", "amazon internships", "netflix posted this
    /// week": a company and a filter, no title.
    fn company_filter(&self, rng: &mut Rng) -> Vec<Part> {
        let company = Part::new().span(ToolName::Company, "company", &self.company(rng));
        if rng.chance(0.25) {
            let (word, intern) = *rng.pick(&[
                ("internships", true),
                ("summer internships", true),
                ("intern", true),
                ("internship", true),
                ("new grad", false),
                ("entry level", false),
                ("graduate scheme", false),
            ]);
            let level = if intern { "internship" } else { "entry_level" };
            let mut part = Part::plain(word).tag(ToolName::Seniority, "level", level);
            if intern {
                part = part.tag(ToolName::EmploymentType, "type", "internship");
            }
            let mut parts = vec![company, part];
            if !intern || rng.chance(0.3) {
                parts.push(Self::jobs_word(rng));
            }
            return parts;
        }
        let slot = *rng.pick(&[
            Slot::Workplace,
            Slot::Employment,
            Slot::Date,
            Slot::EasyApply,
            Slot::Location,
            Slot::Salary,
            Slot::Applicants,
        ]);
        let filter = self.slot_part(rng, slot);
        match rng.below(3) {
            // "remote jobs at shopify"
            0 => vec![
                filter,
                Self::jobs_word(rng),
                Part::plain("at").join(&company),
            ],
            // "netflix posted this week"
            1 => vec![company, filter],
            // "shopify jobs remote"
            _ => vec![company, Self::jobs_word(rng), filter],
        }
    }

    /// No prepositions: "pipe welder lyon", "google software engineer",
    /// "nurse mayo clinic", "berlin data analyst".
    fn no_preposition(&self, rng: &mut Rng) -> Vec<Part> {
        let role = self.role(rng);
        match rng.below(4) {
            0 | 1 => {
                let place = Part::new().span(ToolName::Location, "location", &self.place(rng));
                if rng.chance(0.8) {
                    vec![role, place]
                } else {
                    vec![place, role]
                }
            }
            2 => {
                let company = Part::new().span(ToolName::Company, "company", &self.company(rng));
                vec![company, role]
            }
            _ => {
                let company = Part::new().span(ToolName::Company, "company", &self.company(rng));
                let mut parts = vec![role, company];
                if rng.chance(0.3) {
                    parts.push(Part::new().span(ToolName::Location, "location", &self.place(rng)));
                }
                parts
            }
        }
    }

    /// "aerospace jobs", "shipbuilding careers in norway", "fintech
    /// product manager".
    fn industry_typed(&self, rng: &mut Rng) -> Vec<Part> {
        let industry = self.industry(rng);
        let ind = Part::new().span(ToolName::Industry, "industry", &industry);
        match rng.below(4) {
            0 => {
                let mut parts = vec![ind, self.role(rng)];
                if rng.chance(0.3) {
                    parts.push(Self::jobs_word(rng));
                }
                if rng.chance(0.3) {
                    parts.push(self.location_part(rng));
                }
                parts
            }
            1 => {
                let word = *rng.pick(&["jobs", "careers", "roles", "companies hiring", "work"]);
                vec![ind, Part::plain(word).jobs(), self.location_part(rng)]
            }
            2 => {
                let word = *rng.pick(&[
                    "jobs",
                    "careers",
                    "industry jobs",
                    "sector jobs",
                    "startups hiring",
                    "companies",
                    "hiring",
                ]);
                vec![ind, Part::plain(word).jobs()]
            }
            _ => {
                let lead =
                    *rng.pick(&["jobs in", "careers in", "working in", "roles in", "work in"]);
                let mut parts = vec![Part::plain(lead).join(&ind)];
                if rng.chance(0.4) {
                    parts.push(self.location_part(rng));
                }
                parts
            }
        }
    }

    /// "sr swe remote", "rn jobs in dallas", "hr bp london", "sde intern".
    fn abbrev(&self, rng: &mut Rng) -> Vec<Part> {
        let base = rng.pick(self.side(&self.pools.abbrev_titles)).to_string();
        let text = match rng.weighted(&[0.72, 0.12, 0.08, 0.08]) {
            1 => format!("{} {base}", rng.pick(&["sr", "senior", "sr.", "snr"])),
            2 => format!("{} {base}", rng.pick(&["jr", "junior", "entry level"])),
            3 => format!("{base} {}", rng.pick(&["intern", "internship"])),
            _ => base,
        };
        let mut parts = vec![title_or_plain(&text)];
        if rng.chance(0.4) {
            parts.push(Self::jobs_word(rng));
        }
        let n = rng.weighted(&[0.3, 0.5, 0.2]);
        for slot in draw_slots(rng, n, &[Slot::Filler]) {
            parts.push(self.slot_part(rng, slot));
        }
        parts
    }

    /// Typos in titles, places and companies, glued commas; the caller
    /// shouts or title-cases it (see `scenario::noisy_case`).
    fn noisy(&self, rng: &mut Rng) -> Vec<Part> {
        let mut title = self.plain_title(rng);
        if rng.chance(0.6) {
            title = typo(rng, &title);
        }
        let mut part = title_or_plain(&title);
        let mut extras: Vec<Part> = Vec::new();
        if rng.chance(0.75) {
            let mut place = self.place(rng);
            if rng.chance(0.6) {
                place = typo(rng, &place);
            }
            let prep = *rng.pick(&["in", "", ""]);
            extras.push(Part::plain(prep).span(ToolName::Location, "location", &place));
        }
        if extras.is_empty() || rng.chance(0.35) {
            let mut company = self.company(rng);
            if rng.chance(0.6) {
                company = typo(rng, &company);
            }
            extras.push(Part::plain("at").span(ToolName::Company, "company", &company));
        }
        if rng.chance(0.3) {
            extras.push(self.slot_part(rng, Slot::Workplace));
        }
        let glued = rng.chance(0.4);
        for extra in extras {
            // "nurse,leeds,remote": no space after commas, unless the next
            // span starts with a mark ("'s-Hertogenbosch"), which a comma
            // would glue into one word.
            if glued && comma_ok(&part.text) && extra.text.starts_with(char::is_alphanumeric) {
                part = append_raw(part.raw(","), &extra);
            } else {
                part = part.join(&extra);
            }
        }
        vec![part]
    }

    /// Ten words or more: "hi, i'm looking for something in accounting,
    /// ideally remote, paying at least 70k".
    fn conversational(&self, rng: &mut Rng) -> Vec<Part> {
        let mut parts = vec![Part::plain(*rng.pick(lists::CONVO_OPENERS))];
        if rng.chance(0.4) {
            let ind = Part::new().span(ToolName::Industry, "industry", &self.industry(rng));
            parts.push(Part::plain(*rng.pick(lists::CONVO_SOMETHING)).join(&ind));
        } else {
            let article = *rng.pick(&["a", "a", "", "some"]);
            parts.push(Part::plain(article).join(&self.role(rng)));
            parts.push(Part::plain(*rng.pick(&["job", "role", "position", "jobs"])).jobs());
        }
        let mut slots = vec![Slot::Location];
        if rng.chance(0.4) {
            slots.push(Slot::Salary);
        }
        let exclude = [Slot::Location, Slot::Filler, Slot::Salary];
        let n = rng.range(1, 2);
        slots.extend(draw_slots(rng, n, &exclude));
        for slot in slots {
            let extra = if slot == Slot::Location {
                // A bare place after a comma reads as a list item.
                let prep = *rng.pick(&["in", "in", "near", "around", "based in"]);
                Part::plain(prep).span(ToolName::Location, "location", &self.place(rng))
            } else {
                self.slot_part(rng, slot)
            };
            // The salary part brings its own "paying", "salary".
            let link = match slot {
                Slot::Location | Slot::Salary => "",
                _ => *rng.pick(lists::CONVO_LINKS),
            };
            if let Some(last) = parts.last_mut().filter(|p| comma_ok(&p.text)) {
                if rng.chance(0.7) {
                    last.text.push(',');
                }
            }
            parts.push(Part::plain(link).join(&extra));
        }
        let words: usize = parts
            .iter()
            .map(|p| p.text.split_whitespace().count())
            .sum();
        if words < 10 || rng.chance(0.4) {
            if let Some(last) = parts.last_mut().filter(|p| comma_ok(&p.text)) {
                last.text.push(',');
            }
            parts.push(Part::plain(*rng.pick(lists::CONVO_CLOSERS)));
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use quarry::{Intent, ToolName};

    use super::super::pools::{Pools, Split};
    use super::super::scenario::{Gen, WithProfile};
    use super::FAMILIES;
    use crate::rng::Rng;

    /// Filler words of the foreign templates that must never be a span.
    const FILLER: &[&str] = &[
        "de", "en", "em", "in", "ki", "la", "a", "à", "mein", "als", "mujhe", "chahiye", "naukri",
        "ke", "liye", "jobs", "job", "trabajo", "empleo", "emploi", "vagas", "vaga", "emprego",
    ];

    fn training_gen(pools: &Pools) -> Gen<'_> {
        Gen {
            pools,
            split: Split::Train,
        }
    }

    #[test]
    fn a_list_glues_no_comma_onto_a_value_that_starts_with_a_mark() {
        let pools = Pools::load().unwrap();
        let gen = training_gen(&pools);
        let values = ["scunthorpe".to_string(), "'s-hertogenbosch".to_string()];
        for seed in 0..200 {
            let part = gen.list_of(&mut Rng::new(seed), ToolName::Location, "location", &values);
            assert!(!part.text.contains(",'"), "{}", part.text);
        }
    }

    #[test]
    fn typed_families_label_as_the_contract_says() {
        let pools = Pools::load().unwrap();
        let gen = training_gen(&pools);
        let mut rng = Rng::new(17);
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for _ in 0..4000 {
            let s = gen.scenario(&mut rng, Intent::CriteriaSearch, WithProfile::Never);
            *seen.entry(s.family).or_default() += 1;
            let count = |tool: ToolName| s.calls.iter().filter(|c| c.name == tool).count();
            for call in &s.calls {
                if let Some(text) = call.name.text_argument().and_then(|k| call.text(k)) {
                    let key = quarry::text::key(text);
                    // "la" is Los Angeles in English queries.
                    let filler = FILLER.contains(&key.as_str()) && (s.lang != "en" || key != "la");
                    assert!(!filler, "`{text}` in {}", s.query);
                }
            }
            match s.family {
                "company_only" | "company_filter" => {
                    assert_eq!(count(ToolName::Title), 0, "{}", s.query);
                    assert!(count(ToolName::Company) >= 1, "{}", s.query);
                }
                "conversational" => {
                    assert!(s.query.split_whitespace().count() >= 10, "{}", s.query)
                }
                "list" => {
                    let most = [ToolName::Title, ToolName::Company, ToolName::Location]
                        .into_iter()
                        .map(count)
                        .max()
                        .unwrap();
                    assert!(most >= 2, "{}", s.query);
                }
                "abbrev" => assert_eq!(count(ToolName::Title), 1, "{}", s.query),
                "industry_typed" => assert!(count(ToolName::Industry) >= 1, "{}", s.query),
                _ => {}
            }
        }
        for (_, family) in FAMILIES {
            assert!(
                seen.get(family).copied().unwrap_or(0) >= 20,
                "{family}: {seen:?}"
            );
        }
    }
}
