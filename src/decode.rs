//! Constrained decoding with llguidance: every stage's output is valid by
//! construction, and no text argument can contain a word its input lacks.
//!
//! Each [`Constraint`] becomes a lark grammar over the wire format
//! ([`crate::stream`]): enums are enumerated, tool spans are
//! `substring_words` of the query (or rewrite), a rewrite is built from the
//! query's words and the profile's values, and suggestions are taxonomy
//! names. Tokens the grammar forces are fast-forwarded by the engine in one
//! forward pass.

use std::sync::Arc;

use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{TokEnv, TokRxInfo, TokTrie, TokenId, TokenizerEnv};
use llguidance::{Matcher, ParserFactory};

use crate::contract::{Intent, Profile, ToolName};
use crate::error::{QuarryError, Result};
use crate::generator::Constraint;
use crate::tokenizer::Tokenizer;
use crate::tools::enum_values;

/// llguidance's view of the tokenizer: token bytes in a trie, and canonical
/// tokenization for forced text. Forced text (a span copied from the query)
/// is plain text: its spelling of a control token is never that token.
struct TokenEnv {
    trie: TokTrie,
    tokenizer: Tokenizer,
}

impl TokenizerEnv for TokenEnv {
    fn tok_trie(&self) -> &TokTrie {
        &self.trie
    }

    fn tokenize_bytes(&self, s: &[u8]) -> Vec<TokenId> {
        let text = String::from_utf8_lossy(s);
        self.tokenizer.encode(&text).unwrap_or_default()
    }

    fn tokenize_is_canonical(&self) -> bool {
        true
    }
}

/// Builds matchers for the stages' grammars over one tokenizer.
pub struct Decoder {
    factory: ParserFactory,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decoder")
    }
}

impl Decoder {
    /// `vocab_size` is the model's, which may exceed the tokenizer's
    /// (Qwen2.5 pads its embedding table); padding tokens are never allowed.
    pub fn new(tokenizer: &Tokenizer, vocab_size: usize) -> Result<Decoder> {
        let err = |e: anyhow::Error| QuarryError::Model(format!("decoder: {e}"));
        let mut words =
            llguidance::token_bytes_from_tokenizer_json(tokenizer.json()).map_err(err)?;
        if words.len() > vocab_size {
            return Err(QuarryError::Model(format!(
                "tokenizer has {} tokens but the model only {vocab_size}",
                words.len()
            )));
        }
        words.resize(vocab_size, Vec::new());
        let info = TokRxInfo::new(vocab_size as u32, tokenizer.end_of_turn());
        let trie = TokTrie::from(&info, &words);
        let env: TokEnv = Arc::new(TokenEnv {
            trie,
            tokenizer: tokenizer.clone(),
        });
        let mut factory = ParserFactory::new_simple(&env).map_err(err)?;
        factory.quiet();
        Ok(Decoder { factory })
    }

    /// A fresh matcher for one stage.
    pub fn matcher(&self, constraint: &Constraint<'_>) -> Result<Matcher> {
        let grammar = TopLevelGrammar::from_lark(grammar(constraint));
        let matcher = Matcher::new(self.factory.create_parser(grammar));
        match matcher.get_error() {
            Some(error) => Err(QuarryError::Generation(format!("grammar: {error}"))),
            None => Ok(matcher),
        }
    }

    pub fn trie(&self) -> &TokTrie {
        self.factory.tok_env().tok_trie()
    }
}

/// The longest rewrite; with it every stage's grammar is bounded, so the
/// engine's token budget always lets an output finish.
pub const MAX_REWRITE_CHARS: usize = 200;

