//! Text normalisation shared by matching, evaluation and tool execution, so
//! that "the same text" means one thing everywhere.

/// The spec's comparison form: lower-cased, whitespace collapsed, surrounding
/// punctuation stripped.
pub fn normalize(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

/// Lower-cased words of letters and digits; apostrophes inside a word are
/// dropped ("don't" → "dont"), everything else separates words.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if (c == '\'' || c == '’') && !current.is_empty() {
            continue;
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The words joined by single spaces: the key used by lookup tables.
pub fn key(text: &str) -> String {
    // Most taxonomy entries are already keys; skip splitting them (start-up
    // indexes ~100k names).
    let bytes = text.as_bytes();
    let plain = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b' ');
    if plain && !text.starts_with(' ') && !text.ends_with(' ') && !text.contains("  ") {
        return text.to_string();
    }
    words(text).join(" ")
}

/// Whether `phrase` (already a key) occurs in `haystack_words` as whole words.
pub fn contains_phrase(haystack_words: &[String], phrase: &str) -> bool {
    find_phrase(haystack_words, phrase).is_some()
}

/// The index of the first word where `phrase` (already a key) occurs in
/// `haystack_words` as whole words.
pub fn find_phrase(haystack_words: &[String], phrase: &str) -> Option<usize> {
    let needle: Vec<&str> = phrase.split(' ').collect();
    if needle.is_empty() || needle.len() > haystack_words.len() {
        return None;
    }
    haystack_words
        .windows(needle.len())
        .position(|w| w.iter().zip(&needle).all(|(a, b)| a == b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_follows_the_spec() {
        assert_eq!(normalize("  Rust   Engineer, "), "rust engineer");
        assert_eq!(normalize("\"C++\""), "c");
        assert_eq!(normalize("São  Paulo!"), "são paulo");
    }

    #[test]
    fn keys_are_words_joined_by_spaces() {
        assert_eq!(key("new york"), "new york");
        assert_eq!(key(" New  York, NY "), "new york ny");
        assert_eq!(key("münchen"), "münchen");
        assert_eq!(key("a  b"), "a b");
    }

    #[test]
    fn words_split_on_punctuation() {
        assert_eq!(words("Paris, TX"), ["paris", "tx"]);
        assert_eq!(words("don't   stop"), ["dont", "stop"]);
        assert!(contains_phrase(
            &words("I want to KILL myself"),
            "kill myself"
        ));
        assert!(!contains_phrase(&words("skill myselfie"), "kill myself"));
    }
}
