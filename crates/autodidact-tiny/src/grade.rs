//! Answering, and the graders: `consistency` and `plausibility` (which never see the truth)
//! and `oracle` (which computes the true sum; named so wherever it appears).

use std::collections::BTreeMap;

use autodidact_data::Grade;
use autodidact_nn::Network;

use crate::TinyError;
use crate::arithmetic::{Answer, END, Problem};
use crate::config::{Arm, GradeSection};

/// Answers to `problems` (asked as written, position ids from `offset`), greedy at
/// `temperature` 0, else sampled.
pub fn answer(
    network: &Network,
    problems: &[Problem],
    offset: u32,
    temperature: f32,
    seed: u64,
) -> Result<Vec<Answer>, TinyError> {
    if problems.is_empty() {
        return Ok(Vec::new());
    }
    let (prompts, positions): (Vec<_>, Vec<_>) = problems.iter().map(|p| p.prompt(offset)).unzip();
    let max_new = problems
        .iter()
        .map(Problem::max_answer_tokens)
        .max()
        .unwrap_or(1);
    let out = network.generate_at(&prompts, &positions, max_new, Some(END), temperature, seed)?;
    Ok(out.iter().map(|t| Answer::read(t)).collect())
}

/// A problem and the model's answers to it: `views[0]` is the greedy answer to `a+b`; with
/// consistency, `views[1]` the greedy answer to `b+a` and the rest sampled answers,
/// alternating the two orders.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The problem.
    pub problem: Problem,
    /// The answers.
    pub views: Vec<Answer>,
    /// The sum as the model's own answers to the problem's blocks compose it (see
    /// [`decompose`]); only when asked for.
    pub parts: Option<Answer>,
}

