//! Splitting a response into claims: its sentences, and its list items.
//!
//! A claim ends at `.`, `!` or `?` (with any closing quotes or brackets after it) followed by
//! whitespace and the start of a new sentence (a capital letter, a digit, an opening quote or
//! bracket), or at a line break. Not at the dot of an abbreviation (`Mr.`, `e.g.`, `U.S.`), of
//! an initial (`J. K. Rowling`), of a decimal number (`3.14`: no space follows), or of a
//! sentence quoted inside another one and carried on in lower case (`He said "Stop." and
//! left.`).
//!
//! ```
//! use autodidact_guards::claims::split_claims;
//! let c = split_claims("Dr. Smith paid $3.50. He said \"Wait.\" and left!\n- Item two");
//! assert_eq!(c, vec!["Dr. Smith paid $3.50.", "He said \"Wait.\" and left!", "Item two"]);
//! ```

/// Abbreviations whose dot does not end a sentence (lowercase, without the dot).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "eg", "e.g", "ie", "i.e", "inc", "ltd", "co",
    "corp", "no", "fig", "approx", "dept", "est", "gen", "gov", "lt", "col", "sgt", "capt", "rev", "hon", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "a.m", "p.m", "cf", "al",
];

/// Characters that may close a sentence after its final punctuation.
fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '}' | '”' | '’' | '»')
}

/// Characters that may open a sentence.
fn is_opener(c: char) -> bool {
    c.is_uppercase() || c.is_ascii_digit() || matches!(c, '"' | '\'' | '(' | '[' | '“' | '‘' | '«' | '$' | '£' | '€')
}

/// Leading list markers: `- `, `* `, `• `, `1. `, `2) `.
fn strip_marker(line: &str) -> &str {
    let t = line.trim_start();
    for m in ["- ", "* ", "• ", "– "] {
        if let Some(rest) = t.strip_prefix(m) {
            return rest.trim_start();
        }
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && digits <= 3 {
        let rest = &t[digits..];
        if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return r.trim_start();
        }
    }
    t
}

/// Whether the word ending just before a dot at byte `dot` of `s` is an abbreviation or an
/// initial.
fn abbreviation_before(s: &str, dot: usize) -> bool {
    let head = &s[..dot];
    let word = head.rsplit(|c: char| c.is_whitespace() || c == '(' || c == '"').next().unwrap_or("");
    let lower = word.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return true;
    }
    // An initial: one capital letter (`J.`), or dotted capitals (`U.S.`, `J.R.R.`).
    let letters: Vec<char> = word.chars().filter(|c| *c != '.').collect();
    !letters.is_empty() && letters.len() <= 4 && letters.iter().all(|c| c.is_uppercase()) && (letters.len() == 1 || word.contains('.'))
}

/// The claims of `text`, in order, trimmed, without list markers; empty ones dropped.
pub fn split_claims(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = strip_marker(line);
        if line.is_empty() {
            continue;
        }
        split_line(line, &mut out);
    }
    out
}

fn split_line(line: &str, out: &mut Vec<String>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut start = 0usize;
    let mut i = 0;
    // Depth of double quotes, to know whether a sentence end is inside a quotation.
    let mut in_quote = false;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if c == '"' {
            in_quote = !in_quote;
        } else if c == '“' {
            in_quote = true;
        } else if c == '”' {
            in_quote = false;
        }
        if matches!(c, '.' | '!' | '?') {
            // Runs like "?!" or "..." end together.
            let mut j = i + 1;
            while j < chars.len() && matches!(chars[j].1, '.' | '!' | '?') {
                j += 1;
            }
            let mut closes_quote = false;
            while j < chars.len() && is_closer(chars[j].1) {
                if matches!(chars[j].1, '"' | '”') {
                    closes_quote = true;
                }
                j += 1;
            }
            let followed_by_space = j < chars.len() && chars[j].1.is_whitespace();
            let mut k = j;
            while k < chars.len() && chars[k].1.is_whitespace() {
                k += 1;
            }
            let at_end = k >= chars.len();
            let next_opens = !at_end && is_opener(chars[k].1);
            let is_abbrev = c == '.' && j == i + 1 && abbreviation_before(line, pos);
            // Inside a quotation that goes on, a sentence end is the quoted one's.
            let quote_inside = in_quote && !closes_quote;
            if (at_end || (followed_by_space && next_opens)) && !is_abbrev && !quote_inside {
                let end = if j < chars.len() { chars[j].0 } else { line.len() };
                push(out, &line[start..end]);
                if closes_quote {
                    in_quote = false;
                }
                start = if k < chars.len() { chars[k].0 } else { line.len() };
                i = k;
                continue;
            }
            if closes_quote {
                in_quote = false;
            }
            i = j;
            continue;
        }
        i += 1;
    }
    if start < line.len() {
        push(out, &line[start..]);
    }
}

fn push(out: &mut Vec<String>, s: &str) {
    let s = s.trim();
    if s.chars().any(char::is_alphanumeric) {
        out.push(s.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_where_they_end() {
        assert_eq!(split_claims("One. Two! Three? Four"), vec!["One.", "Two!", "Three?", "Four"]);
        assert_eq!(split_claims("It costs 3.50 dollars. Then 4."), vec!["It costs 3.50 dollars.", "Then 4."]);
        assert_eq!(split_claims("Wait... What?! Yes."), vec!["Wait...", "What?!", "Yes."]);
        assert_eq!(split_claims("(He left.) She stayed."), vec!["(He left.)", "She stayed."]);
    }

    #[test]
    fn abbreviations_and_initials_do_not_end_sentences() {
        assert_eq!(
            split_claims("Mr. Smith met Dr. Jones at 5 p.m. on Monday. J. K. Rowling wrote it."),
            vec!["Mr. Smith met Dr. Jones at 5 p.m. on Monday.", "J. K. Rowling wrote it."]
        );
        assert_eq!(split_claims("The U.S. Army won. Fruit, e.g. Apples, grows."), vec!["The U.S. Army won.", "Fruit, e.g. Apples, grows."]);
    }

    #[test]
    fn quoted_sentences_stay_inside_their_claim() {
        assert_eq!(
            split_claims("He said \"Stop. Now.\" and left. \"Go!\" She ran."),
            vec!["He said \"Stop. Now.\" and left.", "\"Go!\"", "She ran."]
        );
        assert_eq!(split_claims("“Hello.” Then silence."), vec!["“Hello.”", "Then silence."]);
    }

    #[test]
    fn lines_and_list_items_are_claims() {
        assert_eq!(
            split_claims("Facts:\n- The sky is blue\n* Grass is green.\n1. Water is wet\n2) Fire is hot\n\n"),
            vec!["Facts:", "The sky is blue", "Grass is green.", "Water is wet", "Fire is hot"]
        );
        assert!(split_claims("  \n ... \n").is_empty());
        assert_eq!(split_claims("lower case start. another one."), vec!["lower case start. another one."]);
    }
}
