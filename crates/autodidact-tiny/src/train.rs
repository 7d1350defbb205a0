//! The training mix and the trainer loop: [`Mix`] and [`fit`].

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use autodidact_nn::{Network, Schedule, TrainConfig, Trainer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::TinyError;
use crate::arithmetic::Problem;

/// One training example: a problem and the answer taught for it (digits, least significant
/// first) — the truth for real data, the kept answer for synthetic data, right or wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The problem.
    pub problem: Problem,
    /// The answer taught.
    pub answer: Vec<u8>,
}

/// Training data grouped by problem length. Each sequence of a batch draws a length
/// uniformly among those present, then an example of that length, so a new length gets a
/// fair share of every batch however few of its examples were kept.
#[derive(Debug, Clone, Default)]
pub struct Mix {
    by_length: BTreeMap<usize, Vec<Example>>,
}

impl Mix {
    /// An empty mix.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an example.
    pub fn push(&mut self, example: Example) {
        self.by_length
            .entry(example.problem.length())
            .or_default()
            .push(example);
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.by_length.values().map(Vec::len).sum()
    }

    /// Whether the mix is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lengths present.
    pub fn lengths(&self) -> Vec<usize> {
        self.by_length.keys().copied().collect()
    }

    /// Every example, by length then in the order added.
    pub fn examples(&self) -> impl Iterator<Item = &Example> {
        self.by_length.values().flatten()
    }

    fn draw<'a>(&'a self, groups: &[&'a Vec<Example>], rng: &mut StdRng) -> &'a Example {
        let group = groups[rng.random_range(0..groups.len())];
        &group[rng.random_range(0..group.len())]
    }
}

/// How one [`fit`] went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitStats {
    /// Steps taken.
    pub steps: usize,
    /// Mean loss of the first tenth of the steps.
    pub first_loss: f64,
    /// Mean loss of the last tenth of the steps.
    pub last_loss: f64,
    /// Wall time, seconds.
    pub seconds: f64,
}

impl FitStats {
    /// The stats of a fit that took `losses` (one per step) and started at `start`.
    pub fn of(losses: &[f64], start: std::time::Instant) -> FitStats {
        let tenth = (losses.len() / 10).max(1);
        let mean = |xs: &[f64]| {
            if xs.is_empty() {
                0.0
            } else {
                xs.iter().sum::<f64>() / xs.len() as f64
            }
        };
        FitStats {
            steps: losses.len(),
            first_loss: mean(&losses[..tenth.min(losses.len())]),
            last_loss: mean(&losses[losses.len().saturating_sub(tenth)..]),
            seconds: start.elapsed().as_secs_f64(),
        }
    }
}

/// Trains `network` for `steps` steps on batches of `batch_size` drawn from `mix`, with
/// position offsets drawn from `0..=max_offset`, the learning rate warming up for `warmup`
/// steps to `peak_lr` and decaying to `min_lr` (cosine), each step's batch in `shards` shards
/// trained side by side (data parallel: 1 for none; see [`Trainer::train_step_sharded`]). `on_step` sees every step and the
/// network after it (for progress, or to measure a learning curve) and may stop early with [`ControlFlow::Break`], which ends in
/// [`TinyError::Interrupted`].
#[allow(clippy::too_many_arguments)]
pub fn fit(
    network: Network,
    mix: &Mix,
    steps: usize,
    batch_size: usize,
    max_offset: u32,
    schedule: (f64, f64, usize),
    seed: u64,
    shards: usize,
    on_step: &mut dyn FnMut(usize, &Network) -> ControlFlow<()>,
) -> Result<(Network, FitStats), TinyError> {
    let groups: Vec<&Vec<Example>> = mix.by_length.values().filter(|g| !g.is_empty()).collect();
    if groups.is_empty() {
        return Err(autodidact_nn::Error::Argument {
            name: "mix",
            message: "no training examples".into(),
        }
        .into());
    }
    train_steps(network, steps, schedule, seed, shards, &mut |rng| {
        let mut seqs = Vec::with_capacity(batch_size);
        let mut masks = Vec::with_capacity(batch_size);
        let mut positions = Vec::with_capacity(batch_size);
        for _ in 0..batch_size {
            let ex = mix.draw(&groups, rng);
            let offset = rng.random_range(0..=max_offset);
            let (s, m, p) = ex.problem.sequence(&ex.answer, offset);
            seqs.push(s);
            masks.push(m);
            positions.push(p);
        }
        StepBatch { seqs, masks, positions: Some(positions) }
    }, on_step)
}

/// The sequences of one training step, their loss masks, and their position ids when the task
/// gives them.
pub(crate) struct StepBatch {
    pub(crate) seqs: Vec<Vec<u32>>,
    pub(crate) masks: Vec<Vec<bool>>,
    pub(crate) positions: Option<Vec<Vec<u32>>>,
}

/// The trainer loop both embedded loops share: `steps` AdamW steps on the batches `draw`
/// makes (from a generator seeded by `seed`), the learning rate warming up for `warmup` steps
/// to `peak_lr` then decaying to `min_lr` (cosine), each batch in `shards` shards. `on_step`
/// sees every step and the network after it and may stop early ([`TinyError::Interrupted`]).
pub(crate) fn train_steps(
    network: Network,
    steps: usize,
    (peak_lr, min_lr, warmup): (f64, f64, usize),
    seed: u64,
    shards: usize,
    draw: &mut dyn FnMut(&mut StdRng) -> StepBatch,
    on_step: &mut dyn FnMut(usize, &Network) -> ControlFlow<()>,
) -> Result<(Network, FitStats), TinyError> {
    let start = std::time::Instant::now();
    let schedule = Schedule {
        peak_lr,
        min_lr,
        warmup_steps: warmup.min(steps),
        total_steps: steps,
    };
    let cfg = TrainConfig {
        lr: peak_lr,
        min_lr,
        seed,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(network, cfg)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        let b = draw(&mut rng);
        let batch = autodidact_nn::shards(&b.seqs, &b.masks, b.positions.as_deref(), shards)?;
        let stats = trainer.train_step_sharded(&batch, schedule.lr(step))?;
        losses.push(f64::from(stats.loss));
        if on_step(step, trainer.network()).is_break() {
            return Err(TinyError::Interrupted);
        }
    }
    Ok((trainer.into_network(), FitStats::of(&losses, start)))
}