/// Asks `network` each problem `views` times (1: the greedy answer only), and with
/// `parts = Some(block)` its blocks too ([`decompose`]); see [`Attempt`].
pub fn attempt(
    network: &Network,
    problems: &[Problem],
    views: usize,
    parts: Option<usize>,
    temperature: f32,
    seed: u64,
) -> Result<Vec<Attempt>, TinyError> {
    let mut composed = if let Some(block) = parts {
        decompose(network, problems, block)?.into_iter().map(Some).collect()
    } else {
        vec![None; problems.len()]
    };
    let swapped: Vec<Problem> = problems.iter().map(Problem::swapped).collect();
    let mut columns: Vec<Vec<Answer>> = Vec::with_capacity(views);
    for v in 0..views {
        let asked = if v % 2 == 0 { problems } else { &swapped[..] };
        let t = if v < 2 { 0.0 } else { temperature };
        let seed = seed ^ (v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        columns.push(answer(network, asked, 0, t, seed)?);
    }
    Ok(problems
        .iter()
        .enumerate()
        .map(|(i, p)| Attempt {
            problem: p.clone(),
            views: columns.iter().map(|c| c[i].clone()).collect(),
            parts: composed[i].take(),
        })
        .collect())
}

/// Digits (least significant first) without the zeros above the most significant digit; `[0]`
/// for zero.
fn trimmed(digits: &[u8]) -> Vec<u8> {
    let keep = digits.iter().rposition(|&d| d != 0).map_or(1, |i| i + 1);
    let mut out = digits[..keep.min(digits.len())].to_vec();
    if out.is_empty() {
        out.push(0);
    }
    out
}

/// The sum of each problem as the model's own answers to **short** problems compose it, the
/// way a person adds long numbers in blocks: both operands are cut into blocks of `block`
/// digits; the model adds each pair of blocks, then, from the lowest block up, adds 1 to a
/// block's sum when the block below carried (its sum had more than `block` digits). With
/// `block` = L0 − 1 every one of these problems has at most L0 digits: the lengths the model
/// learned from the real, labelled data. The truth is never consulted: a block the model gets
/// wrong spoils the composed sum, and a malformed answer gives a malformed one.
pub fn decompose(
    network: &Network,
    problems: &[Problem],
    block: usize,
) -> Result<Vec<Answer>, TinyError> {
    let block = block.max(1);
    let cut = |d: &[u8], i: usize| trimmed(d.get(i * block..((i + 1) * block).min(d.len())).unwrap_or(&[]));
    let blocks: Vec<usize> = problems.iter().map(|p| p.length().div_ceil(block)).collect();
    // Every pair of blocks, asked in one batch.
    let mut pairs = Vec::new();
    let mut first_pair = Vec::with_capacity(problems.len());
    for (p, &n) in problems.iter().zip(&blocks) {
        first_pair.push(pairs.len());
        pairs.extend((0..n).map(|i| Problem { a: cut(&p.a, i), b: cut(&p.b, i) }));
    }
    let sums = answer(network, &pairs, 0, 0.0, 0)?;
    // Carries, one block index at a time (a carry depends on the block below).
    let mut digits: Vec<Option<Vec<u8>>> = vec![Some(Vec::new()); problems.len()];
    let mut carry = vec![false; problems.len()];
    let most = blocks.iter().copied().max().unwrap_or(0);
    for i in 0..most {
        let mut asked = Vec::new();
        let mut who = Vec::new();
        let mut block_sum: Vec<Option<Vec<u8>>> = vec![None; problems.len()];
        for (k, &n) in blocks.iter().enumerate() {
            if i >= n || digits[k].is_none() {
                continue;
            }
            match sums[first_pair[k] + i].digits() {
                Some(d) if carry[k] => {
                    who.push(k);
                    asked.push(Problem { a: d.to_vec(), b: vec![1] });
                }
                Some(d) => block_sum[k] = Some(d.to_vec()),
                None => digits[k] = None,
            }
        }
        let carried = answer(network, &asked, 0, 0.0, 0)?;
        for (k, a) in who.into_iter().zip(carried) {
            match a.digits() {
                Some(d) => block_sum[k] = Some(d.to_vec()),
                None => digits[k] = None,
            }
        }
        for (k, sum) in block_sum.into_iter().enumerate() {
            let (Some(sum), Some(out)) = (sum, digits[k].as_mut()) else {
                continue;
            };
            if i + 1 < blocks[k] {
                // A lower block: exactly `block` digits, the rest carries.
                carry[k] = sum.len() > block;
                out.extend((0..block).map(|j| sum.get(j).copied().unwrap_or(0)));
            } else {
                out.extend_from_slice(&sum);
            }
        }
    }
    Ok(digits
        .into_iter()
        .map(|d| d.map_or_else(|| Answer::Malformed(Vec::new()), |d| Answer::Digits(trimmed(&d))))
        .collect())
}

/// What an arm decided about one attempt.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The answer the arm would keep: the greedy answer, or the majority answer.
    pub candidate: Answer,
    /// Whether it is kept for training.
    pub kept: bool,
    /// Why not, when rejected.
    pub reason: Option<String>,
    /// The grades, the `oracle` one last (a measurement, except in the `oracle` arm).
    pub grades: Vec<Grade>,
    /// Whether the candidate is the true sum (measured by the oracle).
    pub correct: bool,
    /// Share of the answers that agree with the candidate (consistency only).
    pub agreement: Option<f64>,
}

/// Why `answer` cannot be right for `problem`, judging by its form only (no truth used): a
/// length-n problem's sum has n or n + 1 digits and no leading zero.
pub fn implausible(problem: &Problem, answer: &Answer) -> Option<String> {
    let Some(d) = answer.digits() else {
        return Some(format!("not a number ({answer})"));
    };
    let n = problem.length();
    if d.len() < n || d.len() > n + 1 {
        return Some(format!(
            "{} digits for a length-{n} problem (a sum has {n} or {})",
            d.len(),
            n + 1
        ));
    }
    if d.len() > 1 && d[d.len() - 1] == 0 {
        return Some("leading zero".into());
    }
    None
}

