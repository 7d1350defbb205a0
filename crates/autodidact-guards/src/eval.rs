//! Labelled benchmarks for the guards, built from real text: correct items and corrupted
//! copies whose corruption is known, so precision and recall are computed, not assumed.
//!
//! - [`math_cases`]: GSM8K worked solutions, each as written (correct) and once corrupted:
//!   a step's result changed (in its calculator annotation and in the text, as a model that
//!   miscalculated writes it) or the final answer changed.
//! - [`grounded_cases`]: a passage as context and an answer that is one of its sentences
//!   (lightly paraphrased: small numbers in words, a leading conjunction dropped), correct
//!   as it is, or corrupted: a number changed (to another number of the passage when it has
//!   one, else nearby), a name swapped for a name the passage does not hold, or a negation
//!   added or removed.
//!
//! A guard's flag is a positive; a corrupted item is a true positive when flagged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::claims::split_claims;
use crate::grounding;
use crate::math::verify;
use crate::numbers::{numbers, same};
use crate::words::{is_stopword, words};

/// A small seeded generator (SplitMix64), so that benchmarks are the same on every machine.
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x6576_616c_2d67_7561)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Counts of a guard's flags against the labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Corrupted and flagged.
    pub true_positives: u64,
    /// Correct but flagged.
    pub false_positives: u64,
    /// Correct and passed.
    pub true_negatives: u64,
    /// Corrupted but passed.
    pub false_negatives: u64,
}

impl Confusion {
    /// Adds one decision.
    pub fn add(&mut self, corrupted: bool, flagged: bool) {
        match (corrupted, flagged) {
            (true, true) => self.true_positives += 1,
            (false, true) => self.false_positives += 1,
            (false, false) => self.true_negatives += 1,
            (true, false) => self.false_negatives += 1,
        }
    }
    /// Flagged items that were corrupted (1 when nothing was flagged).
    pub fn precision(&self) -> f64 {
        let flagged = self.true_positives + self.false_positives;
        if flagged == 0 { 1.0 } else { self.true_positives as f64 / flagged as f64 }
    }
    /// Corrupted items that were flagged (1 when nothing was corrupted).
    pub fn recall(&self) -> f64 {
        let bad = self.true_positives + self.false_negatives;
        if bad == 0 { 1.0 } else { self.true_positives as f64 / bad as f64 }
    }
}

/// One math item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MathCase {
    /// The problem.
    pub question: String,
    /// The worked solution, as written or corrupted.
    pub solution: String,
    /// The right final answer (the checker's).
    pub reference: f64,
    /// The corruption (`step`, `final`), `None` for the solution as written.
    pub corruption: Option<String>,
}

/// A value near `v` and different from it (and from `avoid`), of the same kind (integer or not).
fn nearby(v: f64, avoid: &[f64], rng: &mut Rng) -> f64 {
    for _ in 0..20 {
        let delta = match rng.below(4) {
            0 => 1.0,
            1 => 2.0,
            2 => (v.abs() * 0.1).round().max(1.0),
            _ => (rng.below(9) + 3) as f64,
        };
        let w = if rng.below(2) == 0 && v - delta > 0.0 { v - delta } else { v + delta };
        if !same(w, v) && !avoid.iter().any(|&a| same(a, w)) {
            return w;
        }
    }
    v + 1.0
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

/// Changes one step's result: `<<9*2=18>>18` → `<<9*2=19>>19`.
pub fn corrupt_step(solution: &str, rng: &mut Rng) -> Option<String> {
    let mut steps = Vec::new();
    let mut at = 0;
    while let Some(open) = solution[at..].find("<<") {
        let open = at + open;
        let close = open + solution[open..].find(">>")?;
        let inner = &solution[open + 2..close];
        let (_, result) = inner.rsplit_once('=')?;
        let display: String = solution[close + 2..].chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',').collect();
        let display = display.trim_end_matches(['.', ',']).to_string();
        if result.trim().parse::<f64>().is_ok() && !display.is_empty() {
            steps.push((open, close, result.trim().to_string(), display));
        }
        at = close + 2;
    }
    if steps.is_empty() {
        return None;
    }
    let (open, close, result, display) = steps[rng.below(steps.len())].clone();
    let v: f64 = result.parse().ok()?;
    let w = fmt(nearby(v, &[], rng));
    let inner = &solution[open + 2..close];
    let eq = inner.rfind('=')?;
    Some(format!("{}<<{}={w}>>{w}{}", &solution[..open], &inner[..eq], &solution[close + 2 + display.len()..]))
}

