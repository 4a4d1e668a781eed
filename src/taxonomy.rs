//! Reference data: the gazetteer, the industry taxonomy and currencies,
//! which tool execution needs at run time, plus job titles and employers
//! ([`Lexicon`]), which the prompt layer's annotations ([`crate::lexicon`])
//! and data generation need. The files under `models/taxonomy/` are derived
//! from registry packages by `scripts/taxonomy/derive.sh`. All of them are
//! embedded in the binary, so every target resolves and annotates places,
//! titles and employers identically with no I/O.

use std::collections::{HashMap, HashSet};

use rustc_hash::FxHashMap;
use std::sync::OnceLock;

use crate::error::{QuarryError, Result};
use crate::text::{key, words};

/// The taxonomy files' text, by name. [`Taxonomy::parse`] takes these so
/// that a caller can also supply files of its own (tests, a newer release).
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    pub places: &'a str,
    pub industries: &'a str,
    pub industry_aliases: &'a str,
    pub currencies: &'a str,
    pub titles: &'a str,
    pub companies: &'a str,
}

impl Sources<'static> {
    /// The files committed under `models/taxonomy/`.
    pub const EMBEDDED: Sources<'static> = Sources {
        places: include_str!("../models/taxonomy/places.tsv"),
        industries: include_str!("../models/taxonomy/industries.tsv"),
        industry_aliases: include_str!("../models/taxonomy/industry_aliases.tsv"),
        currencies: include_str!("../models/taxonomy/currencies.tsv"),
        titles: include_str!("../models/taxonomy/titles.txt"),
        companies: include_str!("../models/taxonomy/companies.txt"),
    };

    /// Total bytes of the embedded files (what a browser download carries).
    pub fn embedded_bytes() -> usize {
        let s = Sources::EMBEDDED;
        [
            s.places,
            s.industries,
            s.industry_aliases,
            s.currencies,
            s.titles,
            s.companies,
        ]
        .iter()
        .map(|f| f.len())
        .sum()
    }
}

/// All reference data, parsed and indexed.
#[derive(Debug)]
pub struct Taxonomy {
    pub gazetteer: Gazetteer,
    pub industries: Industries,
    /// Job titles (O*NET-derived) and employers: known names for annotation.
    pub titles: Lexicon,
    pub companies: Lexicon,
    currencies: HashMap<String, String>,
}

impl Taxonomy {
    /// The embedded taxonomy, parsed once per process.
    pub fn embedded() -> &'static Taxonomy {
        static TAXONOMY: OnceLock<Taxonomy> = OnceLock::new();
        TAXONOMY.get_or_init(|| {
            Taxonomy::parse(Sources::EMBEDDED).expect("embedded taxonomy is checked by tests")
        })
    }

    pub fn parse(sources: Sources<'_>) -> Result<Taxonomy> {
        let currencies = rows("currencies.tsv", sources.currencies, 2)?
            .into_iter()
            .map(|(_, cols)| (cols[0].to_ascii_uppercase(), cols[1].to_ascii_uppercase()))
            .collect();
        Ok(Taxonomy {
            gazetteer: Gazetteer::parse(sources.places)?,
            industries: Industries::parse(sources.industries, sources.industry_aliases)?,
            titles: Lexicon::parse("titles.txt", sources.titles)?,
            companies: Lexicon::parse("companies.txt", sources.companies)?,
            currencies,
        })
    }

    /// ISO 4217 code of a country's currency, by ISO 3166 alpha-2 code.
    pub fn currency_of(&self, country_code: &str) -> Option<&str> {
        self.currencies.get(country_code).map(String::as_str)
    }
}

/// Splits a TSV file into rows of exactly `columns` fields, skipping the
/// header; yields 1-based line numbers for error messages.
fn rows<'a>(
    file: &'static str,
    text: &'a str,
    columns: usize,
) -> Result<Vec<(usize, Vec<&'a str>)>> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate().skip(1) {
        if line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != columns {
            return Err(QuarryError::Taxonomy {
                file,
                line: index + 1,
                reason: format!("expected {columns} columns, found {}", cols.len()),
            });
        }
        out.push((index + 1, cols));
    }
    Ok(out)
}

