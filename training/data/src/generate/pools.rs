//! The entities queries are made of: roles, employers, places, industries,
//! each split into a training part and a held-out part (about 10%, chosen
//! by a hash of the name, not by the seed, so every seed holds out the same
//! names and evaluation measures generalisation to unseen ones).

use std::collections::HashSet;

use quarry::taxonomy::{Industry, Lexicon, Sources, Taxonomy};
use quarry::text::key;

use super::lists;
use crate::rng::{hash_str, Rng};

const TITLES_TXT: &str = include_str!("../../../../models/taxonomy/titles.txt");
const COMPANIES_TXT: &str = include_str!("../../../../models/taxonomy/companies.txt");

/// Which side of the held-out split a generator draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// Whether a name is held out of training (about one in ten).
pub fn held_out(name: &str) -> bool {
    hash_str(&key(name)).is_multiple_of(10)
}

/// A list split by [`held_out`].
#[derive(Debug, Clone, Default)]
pub struct Parted<T> {
    pub train: Vec<T>,
    pub test: Vec<T>,
}

impl<T: Clone> Parted<T> {
    fn new(
        items: impl IntoIterator<Item = T>,
        name: impl Fn(&T) -> &str,
        exempt: impl Fn(&T) -> bool,
    ) -> Parted<T> {
        let mut out = Parted {
            train: Vec::new(),
            test: Vec::new(),
        };
        for item in items {
            if exempt(&item) {
                out.train.push(item.clone());
                out.test.push(item);
            } else if held_out(name(&item)) {
                out.test.push(item);
            } else {
                out.train.push(item);
            }
        }
        out
    }

    pub fn side(&self, split: Split) -> &[T] {
        match split {
            Split::Test if !self.test.is_empty() => &self.test,
            Split::Test => &self.train,
            Split::Train => &self.train,
        }
    }
}

