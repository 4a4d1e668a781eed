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
use crate::rewriter::Cited;
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

    /// Forced bytes may begin or end inside a character: the model chose a
    /// token that ends in the first byte of "à", and the grammar forces the
    /// second. Text is encoded canonically; bytes that are not whole
    /// characters go through the trie as they are (a lossy conversion would
    /// force a replacement character the grammar refuses).
    fn tokenize_bytes(&self, s: &[u8]) -> Vec<TokenId> {
        let mut tokens = Vec::new();
        for chunk in s.utf8_chunks() {
            if !chunk.valid().is_empty() {
                tokens.extend(self.tokenizer.encode(chunk.valid()).unwrap_or_default());
            }
            tokens.extend(self.trie.greedy_tokenize(chunk.invalid()));
        }
        tokens
    }

    fn tokenize_is_canonical(&self) -> bool {
        true
    }
}

/// Lexer fuel for a whole stage (llguidance spends about 14k a
/// millisecond). A rewrite with three cited groups had spent 400k fifteen
/// tokens in; this leaves room for the longest the shape allows while
/// still stopping a runaway lexer within about a second and a half.
const LEXER_FUEL: u64 = 20_000_000;

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
        // The engine mostly checks the model's top tokens instead of
        // computing masks, and llguidance refills the lexer's fuel only when
        // a mask is computed: a long rewrite whose shape requires cited
        // values spends the default 200k on the way and dies mid-word. Our
        // grammars are built by us and bounded, so fuel is a guard against
        // a pathological lexer, not a per-step budget.
        let limits = factory.limits_mut();
        limits.initial_lexer_fuel = LEXER_FUEL;
        limits.step_lexer_fuel = LEXER_FUEL;
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
        Constraint::Rewrite { query, profile } => format!(
            "start: \"rewrite\" TEXT \"\\n\"\n{}",
            RewriteShape::new(query, profile).lark()
        ),
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

/// Words a rewrite may insert between the query's own: prepositions
/// before a profile value (in the data's languages), the jobs word, the
/// skills joiner and the level words a seniority becomes. Kept short on
/// purpose: every extra word is one the model can babble ("em level em").
const GLUE: &[&str] = &[
    "jobs", "job", "roles", "in", "at", "near", "for", "with", "and", "or", "of", "a", "the",
    "senior", "junior", "en", "em", "de", "à", "bei",
];

/// What a rewrite is built from: the query's words, once each and in the
/// query's order (the member's own wording and criteria stay; only the
/// self-reference and the words around it may go), and
/// insertions between them: the profile's values, whole, as the spec
/// copies them word for word, and [`GLUE`]. Pieces are joined by a space or
/// a comma and a space. A rewrite therefore reads as the query with its
/// self-reference replaced ("jobs near me" → "jobs in Naples, Florida,
/// United States"); it cannot repeat the query's words or wander off it.
#[derive(Debug, Clone, PartialEq)]
pub struct RewriteShape {
    pub query_words: Vec<String>,
    /// Whether each query word must be kept ([`crate::rewriter::kept_words`]).
    pub kept: Vec<bool>,
    pub insertions: Vec<String>,
    /// Where [`GLUE`] starts in `insertions`: the pieces before are the
    /// member's values.
    pub glue_from: usize,
    /// Values the rewrite must contain, in groups that may come in any
    /// order (values within a group in theirs): what the query's phrases
    /// cite ([`crate::rewriter::cited_values`]).
    pub required: Vec<Vec<String>>,
}