fn number<T: std::str::FromStr>(file: &'static str, line: usize, field: &str) -> Result<T> {
    field.parse().map_err(|_| QuarryError::Taxonomy {
        file,
        line,
        reason: format!("`{field}` is not a number"),
    })
}

/// What a gazetteer entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceKind {
    City,
    Admin1,
    Country,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub geoname_id: u32,
    pub kind: PlaceKind,
    pub name: String,
    /// Admin-1 region name; empty for regions and countries themselves.
    pub admin1: String,
    pub country: String,
    pub country_code: String,
    pub population: u64,
}

/// Places indexed by every name and alias, in [`key`] form.
#[derive(Debug)]
pub struct Gazetteer {
    places: Vec<Place>,
    by_key: FxHashMap<String, Vec<u32>>,
}

impl Gazetteer {
    fn parse(text: &str) -> Result<Gazetteer> {
        const FILE: &str = "places.tsv";
        let rows = rows(FILE, text, 8)?;
        let mut places = Vec::with_capacity(rows.len());
        let mut by_key: FxHashMap<String, Vec<u32>> =
            FxHashMap::with_capacity_and_hasher(rows.len() * 3, Default::default());
        for (line, c) in rows {
            let kind = match c[1] {
                "city" => PlaceKind::City,
                "admin1" => PlaceKind::Admin1,
                "country" => PlaceKind::Country,
                other => {
                    return Err(QuarryError::Taxonomy {
                        file: FILE,
                        line,
                        reason: format!("unknown kind `{other}`"),
                    })
                }
            };
            let index = places.len() as u32;
            let place = Place {
                geoname_id: number(FILE, line, c[0])?,
                kind,
                name: c[2].to_string(),
                admin1: c[3].to_string(),
                country: c[4].to_string(),
                country_code: c[5].to_string(),
                population: number(FILE, line, c[6])?,
            };
            let names = std::iter::once(place.name.as_str()).chain(c[7].split('|'));
            for k in names.map(key).filter(|k| !k.is_empty()) {
                let entries = by_key.entry(k).or_default();
                // Aliases may repeat the name; index a place once per key.
                if entries.last() != Some(&index) {
                    entries.push(index);
                }
            }
            places.push(place);
        }
        Ok(Gazetteer { places, by_key })
    }

    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// Every place that `name` (any casing or punctuation) may denote.
    pub fn lookup(&self, name: &str) -> impl Iterator<Item = &Place> {
        self.by_key
            .get(&key(name))
            .into_iter()
            .flatten()
            .map(|&i| &self.places[i as usize])
    }

    /// Resolves free text ("naples", "paris tx", "london, ontario",
    /// "Naples, Florida, United States") to one place.
    ///
    /// A qualifier (a region or country after the name) filters the
    /// candidates. Among what remains, the best-known place wins unless the
    /// member's home or a country hinted by the query (a currency, a
    /// language) makes a smaller one the likelier reading.
    pub fn resolve(&self, text: &str, hints: &PlaceHints<'_>) -> Option<&Place> {
        let mut candidates = self.candidates(text);
        // A city that shares its region's name is what people mean by the
        // name ("new york" jobs are in the city).
        let named_after: Vec<(String, String)> = candidates
            .iter()
            .filter(|p| p.kind == PlaceKind::City)
            .map(|p| (p.country_code.clone(), p.admin1.clone()))
            .collect();
        candidates.retain(|p| {
            p.kind != PlaceKind::Admin1
                || !named_after
                    .iter()
                    .any(|(cc, a1)| *cc == p.country_code && *a1 == p.name)
        });
        candidates.into_iter().max_by(|a, b| {
            self.score(a, hints)
                .total_cmp(&self.score(b, hints))
                .then(b.geoname_id.cmp(&a.geoname_id))
        })
    }

    fn candidates(&self, text: &str) -> Vec<&Place> {
        // "City, Region, Country": the first part is the place, the rest qualify it.
        let parts: Vec<String> = text.split(',').map(key).filter(|p| !p.is_empty()).collect();
        if parts.len() > 1 {
            let found = self.qualified(&parts[0], &parts[1..]);
            if !found.is_empty() {
                return found;
            }
        }
        let words: Vec<&str> = parts
            .first()
            .map(|p| p.split(' ').collect())
            .unwrap_or_default();
        for trimmed in trims(&words) {
            let whole = trimmed.join(" ");
            // "paris tx", "cambridge uk": the longest head whose tail qualifies it.
            for split in (1..trimmed.len()).rev() {
                let head = trimmed[..split].join(" ");
                let tail = trimmed[split..].join(" ");
                let found = self.qualified(&head, &[tail]);
                if !found.is_empty() && !self.by_key.contains_key(&whole) {
                    return found;
                }
            }
            let found: Vec<&Place> = self.lookup(&whole).collect();
            if !found.is_empty() {
                return found;
            }
        }
        Vec::new()
    }