fn strs(items: &[&'static str]) -> Parted<&'static str> {
    let ambiguous: HashSet<String> = lists::AMBIGUOUS.iter().map(|a| key(a)).collect();
    Parted::new(
        items.iter().copied(),
        |s| s,
        |s| ambiguous.contains(&key(s)),
    )
}

/// One city of the gazetteer.
#[derive(Debug, Clone)]
pub struct City {
    pub name: String,
    pub admin1: String,
    pub country: String,
    pub country_code: String,
    /// The admin-1 abbreviation people append ("tx", "on", "nsw").
    pub region_code: Option<String>,
    pub population: u64,
}

impl City {
    /// The profile form: "Naples, Florida, United States".
    pub fn profile_location(&self) -> String {
        // An admin-1 name with a comma ("Madrid, Comunidad de") would read
        // as two qualifiers.
        if self.admin1.is_empty() || self.admin1.contains(',') {
            format!("{}, {}", self.name, self.country)
        } else {
            format!("{}, {}, {}", self.name, self.admin1, self.country)
        }
    }
}

/// Countries weighted by how often queries name their cities.
const COUNTRY_WEIGHTS: &[(&str, f64, usize)] = &[
    ("US", 34.0, 500),
    ("GB", 9.0, 150),
    ("CA", 6.0, 100),
    ("IN", 7.0, 120),
    ("AU", 4.0, 60),
    ("DE", 5.0, 120),
    ("FR", 4.0, 100),
    ("ES", 3.0, 80),
    ("IT", 3.0, 80),
    ("NL", 2.0, 40),
    ("IE", 1.5, 15),
    ("BR", 1.5, 50),
    ("MX", 1.5, 50),
    ("SG", 0.5, 1),
    ("AE", 1.0, 6),
    ("ZA", 1.0, 25),
    ("NZ", 1.0, 15),
    ("CH", 1.0, 20),
    ("SE", 1.0, 20),
    ("PL", 1.0, 30),
    ("JP", 1.0, 40),
    ("PH", 1.0, 30),
    ("NG", 0.7, 20),
    ("KE", 0.5, 8),
    ("PT", 0.8, 15),
    ("BE", 0.8, 20),
    ("AT", 0.6, 10),
    ("AR", 0.7, 20),
    ("CO", 0.7, 20),
    ("IL", 0.5, 10),
    ("DK", 0.5, 10),
    ("NO", 0.5, 10),
    ("FI", 0.4, 10),
    ("CN", 0.8, 40),
    ("KR", 0.5, 20),
    ("EG", 0.4, 10),
    ("PK", 0.5, 15),
    ("TR", 0.5, 20),
    ("SA", 0.4, 10),
    ("CL", 0.4, 10),
];

pub struct Pools {
    pub taxonomy: &'static Taxonomy,
    pub titles: Parted<&'static str>,
    pub lexicon_titles: Parted<String>,
    pub short_titles: Parted<&'static str>,
    pub director_titles: Parted<&'static str>,
    pub executive_titles: Parted<&'static str>,
    pub tricky_titles: Parted<&'static str>,
    pub titles_es: Parted<&'static str>,
    pub titles_de: Parted<&'static str>,
    pub titles_fr: Parted<&'static str>,
    pub titles_it: Parted<&'static str>,
    pub titles_pt: Parted<&'static str>,
    /// Lower-case title abbreviations ("swe", "rn", "hr bp").
    pub abbrev_titles: Parted<&'static str>,
    pub companies: Parted<String>,
    pub curated_companies: Parted<&'static str>,
    /// Cities per country (most populous first), with the country's weight.
    pub cities: Vec<(f64, Parted<City>)>,
    pub ambiguous: Vec<Vec<City>>,
    pub cities_es: Parted<&'static str>,
    pub cities_de: Parted<&'static str>,
    pub cities_fr: Parted<&'static str>,
    pub cities_it: Parted<&'static str>,
    pub cities_pt: Parted<&'static str>,
    /// Admin-1 regions people search by (US states, provinces...).
    pub regions: Vec<String>,
    pub countries: Vec<String>,
    /// Industry phrases (names and aliases) with the entry they resolve to.
    pub industries: Vec<(String, &'static Industry)>,
    pub tricky_places: Vec<&'static str>,
    /// Keys of every held-out title, employer and city.
    pub held_out_names: HashSet<String>,
}

/// Words a title from the lexicon may not contain: they carry a seniority,
/// an employment type or a workplace, which the curated lists handle.
const TITLE_STOP_WORDS: &[&str] = &[
    "senior",
    "sr",
    "junior",
    "jr",
    "intern",
    "internship",
    "director",
    "chief",
    "vp",
    "vice",
    "president",
    "head",
    "executive",
    "graduate",
    "entry",
    "trainee",
    "remote",
    "part",
    "time",
    "contract",
    "temporary",
    "temp",
    "volunteer",
    "seasonal",
    "freelance",
    "hybrid",
    "today",
    "week",
    "month",
    "recent",
    "network",
    "easy",
    "apply",
    "ceo",
    "cfo",
    "cto",
    "jobs",
    "job",
    "work",
    "career",
    "careers",
    "roles",
    "positions",
];

/// Last words of real roles: a lexicon title must end in one, so that rare
/// oddities ("Nicker", "Bark Spudder") stay out.
const HEAD_NOUNS: &[&str] = &[
    "engineer",
    "developer",
    "manager",
    "technician",
    "tech",
    "assistant",
    "nurse",
    "analyst",
    "specialist",
    "designer",
    "operator",
    "driver",
    "teacher",
    "clerk",
    "coordinator",
    "representative",
    "consultant",
    "worker",
    "mechanic",
    "officer",
    "agent",
    "administrator",
    "supervisor",
    "therapist",
    "scientist",
    "architect",
    "writer",
    "editor",
    "planner",
    "inspector",
    "installer",
    "electrician",
    "attendant",
    "instructor",
    "advisor",
    "adviser",
    "counselor",
    "counsellor",
    "accountant",
    "associate",
    "aide",
    "cook",
    "chef",
    "cashier",
    "receptionist",
    "secretary",
    "programmer",
    "producer",
    "photographer",
    "artist",
    "tester",
    "estimator",
    "surveyor",
    "dispatcher",
    "scheduler",
    "buyer",
    "recruiter",
    "trainer",
    "tutor",
    "professor",
    "lecturer",
    "librarian",
    "pharmacist",
    "physician",
    "surgeon",
    "dentist",
    "hygienist",
    "paramedic",
    "guard",
    "investigator",
    "auditor",
    "bookkeeper",
    "controller",
    "economist",
    "statistician",
    "chemist",
    "biologist",
    "geologist",
    "physicist",
    "lawyer",
    "attorney",
    "paralegal",
    "nanny",
    "caregiver",
    "housekeeper",
    "janitor",
    "custodian",
    "cleaner",
    "landscaper",
    "gardener",
    "carpenter",
    "plumber",
    "welder",
    "machinist",
    "fitter",
    "painter",
    "roofer",
    "mason",
    "laborer",
    "handler",
    "packer",
    "loader",
    "stocker",
    "server",
    "bartender",
    "barista",
    "waiter",
    "waitress",
    "host",
    "baker",
    "butcher",
    "courier",
    "pilot",
    "translator",
    "interpreter",
    "journalist",
    "reporter",
    "copywriter",
    "strategist",
    "broker",
    "underwriter",
    "adjuster",
    "appraiser",
    "banker",
    "teller",
    "trader",
    "actuary",
    "psychologist",
    "midwife",
    "optician",
    "veterinarian",
    "groomer",
    "stylist",
    "barber",
    "cosmetologist",
    "esthetician",
    "actor",
    "musician",
    "dancer",
    "coach",
    "referee",
    "lifeguard",
    "ranger",
    "firefighter",
    "detective",
    "deputy",
    "dietitian",
    "nutritionist",
    "sonographer",
    "technologist",
    "radiographer",
    "phlebotomist",
    "farmer",
    "rancher",
    "miner",
    "driller",
    "rigger",
    "lineman",
    "glazier",
    "plasterer",
    "upholsterer",
    "tailor",
    "jeweler",
    "locksmith",
    "porter",
    "valet",
    "concierge",
    "chauffeur",
    "mover",
    "sorter",
    "assembler",
    "fabricator",
    "expeditor",
    "merchandiser",
    "salesperson",
    "promoter",
    "mentor",
    "advocate",
    "examiner",
    "inspector",
    "curator",
    "archivist",
    "animator",
    "illustrator",
    "videographer",
    "superintendent",
    "foreman",
    "lead",
    "dispatcher",
    "navigator",
    "steward",
    "housekeeper",
];

fn clean_name(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_alphabetic() || c == ' ' || c == '-' || c == '\'')
}

impl Pools {
    pub fn load() -> Result<Pools, String> {
        let taxonomy = Taxonomy::embedded();
        let err = |e: quarry::QuarryError| e.to_string();
        let titles = Lexicon::parse("titles.txt", TITLES_TXT).map_err(err)?;
        let companies = Lexicon::parse("companies.txt", COMPANIES_TXT).map_err(err)?;
        let curated: HashSet<String> = lists::TITLES.iter().map(|t| key(t)).collect();

        let mut lexicon_titles: Vec<String> = titles
            .names()
            .iter()
            .filter(|t| clean_name(t) && t.len() <= 28 && t.len() >= 4)
            .filter(|t| {
                let words = quarry::text::words(t);
                words.len() <= 3
                    && words
                        .last()
                        .is_some_and(|w| HEAD_NOUNS.contains(&w.as_str()))
                    && !words.iter().any(|w| TITLE_STOP_WORDS.contains(&w.as_str()))
                    && !curated.contains(&words.join(" "))
            })
            .cloned()
            .collect();
        // Shorter titles are the commoner ones: draws favour the front.
        lexicon_titles.sort_by(|a, b| {
            quarry::text::words(a)
                .len()
                .cmp(&quarry::text::words(b).len())
                .then(a.len().cmp(&b.len()))
                .then(a.cmp(b))
        });

        let mut seen: HashSet<String> = lists::COMPANIES.iter().map(|c| key(c)).collect();
        let lexicon_companies: Vec<String> = companies
            .names()
            .iter()
            .filter(|c| c.len() >= 3 && c.len() <= 30)
            .filter(|c| !c.contains('"') && !c.contains('\\') && !c.chars().any(char::is_control))
            .filter(|c| c.chars().any(char::is_alphabetic))
            .filter(|c| seen.insert(key(c)))
            .cloned()
            .collect();

        let (cities, ambiguous, regions, countries) = places()?;
        let mut industries: Vec<(String, &'static Industry)> = Vec::new();
        for industry in taxonomy.industries.all() {
            industries.push((industry.name.clone(), industry));
        }
        for line in Sources::EMBEDDED.industry_aliases.lines().skip(1) {
            let Some((alias, _)) = line.split_once('\t') else {
                continue;
            };
            const SKIP: &[&str] = &[
                "it",
                "pe",
                "ib",
                "vc",
                "hr",
                "ai",
                "ev",
                "ems",
                "cre",
                "pr",
                "tv",
                "gas",
                "web",
                "art",
                "tax",
                "law",
                "data",
                "design",
                "power",
                "print",
                "paper",
                "photo",
                "space",
                "sport",
                "trade",
                "games",
                "startup",
                "startups",
                "remote",
                "training",
                "teaching",
                "nursing",
                "editing",
                "delivery",
                "policy",
                "cloud",
                "school",
                "clinic",
                "courts",
                "navy",
                "army",
                "church",
                "farm",
                "gym",
                "hotel",
                "bank",
                "museum",
                "library",
                "restaurant",
                "hospital",
                "recruiting",
                "fulfillment",
                "stores",
                "shops",
                "dining",
            ];
            if SKIP.contains(&alias) || alias.len() < 3 {
                continue;
            }
            if let Some(industry) = taxonomy.industries.resolve(alias) {
                industries.push((alias.to_string(), industry));
            }
        }

        let mut pools = Pools {
            taxonomy,
            titles: strs(lists::TITLES),
            lexicon_titles: Parted::new(lexicon_titles, |s| s.as_str(), |_| false),
            short_titles: strs(lists::SHORT_TITLES),
            director_titles: strs(lists::DIRECTOR_TITLES),
            executive_titles: strs(lists::EXECUTIVE_TITLES),
            // Every look-alike is trained on: a dark-sounding title the
            // model never saw is denied, and the hand-written sets, not
            // the generated split, measure how far that generalises.
            tricky_titles: Parted::new(lists::TRICKY_TITLES.iter().copied(), |s| s, |_| true),
            titles_es: strs(lists::TITLES_ES),
            titles_de: strs(lists::TITLES_DE),
            titles_fr: strs(lists::TITLES_FR),
            titles_it: strs(lists::TITLES_IT),
            titles_pt: strs(lists::TITLES_PT),
            abbrev_titles: strs(lists::ABBREV_TITLES),
            companies: Parted::new(lexicon_companies, |s| s.as_str(), |_| false),
            curated_companies: strs(lists::COMPANIES),
            cities,
            ambiguous,
            cities_es: strs(lists::CITIES_ES),
            cities_de: strs(lists::CITIES_DE),
            cities_fr: strs(lists::CITIES_FR),
            cities_it: strs(lists::CITIES_IT),
            cities_pt: strs(lists::CITIES_PT),
            regions,
            countries,
            industries,
            tricky_places: lists::TRICKY_PLACES.to_vec(),
            held_out_names: HashSet::new(),
        };
        pools.held_out_names = pools.collect_held_out();
        Ok(pools)
    }

    fn collect_held_out(&self) -> HashSet<String> {
        fn add<T, F: Fn(&T) -> &str>(set: &mut HashSet<String>, p: &Parted<T>, name: F) {
            let train: HashSet<String> = p.train.iter().map(|t| key(name(t))).collect();
            for item in &p.test {
                let k = key(name(item));
                if !train.contains(&k) {
                    set.insert(k);
                }
            }
        }
        let mut set = HashSet::new();
        for p in [
            &self.titles,
            &self.short_titles,
            &self.director_titles,
            &self.executive_titles,
            &self.tricky_titles,
            &self.titles_es,
            &self.titles_de,
            &self.titles_fr,
            &self.titles_it,
            &self.titles_pt,
            &self.abbrev_titles,
            &self.curated_companies,
            &self.cities_es,
            &self.cities_de,
            &self.cities_fr,
            &self.cities_it,
            &self.cities_pt,
        ] {
            add(&mut set, p, |s| s);
        }
        add(&mut set, &self.lexicon_titles, |s| s.as_str());
        add(&mut set, &self.companies, |s| s.as_str());
        for (_, p) in &self.cities {
            add(&mut set, p, |c| c.name.as_str());
        }
        set
    }

    /// A city, by country weight, favouring populous ones.
    pub fn city(&self, rng: &mut Rng, split: Split) -> &City {
        let weights: Vec<f64> = self.cities.iter().map(|(w, _)| *w).collect();
        loop {
            let bucket = &self.cities[rng.weighted(&weights)].1;
            let side = bucket.side(split);
            if !side.is_empty() {
                return &side[rng.skewed(side.len(), 1.8)];
            }
        }
    }

    /// Held-out counts, for stats.json.
    pub fn held_out_counts(&self) -> serde_json::Value {
        let cities: usize = self.cities.iter().map(|(_, p)| p.test.len()).sum();
        let city_total: usize = self
            .cities
            .iter()
            .map(|(_, p)| p.test.len() + p.train.len())
            .sum();
        let t = |p: &Parted<&'static str>| p.test.len();
        serde_json::json!({
            "titles": t(&self.titles) + self.lexicon_titles.test.len() + t(&self.short_titles)
                + t(&self.director_titles) + t(&self.executive_titles) + t(&self.tricky_titles)
                + t(&self.titles_es) + t(&self.titles_de) + t(&self.titles_fr) + t(&self.titles_it) + t(&self.titles_pt) + t(&self.abbrev_titles),
            "titles_total": self.lexicon_titles.test.len() + self.lexicon_titles.train.len()
                + lists::TITLES.len() + lists::SHORT_TITLES.len() + lists::DIRECTOR_TITLES.len()
                + lists::EXECUTIVE_TITLES.len() + lists::TRICKY_TITLES.len() + lists::TITLES_ES.len()
                + lists::TITLES_DE.len() + lists::TITLES_FR.len() + lists::TITLES_IT.len()
                + lists::TITLES_PT.len() + lists::ABBREV_TITLES.len(),
            "companies": self.companies.test.len() + t(&self.curated_companies),
            "companies_total": self.companies.test.len() + self.companies.train.len() + lists::COMPANIES.len(),
            "cities": cities + t(&self.cities_es) + t(&self.cities_de) + t(&self.cities_fr) + t(&self.cities_it) + t(&self.cities_pt),
            "cities_total": city_total + lists::CITIES_ES.len() + lists::CITIES_DE.len()
                + lists::CITIES_FR.len() + lists::CITIES_IT.len() + lists::CITIES_PT.len(),
        })
    }
}

type PlaceTables = (
    Vec<(f64, Parted<City>)>,
    Vec<Vec<City>>,
    Vec<String>,
    Vec<String>,
);

fn places() -> Result<PlaceTables, String> {
    let text = Sources::EMBEDDED.places;
    let mut all: Vec<City> = Vec::new();
    let mut region_codes: std::collections::HashMap<(String, String), String> = Default::default();
    let mut regions: Vec<(u64, String)> = Vec::new();
    let mut countries: Vec<(u64, String)> = Vec::new();
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() != 8 {
            return Err(format!("places.tsv: bad line `{line}`"));
        }
        let population: u64 = c[6]
            .parse()
            .map_err(|_| format!("places.tsv: bad population in `{line}`"))?;
        match c[1] {
            "admin1" => {
                if let Some(code) = c[7]
                    .split('|')
                    .next()
                    .filter(|a| a.len() <= 3 && !a.is_empty())
                {
                    region_codes.insert((c[5].to_string(), c[2].to_string()), code.to_string());
                }
                if ["US", "CA", "AU", "GB", "IN", "DE"].contains(&c[5])
                    && clean_name(c[2])
                    && population > 300_000
                {
                    regions.push((population, c[2].to_string()));
                }
            }
            "country" => {
                if population > 4_000_000 && clean_name(c[2]) {
                    countries.push((population, c[2].to_string()));
                }
            }
            _ => {
                let name = c[2];
                if !clean_name(&name.replace('.', "")) || name.len() > 24 {
                    continue;
                }
                all.push(City {
                    name: name.to_string(),
                    admin1: c[3].to_string(),
                    country: c[4].to_string(),
                    country_code: c[5].to_string(),
                    region_code: None,
                    population,
                });
            }
        }
    }
    for city in &mut all {
        if ["US", "CA", "AU"].contains(&city.country_code.as_str()) {
            city.region_code = region_codes
                .get(&(city.country_code.clone(), city.admin1.clone()))
                .cloned();
        }
    }
    regions.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    countries.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    all.sort_by(|a, b| b.population.cmp(&a.population).then(a.name.cmp(&b.name)));

    let ambiguous_keys: HashSet<String> = lists::AMBIGUOUS.iter().map(|a| key(a)).collect();
    let mut buckets = Vec::new();
    for (code, weight, top) in COUNTRY_WEIGHTS {
        // One entry per name: the most populous place of that name.
        let mut names = HashSet::new();
        let cities: Vec<City> = all
            .iter()
            .filter(|c| c.country_code == *code)
            .filter(|c| names.insert(key(&c.name)))
            .take(*top)
            .cloned()
            .collect();
        if cities.is_empty() {
            return Err(format!("places.tsv: no cities in {code}"));
        }
        buckets.push((
            *weight,
            Parted::new(
                cities,
                |c| c.name.as_str(),
                |c| ambiguous_keys.contains(&key(&c.name)),
            ),
        ));
    }
    let mut ambiguous = Vec::new();
    for name in lists::AMBIGUOUS {
        let readings: Vec<City> = all
            .iter()
            .filter(|c| key(&c.name) == key(name) && c.population >= 15_000)
            .take(4)
            .cloned()
            .collect();
        if readings.len() >= 2 {
            ambiguous.push(readings);
        }
    }
    Ok((
        buckets,
        ambiguous,
        regions.into_iter().map(|(_, n)| n).take(80).collect(),
        countries.into_iter().map(|(_, n)| n).take(90).collect(),
    ))
}