/// The most common well-formed answer among `views` and the share of all views that give it
/// (ties go to the earliest view, so the greedy answer wins a tie).
pub fn majority(views: &[Answer]) -> (Option<Vec<u8>>, f64) {
    let mut counts: BTreeMap<&[u8], (usize, usize)> = BTreeMap::new();
    for (i, v) in views.iter().enumerate() {
        if let Some(d) = v.digits() {
            let e = counts.entry(d).or_insert((0, i));
            e.0 += 1;
        }
    }
    let best = counts
        .iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
        .map(|(d, (n, _))| (d.to_vec(), *n));
    match best {
        Some((d, n)) => (Some(d), n as f64 / views.len().max(1) as f64),
        None => (None, 0.0),
    }
}

fn grade(grader: &str, score: f64, explanation: String) -> Grade {
    Grade {
        grader: grader.into(),
        score: Some(score),
        explanation: Some(explanation),
        ..Grade::default()
    }
}

/// What `arm` keeps of `attempt`.
pub fn judge(arm: Arm, attempt: &Attempt, cfg: &GradeSection) -> Judged {
    let truth = attempt.problem.sum();
    let mut grades = Vec::new();
    let (candidate, kept, reason, agreement) = match arm {
        Arm::Unguarded => {
            let c = attempt.views[0].clone();
            let usable = c.as_written().is_some();
            let reason = (!usable).then(|| format!("nothing to learn from: {c}"));
            (c, usable, reason, None)
        }
        Arm::Oracle => {
            // The ceiling of choosing among its own answers: any of them the truth confirms.
            let c = attempt
                .views
                .iter()
                .find(|v| v.digits() == Some(&truth[..]))
                .unwrap_or(&attempt.views[0])
                .clone();
            let right = c.digits() == Some(&truth[..]);
            let reason = (!right).then(|| {
                format!(
                    "oracle: wrong, the true sum is {}",
                    crate::arithmetic::to_decimal(&truth)
                )
            });
            (c, right, reason, None)
        }
        Arm::SelfGraded => {
            let (best, agreement) = majority(&attempt.views);
            let c = best.map_or_else(|| attempt.views[0].clone(), Answer::Digits);
            let tally = tally(&attempt.views);
            grades.push(grade(
                "consistency",
                agreement,
                format!("{} answers: {tally}", attempt.views.len()),
            ));
            let mut reason = None;
            if agreement < cfg.agreement {
                reason = Some(format!(
                    "consistency {agreement:.2} below {:.2} ({tally})",
                    cfg.agreement
                ));
            }
            if let Some(parts) = &attempt.parts {
                let agrees = parts.digits().is_some() && parts.digits() == c.digits();
                grades.push(grade(
                    "decomposition",
                    if agrees { 1.0 } else { 0.0 },
                    format!("its answers to the blocks compose to {parts}"),
                ));
                if reason.is_none() && !agrees {
                    reason = Some(format!("decomposition: its answers to the blocks give {parts}"));
                }
            }
            if cfg.plausibility {
                let why = implausible(&attempt.problem, &c);
                grades.push(grade(
                    "plausibility",
                    if why.is_none() { 1.0 } else { 0.0 },
                    why.clone().unwrap_or_else(|| "digit count and form possible".into()),
                ));
                if reason.is_none() {
                    reason = why.map(|w| format!("implausible: {w}"));
                }
            }
            (c, reason.is_none(), reason, Some(agreement))
        }
    };
    let correct = candidate.digits() == Some(&truth[..]);
    let measured = if arm == Arm::Oracle {
        "decides this arm"
    } else {
        "measurement only, not used by this arm"
    };
    grades.push(grade(
        "oracle",
        if correct { 1.0 } else { 0.0 },
        format!(
            "true sum {} ({measured})",
            crate::arithmetic::to_decimal(&truth)
        ),
    ));
    Judged {
        candidate,
        kept,
        reason,
        grades,
        correct,
        agreement,
    }
}

