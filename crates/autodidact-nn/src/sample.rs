//! Sampling: batched greedy and temperature decoding with a KV cache.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::init::splitmix;
use crate::model::KvCache;
use crate::{Error, Model, Result};

/// Most prompts decoded together; bounds the KV cache's memory
/// (`rows * n_layers * 2 * seq * d_model` floats).
pub const MAX_DECODE_BATCH: usize = 256;

impl Model {
    /// Continues each prompt by up to `max_new` tokens; returns the new tokens of each prompt,
    /// in the order of `prompts`. A continuation ends early right after `stop_token` (which is
    /// included, so the caller can tell a stop from running out of `max_new`).
    ///
    /// `temperature` 0 is greedy (the first most likely token); above 0, tokens are drawn from
    /// `softmax(logits / temperature)`. Prompt `i` draws from its own generator, seeded from
    /// `seed` and `i`, so a run is reproducible. Prompts of equal length are decoded together
    /// (at most [`MAX_DECODE_BATCH`] at a time), feeding one token per step with the keys and
    /// values of earlier positions cached.
    pub fn generate(
        &self,
        prompts: &[Vec<u32>],
        max_new: usize,
        stop_token: Option<u32>,
        temperature: f32,
        seed: u64,
    ) -> Result<Vec<Vec<u32>>> {
        self.generate_inner(prompts, None, max_new, stop_token, temperature, seed)
    }

    /// [`Model::generate`] with the position id of every prompt token given (`positions[i]` as
    /// long as `prompts[i]`); each new token takes the position after the one before it.
    pub fn generate_at(
        &self,
        prompts: &[Vec<u32>],
        positions: &[Vec<u32>],
        max_new: usize,
        stop_token: Option<u32>,
        temperature: f32,
        seed: u64,
    ) -> Result<Vec<Vec<u32>>> {
        if positions.len() != prompts.len() {
            return Err(Error::Argument {
                name: "positions",
                message: format!(
                    "{} position lists for {} prompts",
                    positions.len(),
                    prompts.len()
                ),
            });
        }
        let max_seq_len = self.config().max_seq_len;
        for (index, (prompt, pos)) in prompts.iter().zip(positions).enumerate() {
            let bad = |message: String| Err(Error::Prompt { index, message });
            if pos.len() != prompt.len() {
                return bad(format!(
                    "has {} tokens but {} position ids",
                    prompt.len(),
                    pos.len()
                ));
            }
            let last = pos.iter().copied().max().unwrap_or(0) as usize;
            let fed_last = pos.last().map_or(0, |p| *p as usize) + max_new.saturating_sub(1);
            if last.max(fed_last) >= max_seq_len {
                return bad(format!(
                    "position ids reach {} with {max_new} new tokens; the model has {max_seq_len} positions",
                    last.max(fed_last)
                ));
            }
        }
        self.generate_inner(prompts, Some(positions), max_new, stop_token, temperature, seed)
    }