    /// Places named `head` that lie in every region or country of `qualifiers`.
    fn qualified(&self, head: &str, qualifiers: &[String]) -> Vec<&Place> {
        let regions: Vec<Vec<&Place>> = qualifiers
            .iter()
            .map(|q| {
                self.lookup(q)
                    .filter(|p| p.kind != PlaceKind::City)
                    .collect::<Vec<_>>()
            })
            .collect();
        if regions.iter().any(Vec::is_empty) {
            return Vec::new();
        }
        self.lookup(head)
            .filter(|place| {
                regions
                    .iter()
                    .all(|options| options.iter().any(|region| contains(region, place)))
            })
            .collect()
    }

    fn score(&self, place: &Place, hints: &PlaceHints<'_>) -> f64 {
        let mut score = (place.population as f64 + 1.0).ln();
        // A city of the same name as its region is what people usually mean
        // ("new york" jobs).
        if place.kind == PlaceKind::City {
            score += 1.0;
        }
        if let Some(home) = hints.home {
            if place.country_code == home.country_code {
                score += 3.5;
                let region = if home.kind == PlaceKind::Admin1 {
                    &home.name
                } else {
                    &home.admin1
                };
                let place_region = if place.kind == PlaceKind::Admin1 {
                    &place.name
                } else {
                    &place.admin1
                };
                if !region.is_empty() && region == place_region {
                    score += 6.0;
                }
            }
        }
        if hints.countries.iter().any(|c| *c == place.country_code) {
            score += 5.0;
        }
        score
    }
}

/// Whether region (an admin1 or country entry) contains `place`.
fn contains(region: &Place, place: &Place) -> bool {
    region.country_code == place.country_code
        && match region.kind {
            PlaceKind::Country => place.kind != PlaceKind::Country,
            PlaceKind::Admin1 => place.kind == PlaceKind::City && place.admin1 == region.name,
            PlaceKind::City => false,
        }
}

/// The words of a place phrase, then with filler trimmed ("greater london",
/// "bay area region", "downtown austin").
fn trims<'a>(words: &[&'a str]) -> Vec<Vec<&'a str>> {
    const LEADING: &[&str] = &["greater", "metro", "downtown", "central", "the", "city of"];
    const TRAILING: &[&str] = &[
        "area", "metro", "region", "city", "county", "state", "province",
    ];
    let mut out = vec![words.to_vec()];
    let mut current = words.to_vec();
    while current.len() > 1 && LEADING.contains(&current[0]) {
        current.remove(0);
        out.push(current.clone());
    }
    while current.len() > 1 && TRAILING.contains(current.last().unwrap_or(&"")) {
        current.pop();
        out.push(current.clone());
    }
    out
}

/// What besides the text helps pick among places of one name.
#[derive(Debug, Default, Clone)]
pub struct PlaceHints<'a> {
    /// Where the member lives (their resolved profile location).
    pub home: Option<&'a Place>,
    /// Countries (ISO alpha-2) the query itself points to.
    pub countries: Vec<&'a str>,
}

/// One industry of LinkedIn's taxonomy.
#[derive(Debug, Clone, PartialEq)]
pub struct Industry {
    pub code: u32,
    pub name: String,
    pub groups: Vec<String>,
    pub group_names: Vec<String>,
}

/// The industry taxonomy, with the phrases people use for each entry.
#[derive(Debug)]
pub struct Industries {
    list: Vec<Industry>,
    by_key: HashMap<String, usize>,
}