/// Changes the final answer after `####`.
pub fn corrupt_final(solution: &str, rng: &mut Rng) -> Option<String> {
    let i = solution.rfind("####")?;
    let tail = &solution[i + 4..];
    let v = numbers(tail).first()?.value;
    Some(format!("{}#### {}", &solution[..i], fmt(nearby(v, &[], rng))))
}

/// Each GSM8K row (`question`, `answer`) as written, and once corrupted (step or final,
/// alternating, a step when the solution has no annotated step to corrupt).
pub fn math_cases(rows: &[(String, String)], seed: u64) -> Vec<MathCase> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for (k, (q, a)) in rows.iter().enumerate() {
        let Some(reference) = a.rfind("####").and_then(|i| numbers(&a[i..]).first().map(|n| n.value)) else { continue };
        out.push(MathCase { question: q.clone(), solution: a.clone(), reference, corruption: None });
        let (kind, bad) = if k % 2 == 0 {
            match corrupt_step(a, &mut rng) {
                Some(s) => ("step", Some(s)),
                None => ("final", corrupt_final(a, &mut rng)),
            }
        } else {
            ("final", corrupt_final(a, &mut rng))
        };
        if let Some(bad) = bad {
            out.push(MathCase { question: q.clone(), solution: bad, reference, corruption: Some(kind.into()) });
        }
    }
    out
}

/// One grounded-QA item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundedCase {
    /// Where the passage comes from (`shakespeare`, `gsm8k`).
    pub source: String,
    /// The passage.
    pub context: String,
    /// The answer.
    pub answer: String,
    /// `number`, `name`, `negation`, or `None` for a faithful answer.
    pub corruption: Option<String>,
}

const SMALL: [&str; 21] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
];

