//! Training: [`Schedule`] (linear warm-up, cosine decay), [`clip_grad_norm`], [`AdamW`] and the
//! [`Trainer`] that runs them over [`TrainData`].

use std::ops::ControlFlow;

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::{Batch, Error, Network, Result, TrainData};

/// Hyper-parameters of training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Peak learning rate, reached at the end of warm-up.
    pub lr: f64,
    /// Learning rate at the end of the cosine decay.
    pub min_lr: f64,
    /// Steps of linear warm-up at the start of each [`Trainer::fit`].
    pub warmup_steps: usize,
    /// Decoupled weight decay, applied to matrices other than embeddings.
    pub weight_decay: f64,
    /// AdamW's first-moment decay.
    pub beta1: f64,
    /// AdamW's second-moment decay.
    pub beta2: f64,
    /// AdamW's denominator epsilon.
    pub eps: f64,
    /// Gradients are scaled down to this global L2 norm when above it; 0 disables clipping.
    pub grad_clip: f64,
    /// Seed of the order in which [`Trainer::fit`] draws sequences.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            min_lr: 1e-4,
            warmup_steps: 100,
            weight_decay: 0.1,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            grad_clip: 1.0,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Checks every value; the error names the offending key.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, message: String| Err(Error::Argument { name, message });
        for (name, v) in [
            ("lr", self.lr),
            ("min_lr", self.min_lr),
            ("weight_decay", self.weight_decay),
            ("grad_clip", self.grad_clip),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(name, format!("must be finite and >= 0, got {v}"));
            }
        }
        for (name, v) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return bad(name, format!("must be in [0, 1), got {v}"));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad("eps", format!("must be finite and > 0, got {}", self.eps));
        }
        Ok(())
    }
}

/// Learning rate by step: linear warm-up from `peak_lr / warmup_steps` to `peak_lr` over the
/// first `warmup_steps` steps, then cosine decay to `min_lr` at `total_steps - 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Learning rate at the end of warm-up.
    pub peak_lr: f64,
    /// Learning rate at the last step.
    pub min_lr: f64,
    /// Steps of warm-up.
    pub warmup_steps: usize,
    /// Steps in all.
    pub total_steps: usize,
}

impl Schedule {
    /// The learning rate of step `step` (0-based); after `total_steps` it stays at `min_lr`.
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.peak_lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decay_steps = self.total_steps.saturating_sub(self.warmup_steps + 1);
        if decay_steps == 0 {
            return self.peak_lr;
        }
        let progress = ((step - self.warmup_steps) as f64 / decay_steps as f64).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.min_lr + (self.peak_lr - self.min_lr) * cosine
    }
}

/// Scales the gradients of `vars` in `grads` so that their global L2 norm is at most
/// `max_norm`; returns the norm before clipping. Variables without a gradient are skipped.
pub fn clip_grad_norm(vars: &[Var], grads: &mut GradStore, max_norm: f64) -> Result<f64> {
    let mut sum_sq = 0f64;
    for var in vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            sum_sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
        }
    }
    let norm = sum_sq.sqrt();
    if norm > max_norm && norm.is_finite() {
        let scale = max_norm / norm;
        for var in vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                let scaled = g.affine(scale, 0.0)?;
                grads.insert(var.as_tensor(), scaled);
            }
        }
    }
    Ok(norm)
}

