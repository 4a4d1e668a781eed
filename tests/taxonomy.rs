//! The embedded taxonomy: it loads, and places and industries resolve the way
//! a job seeker means them.

use quarry::contract::Profile;
use quarry::taxonomy::{PlaceHints, PlaceKind, Sources, Taxonomy};
use quarry::tools::query_countries;

fn resolve(text: &str, home: Option<&str>, query: &str) -> (String, String, String) {
    let taxonomy = Taxonomy::embedded();
    let home = home.and_then(|h| taxonomy.gazetteer.resolve(h, &PlaceHints::default()));
    let hints = PlaceHints {
        home,
        countries: query_countries(query),
    };
    let place = taxonomy
        .gazetteer
        .resolve(text, &hints)
        .unwrap_or_else(|| panic!("`{text}` did not resolve"));
    (
        place.name.clone(),
        place.admin1.clone(),
        place.country.clone(),
    )
}

fn country(text: &str, home: Option<&str>) -> String {
    resolve(text, home, "").2
}

#[test]
fn embedded_taxonomy_is_complete() {
    let taxonomy = Taxonomy::embedded();
    assert!(taxonomy.gazetteer.len() > 30_000);
    assert_eq!(taxonomy.industries.all().len(), 147);
    assert_eq!(taxonomy.currency_of("IT"), Some("EUR"));
    assert_eq!(taxonomy.currency_of("GB"), Some("GBP"));
    assert!(taxonomy.titles.len() > 70_000 && taxonomy.companies.len() > 2_000);
    // Places 2.7 MB + titles 1.6 MB + the rest: what every target carries.
    assert!(Sources::embedded_bytes() < 5_000_000);
}

#[test]
fn the_profile_breaks_ties_between_places_of_one_name() {
    let florida = Some("Naples, Florida, United States");
    let rome = Some("Rome, Lazio, Italy");
    assert_eq!(
        resolve("naples", florida, ""),
        ("Naples".into(), "Florida".into(), "United States".into())
    );
    assert_eq!(
        resolve("naples", rome, ""),
        ("Naples".into(), "Campania".into(), "Italy".into())
    );
    assert_eq!(country("naples", None), "Italy");
    assert_eq!(country("paris", None), "France");
    assert_eq!(
        resolve("paris", Some("Dallas, Texas, United States"), "").1,
        "Texas"
    );
    assert_eq!(country("london", None), "United Kingdom");
    assert_eq!(
        country("london", Some("Toronto, Ontario, Canada")),
        "Canada"
    );
}

#[test]
fn qualifiers_settle_the_place() {
    assert_eq!(resolve("paris tx", None, "").1, "Texas");
    assert_eq!(resolve("Paris, TX", None, "").1, "Texas");
    assert_eq!(resolve("london ontario", None, "").2, "Canada");
    assert_eq!(resolve("cambridge uk", None, "").2, "United Kingdom");
    assert_eq!(resolve("cambridge ma", None, "").1, "Massachusetts");
    assert_eq!(
        resolve("Naples, Florida, United States", None, "").1,
        "Florida"
    );
}

#[test]
fn the_query_settles_the_place_without_a_profile() {
    assert_eq!(
        resolve("naples", None, "naples accountant over 50k usd").2,
        "United States"
    );
    assert_eq!(
        resolve("london", None, "accountant london 65k cad").2,
        "Canada"
    );
}

#[test]
fn nicknames_regions_and_countries_resolve() {
    assert_eq!(resolve("nyc", None, "").0, "New York City");
    assert_eq!(resolve("new york", None, "").0, "New York City");
    assert_eq!(resolve("bay area", None, "").0, "San Francisco");
    assert_eq!(resolve("sf", None, "").0, "San Francisco");
    assert_eq!(resolve("bangalore", None, "").2, "India");
    let taxonomy = Taxonomy::embedded();
    let germany = taxonomy
        .gazetteer
        .resolve("germany", &PlaceHints::default())
        .unwrap();
    assert_eq!(germany.kind, PlaceKind::Country);
    let texas = taxonomy
        .gazetteer
        .resolve("texas", &PlaceHints::default())
        .unwrap();
    assert_eq!(texas.kind, PlaceKind::Admin1);
    let ontario = taxonomy
        .gazetteer
        .resolve("ontario", &PlaceHints::default())
        .unwrap();
    assert_eq!(
        (ontario.kind, ontario.country.as_str()),
        (PlaceKind::Admin1, "Canada")
    );
    assert!(taxonomy
        .gazetteer
        .resolve("zzqx", &PlaceHints::default())
        .is_none());
}

#[test]
fn industries_resolve_by_name_alias_phrase_and_spelling() {
    let industries = &Taxonomy::embedded().industries;
    let name = |text: &str| industries.resolve(text).map(|i| i.name.clone());
    assert_eq!(name("fintech").as_deref(), Some("Financial Services"));
    assert_eq!(
        name("Fintech startups").as_deref(),
        Some("Financial Services")
    );
    assert_eq!(name("oil and gas").as_deref(), Some("Oil & Energy"));
    assert_eq!(
        name("healthcare").as_deref(),
        Some("Hospital & Health Care")
    );
    assert_eq!(name("helthcare").as_deref(), Some("Hospital & Health Care"));
    assert_eq!(name("banking industry").as_deref(), Some("Banking"));
    assert_eq!(name("underwater basket weaving"), None);
}

#[test]
fn a_corrupt_taxonomy_is_an_error_naming_the_line() {
    let mut sources = Sources::EMBEDDED;
    sources.places = "header\n1\tcity\tX\n";
    let error = Taxonomy::parse(sources).unwrap_err().to_string();
    assert!(
        error.contains("places.tsv") && error.contains("line 2"),
        "{error}"
    );
    let mut sources = Sources::EMBEDDED;
    sources.industry_aliases = "alias\tindustry\nfoo\tNot An Industry\n";
    assert!(Taxonomy::parse(sources).is_err());
    let _ = Profile::default();
}
