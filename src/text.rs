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
    words(text).join(" ")
}

/// Whether `phrase` (already a key) occurs in `haystack_words` as whole words.
pub fn contains_phrase(haystack_words: &[String], phrase: &str) -> bool {
    let needle: Vec<&str> = phrase.split(' ').collect();
    if needle.is_empty() || needle.len() > haystack_words.len() {
        return false;
    }
    haystack_words
        .windows(needle.len())
        .any(|w| w.iter().zip(&needle).all(|(a, b)| a == b))
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
    fn words_split_on_punctuation() {
        assert_eq!(words("Paris, TX"), ["paris", "tx"]);
        assert_eq!(words("don't   stop"), ["dont", "stop"]);
        assert!(contains_phrase(&words("I want to KILL myself"), "kill myself"));
        assert!(!contains_phrase(&words("skill myselfie"), "kill myself"));
    }
}
