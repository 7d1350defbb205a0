//! Evaluation: exact-match accuracy by length on held-out problems.

use std::collections::HashSet;

use autodidact_nn::Network;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::TinyError;
use crate::arithmetic::{Answer, Problem};
use crate::grade::answer;

/// Held-out problems: for each length n from 1, `per_length` problems whose operands both
/// have n digits, and never more than half of all such problems (length 1 has only 100, so
/// 50 are held out and the other 50 can be trained on). Never trained on.
#[derive(Debug, Clone)]
pub struct EvalSet {
    /// `(length, problems)`, lengths ascending.
    pub by_length: Vec<(usize, Vec<Problem>)>,
}

impl EvalSet {
    /// Draws the set for lengths `1..=max_length`.
    pub fn draw(max_length: usize, per_length: usize, rng: &mut impl Rng) -> EvalSet {
        let by_length = (1..=max_length)
            .map(|n| {
                let per_length = per_length.min(full_problems(n) / 2);
                let mut seen = HashSet::new();
                let mut problems = Vec::with_capacity(per_length);
                let mut tries = 0;
                while problems.len() < per_length && tries < 50 * per_length {
                    tries += 1;
                    let p = Problem::draw_full(n, rng);
                    if seen.insert(p.clone()) {
                        problems.push(p);
                    }
                }
                (n, problems)
            })
            .collect();
        EvalSet { by_length }
    }

    /// Every problem, to keep out of training data.
    pub fn problems(&self) -> HashSet<Problem> {
        self.by_length
            .iter()
            .flat_map(|(_, ps)| ps.iter().cloned())
            .collect()
    }
}

/// How many problems have two operands of exactly `n` digits (saturating).
fn full_problems(n: usize) -> usize {
    let numbers = if n == 1 {
        10
    } else {
        9usize.saturating_mul(10usize.saturating_pow(n as u32 - 1))
    };
    numbers.saturating_mul(numbers)
}

/// Accuracy at one length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LengthAccuracy {
    /// Digits of both operands.
    pub length: usize,
    /// Share of problems answered exactly right (greedy decoding).
    pub accuracy: f64,
    /// Problems evaluated.
    pub problems: usize,
}

/// Greedy exact-match accuracy of `network` at every length of `set`.
pub fn accuracy(network: &Network, set: &EvalSet) -> Result<Vec<LengthAccuracy>, TinyError> {
    let all: Vec<Problem> = set
        .by_length
        .iter()
        .flat_map(|(_, ps)| ps.iter().cloned())
        .collect();
    let answers = answer(network, &all, 0, 0.0, 0)?;
    let mut out = Vec::with_capacity(set.by_length.len());
    let mut at = 0;
    for (length, problems) in &set.by_length {
        let right = problems
            .iter()
            .zip(&answers[at..at + problems.len()])
            .filter(|(p, a)| matches!(a, Answer::Digits(d) if *d == p.sum()))
            .count();
        at += problems.len();
        out.push(LengthAccuracy {
            length: *length,
            accuracy: right as f64 / problems.len().max(1) as f64,
            problems: problems.len(),
        });
    }
    Ok(out)
}