/// The light paraphrase every answer gets: small whole numbers in words, a leading `And`,
/// `But`, `So` or `Then` dropped.
fn paraphrase(sentence: &str) -> String {
    let mut s = sentence.to_string();
    for lead in ["And ", "But ", "So ", "Then "] {
        if let Some(rest) = s.strip_prefix(lead) {
            let mut c = rest.chars();
            s = c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default();
            break;
        }
    }
    let mut out = String::new();
    let mut last = 0;
    for n in numbers(&s) {
        let text = &s[n.start..n.end];
        if text.chars().all(|c| c.is_ascii_digit()) && n.value <= 20.0 {
            out.push_str(&s[last..n.start]);
            out.push_str(SMALL[n.value as usize]);
            last = n.end;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// Auxiliaries after which `not` negates.
const AUXILIARIES: &[&str] = &[
    "is", "was", "are", "were", "will", "shall", "do", "does", "did", "can", "would", "should", "could", "hath", "have",
    "has", "had", "must", "may", "might", "am",
];

/// The opposite claim: its only negation removed (`not`, `never`), or `not` added after its
/// first auxiliary when it has no negation; `None` otherwise (two negations, or nothing to
/// negate).
fn negate(sentence: &str) -> Option<String> {
    let toks: Vec<&str> = sentence.split(' ').collect();
    let negations = crate::words::words(sentence).iter().filter(|w| crate::words::is_negation(w)).count();
    if negations > 1 {
        return None;
    }
    if negations == 1 {
        let i = toks.iter().position(|t| matches!(*t, "not" | "never"))?;
        let mut v = toks.clone();
        v.remove(i);
        return Some(v.join(" "));
    }
    let i = toks.iter().position(|t| AUXILIARIES.contains(&t.to_lowercase().as_str()))?;
    let mut v: Vec<String> = toks.iter().map(|s| s.to_string()).collect();
    v.insert(i + 1, "not".into());
    Some(v.join(" "))
}

fn swap_name(sentence: &str, context: &str, pool: &[String], rng: &mut Rng) -> Option<String> {
    let ctx_words: std::collections::HashSet<String> = words(context).into_iter().collect();
    let toks: Vec<&str> = sentence.split(' ').collect();
    let names: Vec<usize> = toks
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            let core = t.trim_matches(|c: char| !c.is_alphanumeric());
            *i > 0 && core.len() > 2 && core.chars().next().is_some_and(char::is_uppercase) && core.chars().all(char::is_alphabetic) && !is_stopword(&core.to_lowercase())
        })
        .map(|(i, _)| i)
        .collect();
    if names.is_empty() || pool.is_empty() {
        return None;
    }
    let i = names[rng.below(names.len())];
    let core = toks[i].trim_matches(|c: char| !c.is_alphanumeric());
    for _ in 0..20 {
        let new = &pool[rng.below(pool.len())];
        if !ctx_words.contains(&new.to_lowercase()) && new.to_lowercase() != core.to_lowercase() {
            let mut v: Vec<String> = toks.iter().map(|s| s.to_string()).collect();
            v[i] = toks[i].replacen(core, new, 1);
            return Some(v.join(" "));
        }
    }
    None
}

fn swap_number(sentence: &str, context: &str, rng: &mut Rng) -> Option<String> {
    let ns: Vec<_> = numbers(sentence).into_iter().filter(|n| sentence[n.start..n.end].chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.')).collect();
    if ns.is_empty() {
        return None;
    }
    let n = &ns[rng.below(ns.len())];
    // Another number of the passage when there is one (a swap), else a nearby value.
    let others: Vec<f64> = numbers(context).into_iter().map(|m| m.value).filter(|&v| !same(v, n.value) && v > 0.0).collect();
    let w = if !others.is_empty() && rng.below(2) == 0 { others[rng.below(others.len())] } else { nearby(n.value, &[], rng) };
    Some(format!("{}{}{}", &sentence[..n.start], fmt(w), &sentence[n.end..]))
}

/// Grounded items from `passages` (source name, text): for each, a faithful answer and a
/// corrupted one (a kind that applies, chosen at random), both paraphrased the same way.
/// `names` is the pool names are swapped from.
pub fn grounded_cases(passages: &[(String, String)], names: &[String], seed: u64) -> Vec<GroundedCase> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for (source, context) in passages {
        let sentences: Vec<String> = split_claims(context).into_iter().filter(|s| s.split_whitespace().count() >= 6).collect();
        if sentences.is_empty() {
            continue;
        }
        let sentence = &sentences[rng.below(sentences.len())];
        out.push(GroundedCase { source: source.clone(), context: context.clone(), answer: paraphrase(sentence), corruption: None });
        let mut kinds = vec!["number", "name", "negation"];
        // Shuffle the kinds, then take the first that applies.
        for i in (1..kinds.len()).rev() {
            kinds.swap(i, rng.below(i + 1));
        }
        for kind in kinds {
            let bad = match kind {
                "number" => swap_number(sentence, context, &mut rng),
                "name" => swap_name(sentence, context, names, &mut rng),
                _ => negate(sentence),
            };
            if let Some(bad) = bad.filter(|b| b != sentence) {
                out.push(GroundedCase { source: source.clone(), context: context.clone(), answer: paraphrase(&bad), corruption: Some(kind.into()) });
                break;
            }
        }
    }
    out
}

/// Speeches of a play text (tinyshakespeare's form: `SPEAKER:` lines, then the speech,
/// blank lines between): (speaker, the speech's lines joined by spaces) for speeches of at
/// least `min_lines` lines.
pub fn speeches(text: &str, min_lines: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines();
        let Some(head) = lines.next() else { continue };
        let Some(speaker) = head.strip_suffix(':') else { continue };
        let body: Vec<&str> = lines.map(str::trim).filter(|l| !l.is_empty()).collect();
        if body.len() >= min_lines {
            out.push((speaker.to_string(), body.join(" ")));
        }
    }
    out
}

