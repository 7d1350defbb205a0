//! What a run measured: per generation and arm ([`ArmGeneration`]), and the whole run
//! ([`Summary`], written as `summary.json`). Every figure is computed in the run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::eval::LengthAccuracy;
use crate::train::FitStats;

/// Accuracy that counts as "learned" for a length.
pub const LEARNED: f64 = 0.9;

/// Precision the self-grading filter aims at (share of kept answers that are right).
pub const PRECISION_TARGET: f64 = 0.99;

/// Generation 0: the model trained from scratch on real, labelled problems.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseGeneration {
    /// Real problems trained on (operands of 1..=`start_length` digits).
    pub real_problems: usize,
    /// Training.
    pub train: FitStats,
    /// Held-out accuracy by length.
    pub accuracy: Vec<LengthAccuracy>,
    /// Parameters of the model.
    pub parameters: usize,
}

/// One generation of one arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmGeneration {
    /// The generation, from 1.
    pub generation: usize,
    /// The arm.
    pub arm: String,
    /// Length of the problems attempted.
    pub length: usize,
    /// Problems attempted.
    pub attempted: usize,
    /// Share of attempted problems whose greedy answer was right (oracle-measured).
    pub greedy_accuracy: f64,
    /// Answers kept for training.
    pub kept: usize,
    /// Kept answers that are wrong (oracle-measured).
    pub kept_wrong: usize,
    /// `kept_wrong / kept`: how much hallucinated data the next model learns; `None` when
    /// nothing was kept.
    pub kept_error_rate: Option<f64>,
    /// Of the kept answers, the share that are right (`1 - kept_error_rate`).
    pub precision: Option<f64>,
    /// Of the candidate answers that are right, the share kept.
    pub recall: Option<f64>,
    /// Mean share of agreeing answers (consistency only).
    pub mean_agreement: Option<f64>,
    /// Rejections by reason (first words of the reason).
    pub rejected: BTreeMap<String, usize>,
    /// Examples in the training mix (real + kept so far).
    pub mix_size: usize,
    /// Fine-tuning.
    pub train: FitStats,
    /// Held-out accuracy by length of the model this generation trained.
    pub accuracy: Vec<LengthAccuracy>,
    /// The curriculum's check of the model this generation trained: the share of fresh
    /// problems of `length` that the arm's own grader keeps (`None` when no check ran: the
    /// last generation, or `advance_at = 0`).
    pub check: Option<f64>,
    /// Whether the next generation attempts `length + 1` (else `length` again).
    pub advanced: bool,
    /// Wall time of the whole generation, seconds.
    pub seconds: f64,
}

/// One arm over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmSummary {
    /// The arm.
    pub arm: String,
    /// Its generations, in order.
    pub generations: Vec<ArmGeneration>,
    /// Lengths beyond `start_length` where the arm's last model reaches [`LEARNED`].
    pub lengths_learned_beyond_start: Vec<usize>,
    /// Lowest precision of what it kept, over generations.
    pub min_precision: Option<f64>,
}

/// The claims of the run, checked against its own figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// Lengths beyond L0 the `self-graded` arm learned (≥ 90%).
    pub self_graded_lengths_at_90: usize,
    /// Lengths beyond L0 the `unguarded` arm learned.
    pub unguarded_lengths_at_90: usize,
    /// Lengths beyond L0 the `oracle` arm learned (the ceiling).
    pub oracle_lengths_at_90: usize,
    /// `self-graded` learned at least 3 lengths beyond L0 and `unguarded` did not.
    pub self_graded_beats_unguarded: bool,
    /// Lowest precision of the self-grading filter over generations.
    pub self_graded_min_precision: Option<f64>,
    /// That precision is at least [`PRECISION_TARGET`] in every generation.
    pub precision_target_met: bool,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `"arithmetic"`.
    pub task: String,
    /// The seed.
    pub seed: u64,
    /// L0.
    pub start_length: usize,
    /// Generations after generation 0.
    pub generations: usize,
    /// Generation 0.
    pub base: BaseGeneration,
    /// The arms, in config order.
    pub arms: Vec<ArmSummary>,
    /// The claims, checked.
    pub findings: Findings,
    /// Wall time of this invocation, seconds (a resumed run counts only its own part).
    pub seconds: f64,
}

impl ArmSummary {
    /// Summarises an arm's generations.
    pub fn new(arm: &str, generations: Vec<ArmGeneration>, start_length: usize) -> Self {
        let lengths_learned_beyond_start = generations
            .last()
            .map(|g| {
                g.accuracy
                    .iter()
                    .filter(|a| a.length > start_length && a.accuracy >= LEARNED)
                    .map(|a| a.length)
                    .collect()
            })
            .unwrap_or_default();
        let min_precision = generations
            .iter()
            .filter_map(|g| g.precision)
            .min_by(f64::total_cmp);
        Self {
            arm: arm.into(),
            generations,
            lengths_learned_beyond_start,
            min_precision,
        }
    }
}

impl Findings {
    /// Checks the claims on the arms' figures.
    pub fn new(arms: &[ArmSummary]) -> Self {
        let learned = |name: &str| {
            arms.iter()
                .find(|a| a.arm == name)
                .map_or(0, |a| a.lengths_learned_beyond_start.len())
        };
        let self_graded = arms.iter().find(|a| a.arm == "self-graded");
        let min_precision = self_graded.and_then(|a| a.min_precision);
        let self_graded_lengths_at_90 = learned("self-graded");
        let unguarded_lengths_at_90 = learned("unguarded");
        Self {
            self_graded_lengths_at_90,
            unguarded_lengths_at_90,
            oracle_lengths_at_90: learned("oracle"),
            self_graded_beats_unguarded: self_graded_lengths_at_90 >= 3
                && unguarded_lengths_at_90 < 3,
            self_graded_min_precision: min_precision,
            precision_target_met: self_graded.is_some_and(|a| {
                !a.generations.is_empty()
                    && a.generations
                        .iter()
                        .all(|g| g.precision.is_some_and(|p| p >= PRECISION_TARGET))
            }),
        }
    }
}
