//! Grounding, the fast path: is every claim's specifics in the context?
//!
//! The response is split into claims ([`split_claims`]); each claim's specifics are its
//! numbers (as values, so `twenty-five` in the claim matches `25` in the context), its names
//! (capitalised words that are not common words), its quoted phrases and its rare words (7
//! letters or more, not names). A claim is supported when, after the same normalisation of
//! claim and context:
//!
//! - every number occurs in the context, and the content word just before it or just after it
//!   (within 3 words) is not, in the context, on that side of other numbers only (`eats four
//!   for breakfast` against `eats three for breakfast`: a swapped number);
//! - every name and every quoted phrase occurs in the context;
//! - at least half its rare words occur in the context, or all but one (paraphrase leaves
//!   room);
//! - its polarity agrees with the context sentence that shares most of its words, when that
//!   sentence holds at least 60% of them (`did not kill` against `killed`: a negation).
//!
//! The grade is the share of supported claims; what is missing is listed per claim. This
//! path needs no model; the judge path (each claim asked of a model) runs in the pipeline.
//!
//! ```
//! use autodidact_guards::grounding::check;
//! let ctx = "Janet's ducks lay 16 eggs per day. She eats three for breakfast and bakes with four.";
//! assert_eq!(check("Her ducks lay sixteen eggs a day.", ctx).score, 1.0);
//! let g = check("She eats four for breakfast.", ctx);
//! assert_eq!(g.score, 0.0);
//! assert!(g.reason().unwrap().contains("4"));
//! ```

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::claims::split_claims;
use crate::numbers::{Number, numbers, same};
use crate::words::{is_stopword, negated, words};

/// Words within this distance of a number are its anchors.
const ANCHOR_WINDOW: usize = 3;

/// Rare words: at least this many characters.
const RARE_LEN: usize = 7;

/// One claim's check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClaimCheck {
    /// The claim.
    pub claim: String,
    /// Whether every specific was found.
    pub supported: bool,
    /// What was not found or contradicts the context (`number 4: …`, `name Romeo`, …).
    pub missing: Vec<String>,
}

/// The grounding of one response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grounding {
    /// Each claim, in order.
    pub claims: Vec<ClaimCheck>,
    /// The share of supported claims (1 when there is no claim).
    pub score: f64,
}

impl Grounding {
    /// The rejection reason: the unsupported claims with what each misses; `None` when all
    /// are supported.
    pub fn reason(&self) -> Option<String> {
        let bad: Vec<String> = self
            .claims
            .iter()
            .filter(|c| !c.supported)
            .map(|c| format!("\"{}\" ({})", c.claim, c.missing.join("; ")))
            .collect();
        (!bad.is_empty()).then(|| format!("unsupported by the context: {}", bad.join(", ")))
    }
}

/// A text as tokens: words, with the numbers' values at the tokens they cover.
struct Tokens {
    words: Vec<String>,
    /// Token index → the value of the number it belongs to.
    values: Vec<Option<f64>>,
}

impl Tokens {
    fn new(text: &str) -> Self {
        // Token byte spans, with the same rules as `words`.
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            if c.is_alphanumeric() || ((c == '\'' || c == '’') && start.is_some()) {
                start.get_or_insert(i);
            } else if let Some(s) = start.take() {
                spans.push((s, i));
            }
        }
        if let Some(s) = start {
            spans.push((s, text.len()));
        }
        let words: Vec<String> = spans.iter().map(|&(s, e)| words(&text[s..e]).concat()).collect();
        let mut values = vec![None; words.len()];
        for Number { value, start, end } in numbers(text) {
            for (t, &(s, e)) in spans.iter().enumerate() {
                if s < end && e > start {
                    values[t] = Some(value);
                }
            }
        }
        Tokens { words, values }
    }

    /// The nearest content word before tokens `[first, last]` and the nearest after, each
    /// within the window and not a number, keyed by side (`<word`, `>word`).
    fn anchors(&self, first: usize, last: usize) -> Vec<String> {
        let content = |t: usize| self.values[t].is_none() && !is_stopword(&self.words[t]) && self.words[t].len() > 2;
        let mut out = Vec::new();
        if let Some(t) = (first.saturating_sub(ANCHOR_WINDOW)..first).rev().find(|&t| content(t)) {
            out.push(format!("<{}", self.words[t]));
        }
        let hi = (last + ANCHOR_WINDOW).min(self.words.len().saturating_sub(1));
        if let Some(t) = (last + 1..=hi).find(|&t| content(t)) {
            out.push(format!(">{}", self.words[t]));
        }
        out
    }

    /// The numbers of the text: (value, first token, last token).
    fn numbers(&self) -> Vec<(f64, usize, usize)> {
        let mut out: Vec<(f64, usize, usize)> = Vec::new();
        for (t, v) in self.values.iter().enumerate() {
            if let Some(v) = *v {
                match out.last_mut() {
                    Some(last) if last.2 + 1 == t && last.0 == v => last.2 = t,
                    _ => out.push((v, t, t)),
                }
            }
        }
        out
    }
}