/// A speaker's name as a name in text: `FIRST CITIZEN` → skipped (not one name),
/// `MENENIUS` → `Menenius`.
pub fn speaker_name(speaker: &str) -> Option<String> {
    let s = speaker.trim();
    if s.contains(' ') || s.len() < 3 || !s.chars().all(char::is_alphabetic) {
        return None;
    }
    let lower = s.to_lowercase();
    let mut c = lower.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str())
}

/// How one check did on a labelled set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The check.
    pub check: String,
    /// Its counts.
    pub confusion: Confusion,
    /// Flagged items that were corrupted.
    pub precision: f64,
    /// Corrupted items that were flagged.
    pub recall: f64,
    /// Recall per corruption kind.
    pub recall_by_kind: BTreeMap<String, f64>,
    /// Correct items flagged, with the check's reason (up to 3).
    pub false_alarms: Vec<String>,
    /// Corrupted items passed (up to 3).
    pub misses: Vec<String>,
}

/// Accumulates one check's decisions.
struct Tally {
    check: String,
    confusion: Confusion,
    kinds: BTreeMap<String, (u64, u64)>,
    false_alarms: Vec<String>,
    misses: Vec<String>,
}

impl Tally {
    fn new(check: &str) -> Self {
        Tally { check: check.into(), confusion: Confusion::default(), kinds: BTreeMap::new(), false_alarms: Vec::new(), misses: Vec::new() }
    }
    fn add(&mut self, corruption: Option<&str>, flagged: bool, example: impl FnOnce() -> String) {
        self.confusion.add(corruption.is_some(), flagged);
        if let Some(k) = corruption {
            let e = self.kinds.entry(k.to_string()).or_default();
            e.0 += u64::from(flagged);
            e.1 += 1;
            if !flagged && self.misses.len() < 3 {
                self.misses.push(example());
            }
        } else if flagged && self.false_alarms.len() < 3 {
            self.false_alarms.push(example());
        }
    }
    fn report(self) -> CheckReport {
        CheckReport {
            check: self.check,
            precision: self.confusion.precision(),
            recall: self.confusion.recall(),
            confusion: self.confusion,
            recall_by_kind: self.kinds.into_iter().map(|(k, (hit, n))| (k, hit as f64 / n.max(1) as f64)).collect(),
            false_alarms: self.false_alarms,
            misses: self.misses,
        }
    }
}

/// The report of a check from its decisions: (corruption, flagged, an example of the item
/// with the check's reason).
pub fn report(check: &str, decisions: impl IntoIterator<Item = (Option<String>, bool, String)>) -> CheckReport {
    let mut t = Tally::new(check);
    for (corruption, flagged, example) in decisions {
        t.add(corruption.as_deref(), flagged, || example);
    }
    t.report()
}

/// The math verifier on labelled solutions: the checks that need no reference (steps
/// recomputed, answer from the work), the checker alone, and all together.
pub fn evaluate_math(cases: &[MathCase]) -> Vec<CheckReport> {
    let mut tallies = [Tally::new("steps + answer from the work (no reference)"), Tally::new("checker (reference answer)"), Tally::new("all checks")];
    for c in cases {
        let v = verify(&c.solution, Some(c.reference));
        let kind = c.corruption.as_deref();
        let example = |reason: Option<String>| {
            let last = c.solution.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>();
            let tail = last.iter().rev().take(2).rev().cloned().collect::<Vec<_>>().join(" / ");
            format!("{tail} [{}]", reason.unwrap_or_else(|| "passed".into()))
        };
        tallies[0].add(kind, !v.arithmetic_ok(), || example(v.reason()));
        tallies[1].add(kind, v.matches_reference != Some(true), || example(v.reason()));
        tallies[2].add(kind, !v.ok(), || example(v.reason()));
    }
    tallies.into_iter().map(Tally::report).collect()
}