impl RewriteShape {
    pub fn new(query: &str, profile: &Profile) -> RewriteShape {
        let query_words: Vec<String> = span_source(query)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mut insertions: Vec<String> = Vec::new();
        let add = |insertions: &mut Vec<String>, piece: &str| {
            let piece = as_piece(piece);
            if !piece.is_empty() && !insertions.contains(&piece) {
                insertions.push(piece);
            }
        };
        for value in profile.values() {
            add(&mut insertions, value);
        }
        // A profile place is copied whole, so that a name with a comma
        // ("Technology, Information and Internet") cannot be cut and
        // stitched back wrong ("in city, Uttar Pradesh, India"). The one
        // exception is a query that asks for the member's region or
        // country ("in my state", "en mi país"): then that part may stand
        // alone.
        let words = crate::text::words(query);
        let asks = |wanted: &[&str]| words.iter().any(|w| wanted.contains(&w.as_str()));
        for (wanted, part) in [
            (REGION_WORDS, Cited::Region),
            (COUNTRY_WORDS, Cited::Country),
        ] {
            if asks(wanted) {
                for value in crate::rewriter::values_of(part, profile) {
                    add(&mut insertions, &value);
                }
            }
        }
        let glue_from = insertions.len();
        for glue in GLUE {
            add(&mut insertions, glue);
        }
        // A required value must be a piece, and all of them leave room for
        // the query's words in a rewrite no longer than a query, or the
        // grammar could not be finished. Past three groups the orders to allow
        // grow too many; the first three are required.
        let mut required = Vec::new();
        let mut room = crate::contract::MAX_QUERY_BYTES / 4;
        for group in crate::rewriter::cited_values(query, profile) {
            let group: Vec<String> = group
                .iter()
                .map(|value| as_piece(value))
                .filter(|value| insertions.contains(value))
                .collect();
            let length: usize = group.iter().map(|v| v.chars().count() + 2).sum();
            if !group.is_empty() && length < room && required.len() < MAX_CITED_GROUPS {
                room -= length;
                required.push(group);
            }
        }
        RewriteShape {
            kept: crate::rewriter::kept_words(&query_words, profile),
            query_words,
            insertions,
            glue_from,
            required,
        }
    }

    /// Whether `rewrite` has this shape: what the grammar lets the model
    /// write, checked without the model (the generator checks its data).
    pub fn admits(&self, rewrite: &str) -> bool {
        let n = rewrite.len();
        let words = self.query_words.len();
        // A state: the query's words from the k-th on still unused, and in
        // the current gap `glue` glue pieces in a row after `values` values.
        let state = |k: usize, glue: usize, values: usize| {
            (k * (MAX_GLUE_IN_A_ROW + 1) + glue) * (MAX_VALUES_PER_GAP + 1) + values
        };
        // reach[at][state]: a piece may start at byte `at` in that state.
        let mut reach = vec![vec![false; state(words + 1, 0, 0)]; n + 1];
        reach[0][state(0, 0, 0)] = true;
        let mut done = false;
        // The pieces that may come next, each with the state after it.
        let mut next: Vec<(&str, usize, usize, usize)> = Vec::new();
        for at in 0..n {
            for k in 0..=words {
                for glue in 0..=MAX_GLUE_IN_A_ROW {
                    for values in 0..=MAX_VALUES_PER_GAP {
                        if !reach[at][state(k, glue, values)] {
                            continue;
                        }
                        next.clear();
                        for (i, piece) in self.insertions.iter().enumerate() {
                            if i >= self.glue_from && glue < MAX_GLUE_IN_A_ROW {
                                next.push((piece, k, glue + 1, values));
                            } else if i < self.glue_from && values < MAX_VALUES_PER_GAP {
                                next.push((piece, k, 0, values + 1));
                            }
                        }
                        // The next query word, or a later one past words it may drop.
                        let skippable = self.kept[k..].iter().take_while(|&&kept| !kept).count();
                        for j in k..words.min(k + skippable + 1) {
                            next.push((&self.query_words[j], j + 1, 0, 0));
                        }
                        for &(piece, k_after, glue_after, values_after) in &next {
                            if !rewrite[at..].starts_with(piece) {
                                continue;
                            }
                            let end = at + piece.len();
                            let after = state(k_after, glue_after, values_after);
                            if end == n {
                                done |= !self.kept[k_after..].contains(&true);
                            } else if rewrite[end..].starts_with(", ") {
                                reach[end + 2][after] = true;
                            } else if rewrite[end..].starts_with(' ') {
                                reach[end + 1][after] = true;
                            }
                        }
                    }
                }
            }
        }
        done && orders(&self.required)
            .iter()
            .any(|values| cites_in_order(rewrite, values))
    }