/// The context, indexed once for all claims.
pub struct Context {
    words: HashSet<String>,
    values: Vec<f64>,
    /// Normalised text (words joined by spaces), for quoted phrases.
    joined: String,
    /// Anchor (`<word` before a number, `>word` after it) → values of those numbers.
    near: HashMap<String, Vec<f64>>,
    /// Each sentence's content words and whether it is negated.
    sentences: Vec<(HashSet<String>, bool)>,
}

impl Context {
    /// Indexes `text`.
    pub fn new(text: &str) -> Self {
        let tokens = Tokens::new(text);
        let mut near: HashMap<String, Vec<f64>> = HashMap::new();
        let nums = tokens.numbers();
        for &(v, first, last) in &nums {
            for a in tokens.anchors(first, last) {
                near.entry(a).or_default().push(v);
            }
        }
        let sentences = split_claims(text)
            .iter()
            .map(|s| {
                let w = words(s);
                let neg = negated(&w);
                (content_words(&w).into_iter().collect(), neg)
            })
            .collect();
        Context {
            joined: format!(" {} ", tokens.words.join(" ")),
            words: tokens.words.into_iter().collect(),
            values: nums.iter().map(|n| n.0).collect(),
            near,
            sentences,
        }
    }

    /// Checks one claim.
    pub fn check_claim(&self, claim: &str) -> ClaimCheck {
        let tokens = Tokens::new(claim);
        let mut missing = Vec::new();
        for (v, first, last) in tokens.numbers() {
            let shown = fmt_value(v);
            if !self.values.iter().any(|&c| same(c, v)) {
                missing.push(format!("number {shown} is not in the context"));
                continue;
            }
            let anchors = tokens.anchors(first, last);
            let evidence: Vec<(&str, &Vec<f64>)> =
                anchors.iter().filter_map(|a| self.near.get(a).map(|vals| (&a[1..], vals))).collect();
            if !evidence.is_empty() && !evidence.iter().any(|(_, vals)| vals.iter().any(|&c| same(c, v))) {
                let (a, vals) = evidence[0];
                let others: Vec<String> = vals.iter().map(|&x| fmt_value(x)).collect();
                missing.push(format!("number {shown}: the context has {} next to \"{a}\"", others.join(" or ")));
            }
        }
        let claim_words = words(claim);
        let raw: Vec<&str> = claim.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’').filter(|w| !w.is_empty()).collect();
        let mut names = Vec::new();
        for (i, w) in raw.iter().enumerate() {
            let first_char = w.chars().next().unwrap_or('a');
            let lower = words(w).concat();
            if first_char.is_uppercase() && !is_stopword(&lower) && !lower.chars().all(|c| c.is_ascii_digit()) && (i > 0 || lower.len() > 2) {
                names.push(lower);
            }
        }
        for n in &names {
            if !self.words.contains(n) {
                missing.push(format!("name {n}"));
            }
        }
        for q in quotes(claim) {
            let norm = words(&q).join(" ");
            if !norm.is_empty() && !self.joined.contains(&format!(" {norm} ")) {
                missing.push(format!("quotation \"{q}\""));
            }
        }
        let rare: Vec<&String> = claim_words
            .iter()
            .filter(|w| w.len() >= RARE_LEN && !is_stopword(w) && !names.contains(w) && numbers(w).is_empty())
            .collect();
        let absent: Vec<&str> = rare.iter().filter(|w| !self.words.contains(**w)).map(|w| w.as_str()).collect();
        if absent.len() >= 2 && absent.len() * 2 > rare.len() {
            missing.push(format!("words {}", absent.join(", ")));
        }
        // Polarity against the sentence sharing most content words.
        let content: HashSet<String> = content_words(&claim_words).into_iter().collect();
        if !content.is_empty() {
            let best = self
                .sentences
                .iter()
                .map(|(s, neg)| (content.iter().filter(|w| s.contains(*w)).count(), *neg))
                .max_by_key(|(n, _)| *n);
            if let Some((shared, neg)) = best
                && shared * 10 >= content.len() * 6
                && neg != negated(&claim_words)
            {
                missing.push(if neg { "negation: the context says the opposite (it negates)".into() } else { "negation: the context does not negate this".into() });
            }
        }
        ClaimCheck { claim: claim.to_string(), supported: missing.is_empty(), missing }
    }
}