impl Industries {
    fn parse(industries: &str, aliases: &str) -> Result<Industries> {
        const FILE: &str = "industries.tsv";
        let mut list = Vec::new();
        let mut by_key = HashMap::new();
        for (line, c) in rows(FILE, industries, 4)? {
            let split = |s: &str| {
                s.split(',')
                    .filter(|g| !g.is_empty())
                    .map(str::to_string)
                    .collect()
            };
            by_key.insert(key(c[1]), list.len());
            list.push(Industry {
                code: number(FILE, line, c[0])?,
                name: c[1].to_string(),
                groups: split(c[2]),
                group_names: split(c[3]),
            });
        }
        for (line, c) in rows("industry_aliases.tsv", aliases, 2)? {
            let target = by_key
                .get(&key(c[1]))
                .copied()
                .ok_or_else(|| QuarryError::Taxonomy {
                    file: "industry_aliases.tsv",
                    line,
                    reason: format!("`{}` is not an industry name", c[1]),
                })?;
            by_key.entry(key(c[0])).or_insert(target);
        }
        Ok(Industries { list, by_key })
    }

    pub fn all(&self) -> &[Industry] {
        &self.list
    }

    /// The entry whose name or alias is exactly `text` (any casing or
    /// punctuation); unlike [`Industries::resolve`], no fuzzy matching.
    pub fn named(&self, text: &str) -> Option<&Industry> {
        self.by_key.get(&key(text)).map(|&i| &self.list[i])
    }

    /// The entry spelled exactly `name`.
    pub fn by_name(&self, name: &str) -> Option<&Industry> {
        self.list.iter().find(|i| i.name == name)
    }

    /// Maps what a member typed to a taxonomy entry: a name or alias, the
    /// same with "industry"/"sector" dropped, the longest known phrase inside
    /// it ("healthcare startups"), or a close spelling ("helthcare").
    pub fn resolve(&self, text: &str) -> Option<&Industry> {
        let words: Vec<String> = crate::text::words(text);
        if words.is_empty() {
            return None;
        }
        let get = |k: &str| self.by_key.get(k).map(|&i| &self.list[i]);
        const FILLER: &[&str] = &[
            "industry",
            "industries",
            "sector",
            "space",
            "field",
            "companies",
            "company",
            "firms",
            "startups",
            "startup",
        ];
        let core: Vec<&str> = words
            .iter()
            .map(String::as_str)
            .filter(|w| !FILLER.contains(w))
            .collect();
        if let Some(found) = get(&words.join(" ")).or_else(|| get(&core.join(" "))) {
            return Some(found);
        }
        for len in (1..words.len()).rev() {
            for window in words.windows(len) {
                if let Some(found) = get(&window.join(" ")) {
                    return Some(found);
                }
            }
        }
        // One slip in ten letters ("helthcare"); short words are too easy
        // to confuse to guess at.
        let wanted = core.join(" ");
        if wanted.chars().count() < 5 {
            return None;
        }
        self.by_key
            .iter()
            .map(|(k, &i)| (strsim::normalized_damerau_levenshtein(&wanted, k), i))
            .filter(|(similarity, _)| *similarity >= 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
            .map(|(_, i)| &self.list[i])
    }
}

/// A list of known names (titles, employers) with case-insensitive lookup.
#[derive(Debug)]
pub struct Lexicon {
    names: Vec<String>,
    by_key: HashMap<String, usize>,
    /// Every word of every name, built on first use (start-up stays lean).
    words: OnceLock<HashSet<String>>,
}

impl Lexicon {
    /// Parses a one-column list with a header line (`titles.txt`,
    /// `companies.txt`).
    pub fn parse(file: &'static str, text: &str) -> Result<Lexicon> {
        let names: Vec<String> = text
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            return Err(QuarryError::Taxonomy {
                file,
                line: 1,
                reason: "no entries".into(),
            });
        }
        let by_key = names.iter().enumerate().map(|(i, n)| (key(n), i)).collect();
        Ok(Lexicon {
            names,
            by_key,
            words: OnceLock::new(),
        })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Is `word` (one word, any case) part of some known name?
    pub fn has_word(&self, word: &str) -> bool {
        self.words
            .get_or_init(|| self.names.iter().flat_map(|n| words(n)).collect())
            .contains(&word.to_lowercase())
    }

    /// The canonical spelling of `text`, if it is a known name.
    pub fn canonical(&self, text: &str) -> Option<&str> {
        self.by_key.get(&key(text)).map(|&i| self.names[i].as_str())
    }
}