    /// The lark terminal of the rewrite's text: pieces joined by the
    /// separators, intersected with their order and the length bound.
    fn lark(&self) -> String {
        let mut pieces: Vec<&str> = self.insertions.iter().map(String::as_str).collect();
        for word in &self.query_words {
            if !pieces.contains(&word.as_str()) {
                pieces.push(word);
            }
        }
        // Every piece comes after its separator, the first after the space
        // that follows `rewrite` (the length bound's leading space rules
        // out a leading comma). The order is a chain of the query's words,
        // the droppable ones optional, each followed by its own insertions:
        // a dropped word takes its insertions with it, so dropping words
        // cannot lengthen a run of insertions. Within a gap glue comes at
        // most two in a row: a model that has lost its way cannot fill the
        // gap with "in the em the em the".
        let glue_run = format!("(SEP GLUE){{0,{MAX_GLUE_IN_A_ROW}}}");
        let slot = if self.glue_from == 0 {
            glue_run
        } else {
            format!("{glue_run} (SEP VALUE {glue_run}){{0,{MAX_VALUES_PER_GAP}}}")
        };
        let mut order = slot.clone();
        for (word, &kept) in self.query_words.iter().zip(&self.kept) {
            let step = format!("SEP {} {slot}", literal(word));
            order.push_str(&if kept {
                format!(" {step}")
            } else {
                format!(" ({step})?")
            });
        }
        let mut text = String::from("ORDER & / .*/");
        let mut terminals = String::new();
        let value_terminal = match self.glue_from {
            0 => String::new(),
            _ => format!(
                "VALUE: {}\n",
                one_of(self.insertions[..self.glue_from].iter().map(String::as_str))
            ),
        };
        if !self.required.is_empty() {
            // The cited values as chains of whole pieces, one per order of
            // the groups: a few linear chains keep the lexer small where a
            // "contains" check per value would multiply its states.
            let chains: Vec<String> = orders(&self.required)
                .iter()
                .map(|values| {
                    let mut chain = String::from("(SEP PIECE)*");
                    for value in values {
                        // A region or a country is cited alone or inside
                        // the whole place ("em Ananindeua, Pará, Brazil").
                        let holders = self
                            .insertions
                            .iter()
                            .map(String::as_str)
                            .filter(|p| p.contains(value.as_str()));
                        chain.push_str(&format!(" SEP ({}) (SEP PIECE)*", one_of(holders)));
                    }
                    format!("({chain})")
                })
                .collect();
            text.push_str(" & CITED");
            terminals = format!("CITED: {}\nPIECE: {}\n", chains.join(" | "), one_of(pieces));
        }
        format!(
            "TEXT: {text}\nGLUE: {}\n{value_terminal}ORDER: {order}\nSEP: \" \" | \", \"\n{terminals}",
            one_of(self.insertions[self.glue_from..].iter().map(String::as_str)),
        )
    }
}

/// Text as a rewrite piece: a span's characters, no outer whitespace.
fn as_piece(text: &str) -> String {
    span_source(text).trim().to_string()
}

/// The most profile values between two of the query's words ("with
/// Kubernetes and Terraform in Noida, Uttar Pradesh, India" has three), each
/// with at most [`MAX_GLUE_IN_A_ROW`] glue pieces around it. With the
/// query's words used once each this bounds a rewrite without counting its
/// characters, which would multiply the lexer's states by the count.
const MAX_VALUES_PER_GAP: usize = 5;

/// The most glue pieces in a row ("jobs in the"; "in the em the" is a model
/// that has lost its way).
const MAX_GLUE_IN_A_ROW: usize = 2;