    fn generate_inner(
        &self,
        prompts: &[Vec<u32>],
        positions: Option<&[Vec<u32>]>,
        max_new: usize,
        stop_token: Option<u32>,
        temperature: f32,
        seed: u64,
    ) -> Result<Vec<Vec<u32>>> {
        let cfg = self.config();
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err(Error::Argument {
                name: "temperature",
                message: format!("must be finite and >= 0, got {temperature}"),
            });
        }
        if let Some(stop) = stop_token.filter(|t| *t as usize >= cfg.vocab_size) {
            return Err(Error::Argument {
                name: "stop_token",
                message: format!("{stop} is outside the vocabulary of {}", cfg.vocab_size),
            });
        }
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (index, prompt) in prompts.iter().enumerate() {
            let bad = |message: String| Err(Error::Prompt { index, message });
            if prompt.is_empty() {
                return bad("is empty".into());
            }
            if let Some(t) = prompt.iter().find(|t| **t as usize >= cfg.vocab_size) {
                return bad(format!(
                    "token id {t} is outside the vocabulary of {}",
                    cfg.vocab_size
                ));
            }
            // The last new token is never fed back, hence the - 1.
            if prompt.len() + max_new.saturating_sub(1) > cfg.max_seq_len {
                return bad(format!(
                    "{} tokens + {max_new} new exceed the model's max_seq_len of {}",
                    prompt.len(),
                    cfg.max_seq_len
                ));
            }
            groups.entry(prompt.len()).or_default().push(index);
        }
        let mut outputs = vec![Vec::new(); prompts.len()];
        if max_new == 0 {
            return Ok(outputs);
        }
        for indices in groups.values() {
            for chunk in indices.chunks(MAX_DECODE_BATCH) {
                self.decode(
                    prompts,
                    positions,
                    chunk,
                    max_new,
                    stop_token,
                    temperature,
                    seed,
                    &mut outputs,
                )?;
            }
        }
        Ok(outputs)
    }

    /// Decodes the prompts at `indices` (all of one length) into `outputs`.
    #[allow(clippy::too_many_arguments)]
    fn decode(
        &self,
        prompts: &[Vec<u32>],
        positions: Option<&[Vec<u32>]>,
        indices: &[usize],
        max_new: usize,
        stop_token: Option<u32>,
        temperature: f32,
        seed: u64,
        outputs: &mut [Vec<u32>],
    ) -> Result<()> {
        let mut rngs: Vec<StdRng> = indices
            .iter()
            .map(|&i| StdRng::seed_from_u64(splitmix(seed ^ splitmix(i as u64))))
            .collect();
        // `active[r]` is the position in `indices` of the prompt in batch row `r`.
        let mut active: Vec<usize> = (0..indices.len()).collect();
        let rows: Vec<Vec<u32>> = indices.iter().map(|&i| prompts[i].clone()).collect();
        let mut input = Model::tokens_tensor(&rows)?;
        // With given positions: the ids of the current input, and of each row's last token.
        let mut last_pos: Vec<u32> = Vec::new();
        let mut input_pos = positions
            .map(|p| {
                last_pos = indices.iter().map(|&i| *p[i].last().unwrap_or(&0)).collect();
                let flat: Vec<u32> = indices.iter().flat_map(|&i| p[i].iter().copied()).collect();
                Tensor::from_vec(flat, rows.len() * rows[0].len(), &Device::Cpu)
            })
            .transpose()?;
        let mut cache = KvCache::new();
        for step in 0..max_new {
            let logits = self
                .forward_cached_at(&input, input_pos.as_ref(), &mut cache)?
                .to_vec2::<f32>()?;
            let mut keep = Vec::with_capacity(active.len());
            let mut next = Vec::with_capacity(active.len());
            for (row, &k) in active.iter().enumerate() {
                let token = pick(&logits[row], temperature, &mut rngs[k]);
                let out = &mut outputs[indices[k]];
                out.push(token);
                if stop_token != Some(token) {
                    keep.push(row as u32);
                    next.push(token);
                }
            }
            if step + 1 == max_new || keep.is_empty() {
                break;
            }
            if keep.len() < active.len() {
                let rows = Tensor::from_vec(keep.clone(), keep.len(), &Device::Cpu)?;
                cache.select_rows(&rows)?;
                active = keep.iter().map(|&r| active[r as usize]).collect();
            }
            input = Tensor::from_vec(next, (active.len(), 1), &Device::Cpu)?;
            if input_pos.is_some() {
                let next_pos: Vec<u32> = active.iter().map(|&k| last_pos[k] + 1).collect();
                for &k in &active {
                    last_pos[k] += 1;
                }
                input_pos = Some(Tensor::from_vec(next_pos, active.len(), &Device::Cpu)?);
            }
        }
        Ok(())
    }
}

/// Picks a token from one row of logits: argmax at temperature 0, else a draw.
fn pick(logits: &[f32], temperature: f32, rng: &mut StdRng) -> u32 {
    let argmax = logits
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0;
    if temperature == 0.0 {
        return argmax as u32;
    }
    let max = logits[argmax];
    let weights: Vec<f64> = logits
        .iter()
        .map(|&v| f64::from((v - max) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i as u32;
        }
        u -= w;
    }
    // Rounding can leave `u` just above the last weight; the most likely token is the
    // neutral choice then.
    argmax as u32
}