/// `168×4, 158×1, malformed×0`-style tally of answers, most common first.
fn tally(views: &[Answer]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in views {
        *counts.entry(v.to_string()).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
        .iter()
        .map(|(a, n)| format!("{a}×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Answer {
        Answer::Digits(s.bytes().rev().map(|c| c - b'0').collect())
    }

    #[test]
    fn majority_counts_agreement_over_all_views() {
        let views = vec![digits("168"), digits("158"), digits("168"), Answer::Malformed(vec![1]), digits("168")];
        let (best, agreement) = majority(&views);
        assert_eq!(crate::arithmetic::to_decimal(&best.unwrap()), "168");
        assert!((agreement - 0.6).abs() < 1e-12);
        // A tie goes to the earliest (greedy) answer.
        let (best, _) = majority(&[digits("7"), digits("8")]);
        assert_eq!(best.unwrap(), vec![7]);
        assert_eq!(majority(&[Answer::Malformed(vec![])]), (None, 0.0));
    }

    #[test]
    fn trimmed_drops_zeros_above_the_top_digit() {
        assert_eq!(trimmed(&[0, 0]), vec![0]);
        assert_eq!(trimmed(&[]), vec![0]);
        assert_eq!(trimmed(&[3, 0, 1, 0]), vec![3, 0, 1]);
    }

    #[test]
    fn plausibility_checks_form_only() {
        let p = Problem::parse("123", "45").unwrap();
        assert!(implausible(&p, &digits("168")).is_none());
        assert!(implausible(&p, &digits("169")).is_none(), "wrong but plausible");
        assert!(implausible(&p, &digits("16")).unwrap().contains("2 digits"));
        assert!(implausible(&p, &digits("12345")).is_some());
        assert!(implausible(&p, &Answer::Digits(vec![8, 6, 1, 0])).unwrap().contains("leading zero"));
    }

    #[test]
    fn each_arm_keeps_what_it_should() {
        let p = Problem::parse("123", "45").unwrap();
        let cfg = GradeSection {
            agreement: 0.8,
            ..GradeSection::default()
        };
        let wrong_but_agreed = Attempt {
            problem: p.clone(),
            views: vec![digits("169"); 5],
            parts: None,
        };
        let self_graded = judge(Arm::SelfGraded, &wrong_but_agreed, &cfg);
        assert!(self_graded.kept && !self_graded.correct);
        let oracle = judge(Arm::Oracle, &wrong_but_agreed, &cfg);
        assert!(!oracle.kept && oracle.reason.unwrap().contains("oracle"));
        assert_eq!(oracle.grades.last().unwrap().grader, "oracle");
        // The oracle keeps any of its answers the truth confirms, not only the greedy one.
        let late_right = Attempt {
            problem: p.clone(),
            views: vec![digits("169"), digits("169"), digits("168")],
            parts: None,
        };
        let oracle = judge(Arm::Oracle, &late_right, &cfg);
        assert!(oracle.kept && oracle.correct && oracle.candidate == digits("168"));
        let split = Attempt {
            problem: p.clone(),
            views: vec![digits("168"), digits("169"), digits("168"), digits("178"), digits("168")],
            parts: None,
        };
        let j = judge(Arm::SelfGraded, &split, &cfg);
        assert!(!j.kept && j.correct, "0.6 agreement is below 0.8");
        assert!(j.reason.unwrap().contains("consistency 0.60"));
        // Agreed but contradicted by its own answers to the parts: rejected.
        let contradicted = Attempt {
            problem: p.clone(),
            views: vec![digits("169"); 5],
            parts: Some(digits("168")),
        };
        let j = judge(Arm::SelfGraded, &contradicted, &cfg);
        assert!(!j.kept && j.reason.unwrap().starts_with("decomposition"));
        assert_eq!(j.grades.iter().find(|g| g.grader == "decomposition").unwrap().score, Some(0.0));
        let unguarded = judge(Arm::Unguarded, &split, &cfg);
        assert!(unguarded.kept && unguarded.correct);
        let garbage = Attempt {
            problem: p,
            views: vec![Answer::Malformed(vec![10, 10])],
            parts: None,
        };
        assert!(!judge(Arm::Unguarded, &garbage, &cfg).kept);
    }
}
