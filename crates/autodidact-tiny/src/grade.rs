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
    /// The sum as the model's own answers to the problem's parts compose it (see
    /// [`decompose`]); only when asked for.
    pub parts: Option<Answer>,
}

/// Asks `network` each problem `views` times (1: the greedy answer only), and with `parts`
/// its parts too ([`decompose`]); see [`Attempt`].
pub fn attempt(
    network: &Network,
    problems: &[Problem],
    views: usize,
    parts: bool,
    temperature: f32,
    seed: u64,
) -> Result<Vec<Attempt>, TinyError> {
    let mut composed = if parts {
        decompose(network, problems)?.into_iter().map(Some).collect()
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

/// The sum of each problem as the model's own answers to **shorter** problems compose it, the
/// way a person checks a long sum: for a problem of length n, the model adds the lower n − 1
/// digits of both operands (a problem of the length it learned last), then the top digits,
/// then the carry of the lower sum into the top sum (each a problem it has mastered). The
/// truth is never consulted: a part the model gets wrong spoils the composed sum, and a
/// malformed part gives a malformed one. Length-1 problems have no parts: their own greedy
/// answer is returned.
pub fn decompose(network: &Network, problems: &[Problem]) -> Result<Vec<Answer>, TinyError> {
    let split = |p: &Problem| p.length().saturating_sub(1).max(1);
    let low_part = |d: &[u8], k: usize| trimmed(&d[..k.min(d.len())]);
    let high_part = |d: &[u8], k: usize| trimmed(d.get(k..).unwrap_or(&[]));
    let lows: Vec<Problem> = problems
        .iter()
        .map(|p| {
            let k = split(p);
            Problem { a: low_part(&p.a, k), b: low_part(&p.b, k) }
        })
        .collect();
    let highs: Vec<Problem> = problems
        .iter()
        .map(|p| {
            let k = split(p);
            Problem { a: high_part(&p.a, k), b: high_part(&p.b, k) }
        })
        .collect();
    let low_sums = answer(network, &lows, 0, 0.0, 0)?;
    let high_sums = answer(network, &highs, 0, 0.0, 0)?;
    // The carry: the lower sum has more digits than the lower part.
    let mut carried = Vec::new();
    let mut carry_of = vec![None; problems.len()];
    for (i, p) in problems.iter().enumerate() {
        if p.length() < 2 {
            continue;
        }
        if let (Some(low), Some(high)) = (low_sums[i].digits(), high_sums[i].digits()) {
            if low.len() > split(p) {
                carry_of[i] = Some(carried.len());
                carried.push(Problem { a: high.to_vec(), b: vec![1] });
            }
        }
    }
    let carried_sums = answer(network, &carried, 0, 0.0, 0)?;
    Ok(problems
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if p.length() < 2 {
                return low_sums[i].clone();
            }
            let k = split(p);
            let (Some(low), Some(high)) = (low_sums[i].digits(), high_sums[i].digits()) else {
                return Answer::Malformed(Vec::new());
            };
            let high = match carry_of[i] {
                Some(j) => match carried_sums[j].digits() {
                    Some(h) => h,
                    None => return Answer::Malformed(Vec::new()),
                },
                None => high,
            };
            // The lower k digits (zeros above a short lower sum), then the top.
            let mut digits: Vec<u8> = (0..k).map(|j| low.get(j).copied().unwrap_or(0)).collect();
            digits.extend_from_slice(high);
            Answer::Digits(trimmed(&digits))
        })
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
            let c = attempt.views[0].clone();
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
                    format!("its answers to the parts compose to {parts}"),
                ));
                if reason.is_none() && !agrees {
                    reason = Some(format!("decomposition: its answers to the parts give {parts}"));
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
    fn parts_split_below_the_top_digit() {
        // The parts of 987+45 are 87+45 (= 132: a carry), 9+0, then 9+1.
        let p = Problem::parse("987", "45").unwrap();
        let k = p.length() - 1;
        assert_eq!(trimmed(&p.a[..k]), vec![7, 8]);
        assert_eq!(trimmed(p.b.get(k..).unwrap_or(&[])), vec![0]);
        assert_eq!(trimmed(&[0, 0]), vec![0]);
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