/// A lark string literal (lark strings are JSON strings).
fn literal(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

fn one_of<'a>(options: impl IntoIterator<Item = &'a str>) -> String {
    options
        .into_iter()
        .map(literal)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Text a span may be copied from. A wire line ends at its newline, so
/// control characters are blanked: a span never contains them.
pub fn span_source(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The lark grammar for one stage.
pub fn grammar(constraint: &Constraint<'_>) -> String {
    match constraint {
        Constraint::Intent => format!(
            "start: \"intent \" INTENT \"\\n\"\nINTENT: {}\n",
            one_of(Intent::ALL.iter().map(|i| i.as_str()))
        ),
        Constraint::Rewrite { query, profile } => {
            let pieces = rewrite_pieces(query, profile);
            format!(
                "start: \"rewrite \" TEXT \"\\n\"\nTEXT: PIECE ((\" \" | \", \") PIECE)* & /.{{1,{MAX_REWRITE_CHARS}}}/\nPIECE: {}\n",
                one_of(pieces.iter().map(String::as_str))
            )
        }
        Constraint::Tools { source } => tagger_grammar(source),
        Constraint::Suggestions { names } => {
            let quoted: Vec<String> = names.iter().map(|n| literal(n)).collect();
            format!(
                "start: \"suggest [\" NAMES? \"]\\n\"\nNAMES: NAME (\",\" NAME){{0,4}}\nNAME: {}\n",
                one_of(quoted.iter().map(String::as_str))
            )
        }
    }
}

fn tagger_grammar(source: &str) -> String {
    let source = span_source(source);
    // A salary needs a figure; offering the line without one would let the
    // model start a piece it cannot finish.
    let has_figure = source.chars().any(|c| ('1'..='9').contains(&c));
    let lines: Vec<String> = ToolName::ALL
        .into_iter()
        .filter(|&tool| tool != ToolName::Salary || has_figure)
        .map(|tool| {
            let name = tool.as_str();
            let argument = match (tool, enum_values(tool)) {
                (ToolName::Salary, _) => "SALARY".to_string(),
                _ if tool.copies_span() => "SPAN".to_string(),
                (_, Some(values)) => format!("({})", one_of(values.iter().copied())),
                (_, None) => return literal(&format!("{name}\n")),
            };
            // The space before a copied word is the argument's own, as in
            // the prompt (see `crate::stream`): llguidance lets the model
            // write ` naples` as one token across the literal's end.
            format!("{} {argument} \"\\n\"", literal(&format!("{name} ")))
        })
        .collect();
    // A span is a run of the source's words, never empty or padded; a
    // salary span also holds a non-zero digit, so it can be read.
    let substring = serde_json::json!({ "substring_words": source });
    format!(
        "start: line*\nline: {}\nSPAN: %regex {substring} & /\\S(.*\\S)?/\nSALARY: %regex {substring} & /\\S(.*\\S)?/ & /.*[1-9].*/\n",
        lines.join("\n    | ")
    )
}

/// Query words that ask for the region of the member's place.
const REGION_WORDS: &[&str] = &[
    "state",
    "province",
    "region",
    "county",
    "territory",
    "prefecture",
    "región",
    "provincia",
    "estado",
    "comunidad",
    "région",
    "département",
    "regione",
    "bundesland",
    "região",
];
/// Query words that ask for the country of the member's place.
const COUNTRY_WORDS: &[&str] = &[
    "country",
    "nation",
    "país",
    "pais",
    "pays",
    "paese",
    "land",
    "heimatland",
];

/// Words a rewrite may use: the query's, the profile's values (whole, as
/// the spec copies them word for word), and the glue of a search phrase.
/// Pieces are joined by a space or a comma and a space.
pub fn rewrite_pieces(query: &str, profile: &Profile) -> Vec<String> {
    const GLUE: &[&str] = &[
        "jobs",
        "job",
        "roles",
        "in",
        "at",
        "near",
        "for",
        "with",
        "and",
        "or",
        "of",
        "as",
        "a",
        "an",
        "the",
        "remote",
        "hybrid",
        "senior",
        "junior",
        "entry",
        "level",
        "lead",
        "director",
        "executive",
        "intern",
        "internship",
        "associate",
        "mid",
        "companies",
        "industry",
        // The same glue in the languages the data covers.
        "en",
        "em",
        "de",
        "à",
        "a",
        "in",
        "bei",
        "près",
        "cerca",
        "vicino",
        "empleos",
        "trabajo",
        "emplois",
        "lavoro",
        "stellen",
    ];
    let mut pieces: Vec<String> = Vec::new();
    let mut add = |piece: &str| {
        let piece = span_source(piece).trim().to_string();
        if !piece.is_empty() && !pieces.contains(&piece) {
            pieces.push(piece);
        }
    };
    for word in query.split_whitespace() {
        add(word);
    }
    for value in profile.values() {
        add(value);
    }
    // Profile values are copied whole, so that a name with a comma
    // ("Technology, Information and Internet") cannot be cut and stitched
    // back wrong ("in city, Uttar Pradesh, India"). The one exception is
    // a query that asks for the member's region or country ("in my
    // state", "en mi país"): then that part of the place may stand alone.
    if let Some(location) = &profile.location {
        let parts: Vec<&str> = location.split(',').map(str::trim).collect();
        let query_words = crate::text::words(query);
        let asks = |words: &[&str]| query_words.iter().any(|w| words.contains(&w.as_str()));
        if let [_, region, _] = parts.as_slice() {
            if asks(REGION_WORDS) {
                add(region);
            }
        }
        if let [_, .., country] = parts.as_slice() {
            if asks(COUNTRY_WORDS) {
                add(country);
            }
        }
    }
    for glue in GLUE {
        add(glue);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cannot_carry_control_characters() {
        assert_eq!(span_source("a \"b\"\tc\\d\n"), "a \"b\" c\\d ");
    }

    #[test]
    fn grammars_name_every_tool_and_enum() {
        let g = grammar(&Constraint::Tools {
            source: "senior nurse jobs over 90k",
        });
        for tool in crate::ToolName::ALL {
            assert!(g.contains(tool.as_str()), "{tool:?} missing");
        }
        // Without a figure there is no salary to copy.
        assert!(!grammar(&Constraint::Tools {
            source: "senior nurse jobs"
        })
        .contains("salary_tool"));
        assert!(g.contains("\\\"mid_senior\\\"") || g.contains("\"mid_senior\""));
        let profile = Profile {
            location: Some("Naples, Florida, United States".into()),
            ..Profile::default()
        };
        let pieces = rewrite_pieces("jobs near me", &profile);
        assert!(pieces.contains(&"Naples, Florida, United States".to_string()));
        for part in ["Naples", "Florida", "United States"] {
            assert!(!pieces.contains(&part.to_string()), "{part}");
        }
        let pieces = rewrite_pieces("nurse jobs in my state", &profile);
        assert!(pieces.contains(&"Florida".to_string()));
        assert!(!pieces.contains(&"United States".to_string()));
        let pieces = rewrite_pieces("trabajos en mi país", &profile);
        assert!(pieces.contains(&"United States".to_string()));
        assert!(!pieces.contains(&"Florida".to_string()));
        let profile = Profile {
            industry: Some("Technology, Information and Internet".into()),
            ..profile
        };
        let pieces = rewrite_pieces("jobs in my industry", &profile);
        assert!(pieces.contains(&"Technology, Information and Internet".to_string()));
        assert!(!pieces.contains(&"Technology".to_string()));
    }
}