struct AdamParam {
    var: Var,
    decay: bool,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// AdamW (decoupled weight decay, as PyTorch's), with weight decay only on the parameters
/// marked for it. The update runs in plain loops over each parameter's values: one pass
/// instead of a dozen tensor ops per parameter.
pub struct AdamW {
    params: Vec<AdamParam>,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    t: u64,
}

impl AdamW {
    /// An optimizer over `params` (variable, whether weight decay applies to it).
    pub fn new(params: Vec<(Var, bool)>, cfg: &TrainConfig) -> Result<Self> {
        cfg.validate()?;
        let params = params
            .into_iter()
            .map(|(var, decay)| {
                let n = var.elem_count();
                AdamParam {
                    var,
                    decay,
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                }
            })
            .collect();
        Ok(Self {
            params,
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps,
            weight_decay: cfg.weight_decay,
            t: 0,
        })
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// The variables, in the order given.
    pub fn vars(&self) -> Vec<Var> {
        self.params.iter().map(|p| p.var.clone()).collect()
    }

    /// One update with learning rate `lr`. Parameters without a gradient are left alone (as in
    /// PyTorch, where their `grad` is `None`).
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.t += 1;
        let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
        let bc1 = 1.0 - self.beta1.powi(self.t as i32);
        let bc2 = 1.0 - self.beta2.powi(self.t as i32);
        let step_size = (lr / bc1) as f32;
        let inv_sqrt_bc2 = (1.0 / bc2.sqrt()) as f32;
        let eps = self.eps as f32;
        for p in &mut self.params {
            let Some(grad) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            let g = grad.flatten_all()?.to_vec1::<f32>()?;
            let mut theta = p.var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            let keep = if p.decay {
                (1.0 - lr * self.weight_decay) as f32
            } else {
                1.0
            };
            for i in 0..theta.len() {
                let g = g[i];
                let m = b1 * p.m[i] + (1.0 - b1) * g;
                let v = b2 * p.v[i] + (1.0 - b2) * g * g;
                p.m[i] = m;
                p.v[i] = v;
                theta[i] = theta[i] * keep - step_size * m / (v.sqrt() * inv_sqrt_bc2 + eps);
            }
            p.var
                .set(&Tensor::from_vec(theta, p.var.shape(), &Device::Cpu)?)?;
        }
        Ok(())
    }
}

/// What one training step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Steps taken by the trainer before this one (0-based step number).
    pub step: usize,
    /// Mean loss per target position of the batch, before the update.
    pub loss: f32,
    /// Global gradient norm before clipping.
    pub grad_norm: f32,
    /// Learning rate used.
    pub lr: f64,
    /// Positions that carried loss.
    pub n_targets: usize,
}

/// What a [`Trainer::fit`] call did.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSummary {
    /// Steps run (fewer than asked when the callback broke off).
    pub steps: usize,
    /// Loss of every step, in order.
    pub losses: Vec<f32>,
}

/// Trains a [`Network`] with [`AdamW`], the [`Schedule`] and gradient clipping.
///
/// Weight decay applies to the attention and MLP matrices and the output head, not to the
/// embeddings nor the LayerNorm gains (the usual GPT practice).
pub struct Trainer {
    network: Network,
    optimizer: AdamW,
    cfg: TrainConfig,
    rng: StdRng,
    step: usize,
}

impl Trainer {
    /// A trainer for `network`. Also calls [`crate::keep_freed_memory`] (training speed).
    pub fn new(network: Network, cfg: TrainConfig) -> Result<Self> {
        cfg.validate()?;
        crate::keep_freed_memory();
        let params = network
            .named_vars()
            .into_iter()
            .map(|(name, var)| {
                let decay =
                    var.rank() == 2 && !name.starts_with("tok_emb") && !name.starts_with("pos_emb");
                (var, decay)
            })
            .collect();
        let optimizer = AdamW::new(params, &cfg)?;
        let rng = StdRng::seed_from_u64(crate::init::splitmix(cfg.seed));
        Ok(Self {
            network,
            optimizer,
            cfg,
            rng,
            step: 0,
        })
    }

    /// The network being trained.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Ends training, giving the network back.
    pub fn into_network(self) -> Network {
        self.network
    }