/// The grounding fast path on labelled answers: per source, and over all.
pub fn evaluate_grounding(cases: &[GroundedCase]) -> Vec<CheckReport> {
    let mut by_source: BTreeMap<String, Tally> = BTreeMap::new();
    let mut all = Tally::new("grounding fast path, all sources");
    for c in cases {
        let g = grounding::check(&c.answer, &c.context);
        let flagged = g.score < 1.0;
        let example = || format!("{} [{}]", c.answer, g.reason().unwrap_or_else(|| "passed".into()));
        let kind = c.corruption.as_deref();
        by_source.entry(c.source.clone()).or_insert_with(|| Tally::new(&format!("grounding fast path, {} passages", c.source))).add(kind, flagged, example);
        all.add(kind, flagged, example);
    }
    by_source.into_values().map(Tally::report).chain(std::iter::once(all.report())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grounding;
    use crate::math::verify;

    const SOLUTION: &str = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18";

    #[test]
    fn corrupted_solutions_differ_where_said_and_are_caught() {
        let mut rng = Rng::new(1);
        for _ in 0..20 {
            let bad = corrupt_step(SOLUTION, &mut rng).unwrap();
            assert_ne!(bad, SOLUTION);
            assert!(bad.ends_with("#### 18"), "{bad}");
            assert!(!verify(&bad, Some(18.0)).arithmetic_ok(), "{bad}");
            let bad = corrupt_final(SOLUTION, &mut rng).unwrap();
            assert!(!bad.ends_with("#### 18") && bad.starts_with("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9"), "{bad}");
            assert!(!verify(&bad, Some(18.0)).ok());
        }
        assert!(verify(SOLUTION, Some(18.0)).ok());
        let cases = math_cases(&[("q".into(), SOLUTION.into()), ("q2".into(), SOLUTION.into())], 3);
        let kinds: Vec<Option<&str>> = cases.iter().map(|c| c.corruption.as_deref()).collect();
        assert_eq!(kinds, vec![None, Some("step"), None, Some("final")]);
        assert!(cases.iter().all(|c| c.reference == 18.0));
    }

    #[test]
    fn grounded_corruptions_change_one_thing() {
        let mut rng = Rng::new(2);
        assert_eq!(negate("The king is dead."), Some("The king is not dead.".into()));
        assert_eq!(negate("I will never go."), Some("I will go.".into()));
        assert_eq!(negate("Birds fly south."), None);
        let s = swap_name("Then Romeo met Juliet there.", "Romeo met Juliet.", &["Juliet".into(), "Hamlet".into()], &mut rng).unwrap();
        assert!(s == "Then Hamlet met Juliet there." || s == "Then Romeo met Hamlet there.", "{s}");
        let s = swap_number("She lays 16 eggs.", "16 eggs, 3 eaten.", &mut rng).unwrap();
        assert_ne!(s, "She lays 16 eggs.");
        assert_eq!(paraphrase("And she has 3 of 25 eggs."), "She has three of 25 eggs.");
        let ctx = "Romeo met Juliet at the feast. Tybalt was angry at the feast tonight. She had 3 cousins and 12 maids.";
        let cases = grounded_cases(&[("t".into(), ctx.into())], &["Hamlet".into()], 5);
        assert_eq!(cases.len(), 2);
        assert!(cases[0].corruption.is_none() && cases[1].corruption.is_some());
        assert_eq!(grounding::check(&cases[0].answer, ctx).score, 1.0, "{:?}", cases[0]);
    }

    #[test]
    fn speeches_and_names_are_read_from_a_play() {
        let play = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\nMENENIUS:\nWhy, masters,\nmy good friends,\nmine honest neighbours.\n";
        let s = speeches(play, 2);
        assert_eq!(s, vec![("MENENIUS".to_string(), "Why, masters, my good friends, mine honest neighbours.".to_string())]);
        assert_eq!(speaker_name("MENENIUS").as_deref(), Some("Menenius"));
        assert_eq!(speaker_name("First Citizen"), None);
        let mut c = Confusion::default();
        for (bad, flag) in [(true, true), (true, false), (false, true), (false, false), (true, true)] {
            c.add(bad, flag);
        }
        assert_eq!((c.precision(), c.recall()), (2.0 / 3.0, 2.0 / 3.0));
    }
}
