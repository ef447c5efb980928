//! Search that ignores case and accents the way Vietnamese readers do: "nguyen van an" finds
//! "Nguyễn Văn An", and "duc" finds "Đức" (đ is its own letter, not d with a mark, so it is folded
//! by hand). Both engines index the same two spellings of each text, made here once: the words as
//! written but lowercase (`exact`), and the words without marks (`folded`). A query is matched
//! against the folded words; when it was typed with accents, texts that have them as typed rank first.
//!
//! Text becomes words here, not in the engines' tokenizers, so SQLite and PostgreSQL agree word for
//! word, and no character a user types can reach either engine's query syntax: a word is letters,
//! digits and marks only.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Words of a query that count; the rest are ignored (a pasted paragraph is answered, not refused).
pub const MAX_TERMS: usize = 8;

/// Longest word of a query, in characters; a longer one is cut (it then matches as a prefix).
pub const MAX_TERM_CHARS: usize = 32;

/// Longest word of a document that is indexed, in characters: longer runs (a URL's path, base64)
/// are cut, so that one pasted blob cannot bloat the index.
pub const MAX_WORD_CHARS: usize = 64;

/// Most characters of a query looked at (bounds the work before [`MAX_TERMS`] apply).
pub const MAX_QUERY_CHARS: usize = 1_000;

/// A text's two spellings as both engines index them: words separated by single spaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    /// Lowercase words, accents kept (composed, NFC).
    pub exact: String,
    /// The same words without accents, đ as d.
    pub folded: String,
}

impl Document {
    /// The document of several fields (a customer's name, email and CIF), in order.
    ///
    /// A text written without accents (as many customers type on their phones) has no exact
    /// spelling: its words as written are its folded words, and the exact spelling is only ever
    /// matched against a query typed with accents, which no word without accents can match. Leaving
    /// it out halves what such a text adds to the index.
    pub fn of(fields: &[&str]) -> Self {
        let mut document = Self::default();
        for field in fields {
            for (exact, folded) in words(field, usize::MAX, MAX_WORD_CHARS) {
                push_word(&mut document.exact, &exact);
                push_word(&mut document.folded, &folded);
            }
        }
        if document.exact == document.folded {
            document.exact.clear();
        }
        document
    }

    /// No words at all (nothing to index).
    pub fn is_empty(&self) -> bool {
        self.folded.is_empty()
    }
}

fn push_word(line: &mut String, word: &str) {
    if !line.is_empty() {
        line.push(' ');
    }
    line.push_str(word);
}

/// A query as both engines run it: its words, each as typed (lowercase) and folded. Every word
/// must be found; the last one also as the start of a longer word, since people search as they type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    exact: Vec<String>,
    folded: Vec<String>,
}

impl SearchQuery {
    /// The query in `raw`, or `None` when it has no word to search for (only punctuation, say).
    pub fn parse(raw: &str) -> Option<Self> {
        let bounded: String = raw.chars().take(MAX_QUERY_CHARS).collect();
        let (exact, folded): (Vec<String>, Vec<String>) =
            words(&bounded, MAX_TERMS, MAX_TERM_CHARS).unzip();
        (!exact.is_empty()).then_some(Self { exact, folded })
    }

    /// Typed with accents (or đ): then matches as typed rank before the others.
    pub fn is_accented(&self) -> bool {
        self.exact != self.folded
    }

    /// The words in one spelling joined by spaces, for [`text_has_terms`].
    pub fn terms(&self, exact: bool) -> String {
        if exact { &self.exact } else { &self.folded }.join(" ")
    }

    /// The words as typed, lowercase.
    pub fn exact_terms(&self) -> &[String] {
        &self.exact
    }

    /// The words without accents.
    pub fn folded_terms(&self) -> &[String] {
        &self.folded
    }
}

/// Whether `text` has every one of `terms` (words separated by spaces, as [`SearchQuery::terms`]
/// joins them) in the spelling given (`exact`: as written; otherwise folded), the last as the start
/// of a word: the same test as the engines' indexes make, for one text at a time.
pub fn text_has_terms(text: &str, terms: &str, exact: bool) -> bool {
    let terms: Vec<&str> = terms.split(' ').filter(|t| !t.is_empty()).collect();
    let Some((last, whole)) = terms.split_last() else {
        return false;
    };
    let mut found = vec![false; terms.len()];
    for (written, folded) in words(text, usize::MAX, MAX_WORD_CHARS) {
        let word = if exact { written } else { folded };
        for (i, term) in whole.iter().enumerate() {
            found[i] |= word == *term;
        }
        found[whole.len()] |= word.starts_with(last);
        if found.iter().all(|&f| f) {
            return true;
        }
    }
    false
}

/// Whether each term is matched as a whole word (`false`) or as the start of one (`true`): only the
/// last, being typed.
pub fn prefix_flags(terms: &[String]) -> impl Iterator<Item = (&str, bool)> {
    let last = terms.len().saturating_sub(1);
    terms
        .iter()
        .enumerate()
        .map(move |(i, term)| (term.as_str(), i == last))
}