    /// The training config.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.step
    }

    /// One optimizer step on `batch` at learning rate `lr`: loss, backward, clipping, update.
    pub fn train_step(&mut self, batch: &Batch, lr: f64) -> Result<StepStats> {
        self.train_step_sharded(std::slice::from_ref(batch), lr)
    }

    /// One optimizer step on a batch given as `shards` (data parallel): each shard's loss and
    /// backward run on a thread of their own (one matmul thread each), the gradients are summed,
    /// each weighted by its shard's share of the positions carrying loss, then clipped and
    /// applied once. The update is that of [`Trainer::train_step`] on the shards' sequences
    /// together, up to float rounding. At this crate's model sizes, splitting the batch over
    /// the cores is faster than splitting each matmul (measured in BENCHMARKS.md).
    pub fn train_step_sharded(&mut self, shards: &[Batch], lr: f64) -> Result<StepStats> {
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(Error::Argument {
                name: "lr",
                message: format!("must be finite and >= 0, got {lr}"),
            });
        }
        if shards.is_empty() {
            return Err(Error::Argument {
                name: "shards",
                message: "no batch to train on".into(),
            });
        }
        let total: usize = shards.iter().map(Batch::n_targets).sum();
        let network = &self.network;
        let shard_grads = |batch: &Batch| -> Result<(GradStore, f32)> {
            let loss = network.loss(batch)?;
            let loss = if shards.len() == 1 {
                loss
            } else {
                (loss * (batch.n_targets() as f64 / total as f64))?
            };
            let grads = loss.backward()?;
            Ok((grads, loss.to_scalar::<f32>()?))
        };
        let mut results: Vec<Result<(GradStore, f32)>> = if shards.len() == 1 {
            vec![shard_grads(&shards[0])]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = shards
                    .iter()
                    .map(|batch| {
                        let shard_grads = &shard_grads;
                        scope.spawn(move || match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
                            Ok(pool) => pool.install(|| shard_grads(batch)),
                            Err(_) => shard_grads(batch),
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a shard's thread panicked"))
                    .collect()
            })
        };
        let (mut grads, mut loss) = results.remove(0)?;
        let vars = self.optimizer.vars();
        for result in results {
            let (more, more_loss) = result?;
            loss += more_loss;
            for var in &vars {
                if let Some(g) = more.get(var.as_tensor()) {
                    let sum = match grads.get(var.as_tensor()) {
                        Some(mine) => (mine + g)?,
                        None => g.clone(),
                    };
                    grads.insert(var.as_tensor(), sum);
                }
            }
        }
        let grad_norm = if self.cfg.grad_clip > 0.0 {
            clip_grad_norm(&vars, &mut grads, self.cfg.grad_clip)?
        } else {
            clip_grad_norm(&vars, &mut grads, f64::INFINITY)?
        };
        self.optimizer.step(&grads, lr)?;
        let stats = StepStats {
            step: self.step,
            loss,
            grad_norm: grad_norm as f32,
            lr,
            n_targets: total,
        };
        self.step += 1;
        Ok(stats)
    }

    /// Runs `steps` steps on batches of `batch_size` sequences drawn from `data` (shuffled by
    /// the config's seed, every sequence once per epoch), with the learning rate following a
    /// fresh [`Schedule`] over these `steps`. `callback` sees every step and may stop early by
    /// returning [`ControlFlow::Break`].
    pub fn fit(
        &mut self,
        data: &TrainData,
        steps: usize,
        batch_size: usize,
        mut callback: impl FnMut(&StepStats) -> ControlFlow<()>,
    ) -> Result<FitSummary> {
        if data.is_empty() {
            return Err(Error::Argument {
                name: "data",
                message: "no training sequences".into(),
            });
        }
        if batch_size == 0 {
            return Err(Error::Argument {
                name: "batch_size",
                message: "must be at least 1".into(),
            });
        }
        self.check_tokens(data)?;
        let schedule = Schedule {
            peak_lr: self.cfg.lr,
            min_lr: self.cfg.min_lr,
            warmup_steps: self.cfg.warmup_steps.min(steps),
            total_steps: steps,
        };
        let mut order: Vec<usize> = Vec::new();
        let mut losses = Vec::with_capacity(steps);
        for step in 0..steps {
            let mut picked = Vec::with_capacity(batch_size);
            while picked.len() < batch_size.min(data.len()) {
                if order.is_empty() {
                    order = (0..data.len()).collect();
                    order.shuffle(&mut self.rng);
                }
                picked.push(order.pop().expect("refilled above"));
            }
            let batch = data.batch(&picked)?;
            let stats = self.train_step(&batch, schedule.lr(step))?;
            losses.push(stats.loss);
            if callback(&stats).is_break() {
                break;
            }
        }
        Ok(FitSummary {
            steps: losses.len(),
            losses,
        })
    }

    fn check_tokens(&self, data: &TrainData) -> Result<()> {
        let vocab = self.network.config().vocab_size;
        let max_len = self.network.config().max_seq_len + 1;
        for (index, seq) in data.sequences().iter().enumerate() {
            if let Some(t) = seq.iter().find(|t| **t as usize >= vocab) {
                return Err(Error::Sequence {
                    index,
                    message: format!("token id {t} is outside the vocabulary of {vocab}"),
                });
            }
            if seq.len() > max_len {
                return Err(Error::Sequence {
                    index,
                    message: format!(
                        "has {} tokens; the model reads at most max_seq_len + 1 = {max_len}",
                        seq.len()
                    ),
                });
            }
        }
        Ok(())
    }
}
