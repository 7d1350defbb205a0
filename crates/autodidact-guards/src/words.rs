//! Words as the guards compare them: lowercase ASCII-folded tokens of letters and digits,
//! common words, negations.

/// Common English words: never specifics, ignored when aligning a claim with the context.
pub const STOPWORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does",
    "doing", "down", "during", "each", "every", "few", "for", "from", "further", "had", "has", "have", "having", "he",
    "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its",
    "itself", "just", "me", "more", "most", "my", "myself", "of", "off", "on", "once", "only", "or", "other", "our",
    "ours", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their",
    "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until",
    "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with",
    "would", "you", "your", "yours", "thee", "thou", "thy", "thine", "ye", "hath", "doth", "shall", "may", "might",
    "must", "let", "yes", "oh", "o", "now", "well", "yet", "one", "many", "much", "how", "each", "therefore", "so",
    "total", "per", "first", "second", "after", "left", "day", "days", "week", "weeks",
];

/// Words that negate a statement.
pub const NEGATIONS: &[&str] = &["not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot", "nowhere", "without"];

/// The words of `text`: runs of letters, digits and apostrophes, lowercased, apostrophes
/// dropped (`don't` → `dont`, which [`is_negation`] knows).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else if (c == '\'' || c == '’') && !cur.is_empty() {
            // inside a word: dropped
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a word (as [`words`] gives it) is common.
pub fn is_stopword(w: &str) -> bool {
    STOPWORDS.contains(&w)
}

/// Negative contractions, apostrophe dropped.
const CONTRACTIONS: &[&str] = &[
    "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "cant", "couldnt", "wont", "wouldnt", "shouldnt",
    "hasnt", "havent", "hadnt", "aint", "mustnt", "neednt", "shant",
];

/// Whether a word (as [`words`] gives it) negates: `not`, `never`, `dont`, `isnt`, ...
pub fn is_negation(w: &str) -> bool {
    NEGATIONS.contains(&w) || CONTRACTIONS.contains(&w)
}

/// Whether the words hold a negation.
pub fn negated(words: &[String]) -> bool {
    words.iter().any(|w| is_negation(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_negations() {
        assert_eq!(words("Don't STOP, it's 3.5 km!"), vec!["dont", "stop", "its", "3", "5", "km"]);
        assert!(negated(&words("He didn't go")) && negated(&words("never again")) && negated(&words("I cannot")));
        assert!(!negated(&words("I want to count the amount of students present")));
        assert!(is_stopword("the") && !is_stopword("romeo"));
    }
}