/// The words that align a claim with a sentence: not common, not negations, crudely stemmed
/// (`loves` → `love`).
fn content_words(words: &[String]) -> Vec<String> {
    words
        .iter()
        .filter(|w| !is_stopword(w) && !crate::words::is_negation(w))
        .map(|w| if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") { w[..w.len() - 1].to_string() } else { w.clone() })
        .collect()
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

/// Phrases in double quotes.
fn quotes(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for c in text.chars() {
        match (c, cur.as_mut()) {
            ('"' | '“' | '”', Some(_)) => out.push(cur.take().unwrap_or_default()),
            ('"' | '“', None) => cur = Some(String::new()),
            (_, Some(s)) => s.push(c),
            _ => {}
        }
    }
    out.into_iter().filter(|q| q.split_whitespace().count() >= 2).collect()
}

/// Checks every claim of `response` against `context`.
pub fn check(response: &str, context: &str) -> Grounding {
    let cx = Context::new(context);
    let claims: Vec<ClaimCheck> = split_claims(response).iter().map(|c| cx.check_claim(c)).collect();
    let score = if claims.is_empty() { 1.0 } else { claims.iter().filter(|c| c.supported).count() as f64 / claims.len() as f64 };
    Grounding { claims, score }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GSM: &str = "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg.";

    fn one(claim: &str, ctx: &str) -> ClaimCheck {
        Context::new(ctx).check_claim(claim)
    }

    #[test]
    fn numbers_in_words_units_and_separators_match_their_values() {
        assert!(one("Janet's ducks lay sixteen eggs each day.", GSM).supported);
        let c = one("She sells eggs for 2 dollars each at the market.", GSM);
        assert!(c.supported, "{c:?}");
        assert!(one("The house cost $80000.", "He bought a house for $80,000 in May.").supported);
        assert!(one("It is 5km long.", "The road is 5 km long.").supported);
        let c = one("Janet's ducks lay 17 eggs per day.", GSM);
        assert_eq!(c.missing, vec!["number 17 is not in the context"]);
    }

    #[test]
    fn a_swapped_number_is_caught_by_its_neighbours() {
        let c = one("She eats four for breakfast every morning.", GSM);
        assert!(!c.supported);
        assert!(c.missing[0].starts_with("number 4: the context has 3 next to"), "{:?}", c.missing);
        // A paraphrase keeping the number with other words passes.
        assert!(one("The remainder is sold for $2 per egg.", GSM).supported);
    }

    #[test]
    fn names_quotes_rare_words_and_negations() {
        let ctx = "Romeo loves Juliet. Tybalt slew Mercutio in the street. The friar said \"these violent delights have violent ends\".";
        assert!(one("Romeo loves Juliet.", ctx).supported);
        assert_eq!(one("Romeo loves Rosaline.", ctx).missing, vec!["name rosaline"]);
        assert!(one("The friar warned that \"these violent delights have violent ends\".", ctx).supported);
        assert!(!one("He said \"these gentle delights have gentle ends\".", ctx).supported);
        assert!(!one("Romeo does not love Juliet.", ctx).supported);
        assert!(one("Tybalt killed Mercutio.", ctx).supported, "paraphrase without rare words");
        assert!(!one("Tybalt poisoned Mercutio treacherously.", ctx).supported, "rare words absent");
        let neg = "Hamlet did not kill the king at prayer.";
        assert!(one("Hamlet did not kill the king at prayer.", neg).supported);
        assert!(one("Hamlet never killed the king at prayer.", neg).supported);
        assert!(!one("Hamlet killed the king at prayer.", neg).supported);
    }

    #[test]
    fn the_grade_is_the_share_of_supported_claims() {
        let g = check("Janet's ducks lay 16 eggs per day. She eats five for breakfast.", GSM);
        assert_eq!(g.score, 0.5);
        let r = g.reason().unwrap();
        assert!(r.contains("She eats five for breakfast.") && r.contains("number 5"), "{r}");
        assert_eq!(check("", GSM).score, 1.0);
        assert!(check("Janet's ducks lay 16 eggs per day.", GSM).reason().is_none());
    }
}