/// The words of `text` (at most `max_words`, each cut to `max_chars`), each as (exact, folded).
fn words(text: &str, max_words: usize, max_chars: usize) -> impl Iterator<Item = (String, String)> {
    let composed: String = text.nfc().collect();
    let mut found = Vec::new();
    let mut current = String::new();
    let mut length = 0;
    for c in composed.chars() {
        if c.is_alphanumeric() || (is_combining_mark(c) && !current.is_empty()) {
            if length < max_chars {
                current.extend(c.to_lowercase());
                length += 1;
            }
        } else if !current.is_empty() {
            found.push(std::mem::take(&mut current));
            length = 0;
            if found.len() == max_words {
                break;
            }
        }
    }
    if !current.is_empty() && found.len() < max_words {
        found.push(current);
    }
    found.into_iter().filter_map(|exact| {
        let folded = fold(&exact);
        // A word of marks only folds to nothing: not searchable.
        (!folded.is_empty()).then_some((exact, folded))
    })
}

/// `text` lowercase without accents: decomposed, marks dropped, đ as d.
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .flat_map(|c| c.nfd())
        .filter(|&c| !is_combining_mark(c))
        .map(|c| if c == 'đ' { 'd' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_folds_to_plain_letters() {
        assert_eq!(fold("Nguyễn Văn An"), "nguyen van an");
        assert_eq!(fold("Đức"), "duc");
        assert_eq!(fold("đức"), "duc");
        assert_eq!(fold("điện thoại"), "dien thoai");
        assert_eq!(fold("Ỷ Ỵ ữ Ặ"), "y y u a");
    }

    #[test]
    fn decomposed_input_is_the_same_text() {
        // Some Vietnamese keyboards type "tổ hợp": the base letter then its marks.
        let decomposed = "Nguye\u{302}\u{303}n";
        let document = Document::of(&[decomposed]);
        assert_eq!(document.exact, "nguyễn");
        assert_eq!(document.folded, "nguyen");
    }

    #[test]
    fn documents_keep_words_only() {
        let document = Document::of(&["Giá bao nhiêu ạ??", "an.nguyen@example.vn"]);
        assert_eq!(document.exact, "giá bao nhiêu ạ an nguyen example vn");
        assert_eq!(document.folded, "gia bao nhieu a an nguyen example vn");
        assert!(Document::of(&["!!! ...", ""]).is_empty());
        let long = "xá".repeat(500);
        assert_eq!(Document::of(&[&long]).exact.chars().count(), MAX_WORD_CHARS);
    }

    #[test]
    fn texts_without_accents_have_no_exact_spelling() {
        let typed_plain = Document::of(&["Shop oi con hang ko", "DUC"]);
        assert_eq!(typed_plain.exact, "");
        assert_eq!(typed_plain.folded, "shop oi con hang ko duc");
        assert!(!typed_plain.is_empty());
        let one_accent = Document::of(&["con hang ko ạ"]);
        assert_eq!(one_accent.exact, "con hang ko ạ");
        assert_eq!(one_accent.folded, "con hang ko a");
    }

    #[test]
    fn queries_are_words_whatever_was_typed() {
        let query = SearchQuery::parse("  Đức\"* OR (NEAR) -x ").expect("words");
        assert_eq!(query.exact_terms(), ["đức", "or", "near", "x"]);
        assert_eq!(query.folded_terms(), ["duc", "or", "near", "x"]);
        assert!(query.is_accented());
        assert!(
            !SearchQuery::parse("nguyen van")
                .expect("words")
                .is_accented()
        );
        let injected = SearchQuery::parse("'; DROP TABLE --%_*").expect("words");
        assert_eq!(injected.exact_terms(), ["drop", "table"]);
        assert_eq!(SearchQuery::parse("%%% ^^ \"\""), None);
        assert_eq!(SearchQuery::parse(""), None);
    }

    #[test]
    fn long_queries_are_bounded() {
        let query = SearchQuery::parse(&"từ ".repeat(10_000)).expect("words");
        assert_eq!(query.exact_terms().len(), MAX_TERMS);
        let query = SearchQuery::parse(&"a".repeat(10_000)).expect("a word");
        assert_eq!(query.exact_terms()[0].chars().count(), MAX_TERM_CHARS);
    }

    #[test]
    fn one_text_is_matched_as_the_index_matches_it() {
        let text = "Cho mình hỏi giá Điện thoại";
        assert!(text_has_terms(text, "dien thoai", false));
        assert!(text_has_terms(text, "thoai gia", false), "in any order");
        assert!(
            text_has_terms(text, "điện th", true),
            "the last word as a prefix"
        );
        assert!(
            !text_has_terms(text, "dien", true),
            "as written, accents count"
        );
        assert!(
            !text_has_terms(text, "die thoai", false),
            "a word before the last is whole"
        );
        assert!(!text_has_terms(text, "", false));
    }

    #[test]
    fn only_the_last_term_is_a_prefix() {
        let query = SearchQuery::parse("nguyen van a").expect("words");
        let flags: Vec<(&str, bool)> = prefix_flags(query.folded_terms()).collect();
        assert_eq!(flags, [("nguyen", false), ("van", false), ("a", true)]);
    }
}