/// The most groups of cited values a rewrite must hold (their orders are
/// enumerated: 3! = 6 chains).
const MAX_CITED_GROUPS: usize = 3;

/// Every order of the groups, each flattened into one list of values.
fn orders(groups: &[Vec<String>]) -> Vec<Vec<String>> {
    if groups.is_empty() {
        return vec![Vec::new()];
    }
    let mut all = Vec::new();
    for first in 0..groups.len() {
        let mut rest = groups.to_vec();
        let head = rest.remove(first);
        for tail in orders(&rest) {
            all.push(head.iter().cloned().chain(tail).collect());
        }
    }
    all
}

/// Whether `text` holds each value, one after another.
fn cites_in_order(text: &str, values: &[String]) -> bool {
    let mut rest = text;
    values.iter().all(|value| match rest.find(value.as_str()) {
        Some(at) => {
            rest = &rest[at + value.len()..];
            true
        }
        None => false,
    })
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
        let pieces = RewriteShape::new("jobs near me", &profile).insertions;
        assert!(pieces.contains(&"Naples, Florida, United States".to_string()));
        for part in ["Naples", "Florida", "United States"] {
            assert!(!pieces.contains(&part.to_string()), "{part}");
        }
        let pieces = RewriteShape::new("nurse jobs in my state", &profile).insertions;
        assert!(pieces.contains(&"Florida".to_string()));
        assert!(!pieces.contains(&"United States".to_string()));
        let pieces = RewriteShape::new("trabajos en mi país", &profile).insertions;
        assert!(pieces.contains(&"United States".to_string()));
        assert!(!pieces.contains(&"Florida".to_string()));
        let profile = Profile {
            industry: Some("Technology, Information and Internet".into()),
            ..profile
        };
        let pieces = RewriteShape::new("jobs in my industry", &profile).insertions;
        assert!(pieces.contains(&"Technology, Information and Internet".to_string()));
        assert!(!pieces.contains(&"Technology".to_string()));
    }

    #[test]
    fn rewrites_keep_the_query_in_order_and_cite_the_profile_whole() {
        let profile = Profile {
            title: Some("Sous Chef".into()),
            location: Some("Naples, Florida, United States".into()),
            ..Profile::default()
        };
        let shape = RewriteShape::new("chef jobs near me", &profile);
        assert!(shape.admits("chef jobs in Naples, Florida, United States"));
        assert!(shape.admits("Sous Chef jobs in Naples, Florida, United States"));
        // The query's words once each, in order.
        let shape = RewriteShape::new("cook positions near me", &profile);
        assert!(shape.admits("cook positions in Naples, Florida, United States"));
        assert!(!shape.admits("positions cook in Naples, Florida, United States"));
        assert!(!shape.admits("cook positions cook in Naples, Florida, United States"));
        // "near me" cites the member's place: it must be there.
        assert!(!shape.admits("cook positions"));
        // The place is cited whole: its parts alone only when the query
        // asks for the region or the country.
        assert!(!shape.admits("Sous Chef jobs in Naples"));
        assert!(!shape.admits("chef jobs in Florida"));
        let shape = RewriteShape::new("chef jobs in my state, remote", &profile);
        assert!(shape.admits("chef jobs in Florida, remote"));
        // The query's own criteria stay; a word of a profile value may
        // give way to the value.
        assert!(!shape.admits("chef jobs in Florida"));
        assert!(shape.admits("Sous Chef jobs in Florida, remote"));
        // Pieces are joined by " " or ", ", as lists and places are.
        assert!(shape.admits("chef jobs in Florida, remote"));
        assert!(!shape.admits("chef jobs in Florida,remote"));
        assert!(!shape.admits("chef jobs in Florida , remote"));
        assert!(!shape.admits("chef  jobs"));
        assert!(!shape.admits("cook jobs"));
        assert!(!shape.admits(""));
    }
}
