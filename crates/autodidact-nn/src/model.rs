//! The decoder-only transformer: `tokens (batch, seq) u32 -> logits (batch, seq, vocab) f32`.
//!
//! Pre-norm blocks of causal self-attention and a ReLU MLP, learned token and position
//! embeddings, bias-free linears, LayerNorm without bias. Choices made for speed on the CPU
//! (see issue 3's prototyping notes):
//!
//! - Linears run on the flattened `(batch * seq, d_model)` stream, so each weight's gradient is
//!   one matmul instead of a per-batch matmul followed by a sum over the batch.
//! - Position embeddings are looked up by index like tokens (`(batch * seq,)` ids), not
//!   broadcast over the batch, whose backward would be a slow sum over leading dimensions.
//! - Each LayerNorm's gain is folded into the weight of the linear that reads it:
//!   `(norm(x) * g) @ W^T == norm(x) @ (W * g)^T`. The gain's gradient is then a sum over the
//!   rows of a `(out, in)` weight, not over every token. LayerNorm has no bias, so no bias to
//!   fold.
//! - Normalisation, the causal softmax and the loss are fused kernels with hand-written
//!   gradients ([`crate::ops`]).
//!
//! Parameter names (as in the checkpoint): `tok_emb.weight (vocab, d)`, `pos_emb.weight
//! (max_seq_len, d)`, `blocks.{i}.ln1.weight (d)`, `blocks.{i}.attn.{q,k,v,out}.weight (d, d)`,
//! `blocks.{i}.ln2.weight (d)`, `blocks.{i}.mlp.up.weight (d_ff, d)`,
//! `blocks.{i}.mlp.down.weight (d, d_ff)`, `ln_f.weight (d)`, `head.weight (vocab, d)`.

use candle_core::{DType, Device, Module, Result, Tensor, bail};
use candle_nn::{Init, VarBuilder};

use crate::Config;
use crate::ops;

/// Standard deviation of the initial embeddings and linear weights (GPT-2's).
const INIT_STD: f64 = 0.02;

/// A linear layer without bias; `weight` is `(out, in)`.
#[derive(Debug, Clone)]
struct Linear {
    weight: Tensor,
}

impl Linear {
    fn new(d_in: usize, d_out: usize, std: f64, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints(
            (d_out, d_in),
            "weight",
            Init::Randn {
                mean: 0.0,
                stdev: std,
            },
        )?;
        Ok(Self { weight })
    }

    /// `(n, in) -> (n, out)`.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        xs.matmul(&self.weight.t()?)
    }

    /// `(n, in) -> (n, out)` with the preceding LayerNorm's gain `(in,)` folded into the weight.
    fn forward_scaled(&self, xs: &Tensor, gain: &Tensor) -> Result<Tensor> {
        xs.matmul(&self.weight.broadcast_mul(gain)?.t()?)
    }
}

/// The gain of a LayerNorm; the normalisation itself is [`ops::layer_norm`].
fn norm_gain(d: usize, vb: VarBuilder) -> Result<Tensor> {
    vb.get_with_hints(d, "weight", Init::Const(1.0))
}

/// Keys and values of the positions seen so far, per layer, for decoding one token at a time.
///
/// Each layer keeps `(batch, heads, capacity, head_dim)` buffers and writes new positions in
/// place; attention reads a view of the filled part. (Appending with `Tensor::cat` would copy
/// the whole cache at every token.) Capacity doubles when full, up to `max_seq_len`.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<LayerCache>>,
    len: usize,
}

#[derive(Debug, Clone)]
struct LayerCache {
    k: Tensor,
    v: Tensor,
}

impl LayerCache {
    /// Writes `k`, `v` `(b, h, t, hd)` at positions `offset..offset + t`, growing the buffers
    /// if needed (never past `max_len`), and returns views of positions `0..offset + t`.
    fn append(
        slot: &mut Option<LayerCache>,
        k: &Tensor,
        v: &Tensor,
        offset: usize,
        max_len: usize,
    ) -> Result<(Tensor, Tensor)> {
        let (b, h, t, hd) = k.dims4()?;
        let needed = offset + t;
        let capacity = slot.as_ref().map_or(0, |c| c.k.dim(2).unwrap_or(0));
        if needed > capacity {
            let new_capacity = needed.max(2 * capacity).max(16).min(max_len).max(needed);
            let grown = |old: Option<&Tensor>| -> Result<Tensor> {
                let buf = Tensor::zeros((b, h, new_capacity, hd), k.dtype(), k.device())?;
                if let Some(old) = old.filter(|_| offset > 0) {
                    buf.slice_set(&old.narrow(2, 0, offset)?.contiguous()?, 2, 0)?;
                }
                Ok(buf)
            };
            *slot = Some(LayerCache {
                k: grown(slot.as_ref().map(|c| &c.k))?,
                v: grown(slot.as_ref().map(|c| &c.v))?,
            });
        }
        let cache = slot.as_ref().expect("allocated above");
        cache.k.slice_set(&k.contiguous()?, 2, offset)?;
        cache.v.slice_set(&v.contiguous()?, 2, offset)?;
        Ok((cache.k.narrow(2, 0, needed)?, cache.v.narrow(2, 0, needed)?))
    }
}

impl KvCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps only the batch rows `rows` (in that order), e.g. to drop finished samples.
    pub fn select_rows(&mut self, rows: &Tensor) -> Result<()> {
        for c in self.layers.iter_mut().flatten() {
            c.k = c.k.index_select(rows, 0)?;
            c.v = c.v.index_select(rows, 0)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    n_heads: usize,
    head_dim: usize,
    max_seq_len: usize,
}

impl Attention {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        // Residual projections start smaller so the stream's variance stays ~1 with depth.
        let out_std = INIT_STD / (2.0 * cfg.n_layers as f64).sqrt();
        Ok(Self {
            q: Linear::new(d, d, INIT_STD, vb.pp("q"))?,
            k: Linear::new(d, d, INIT_STD, vb.pp("k"))?,
            v: Linear::new(d, d, INIT_STD, vb.pp("v"))?,
            out: Linear::new(d, d, out_std, vb.pp("out"))?,
            n_heads: cfg.n_heads,
            head_dim: cfg.head_dim(),
            max_seq_len: cfg.max_seq_len,
        })
    }

    /// `xs (b * t, d)` normalised, `gain (d,)` -> `(b * t, d)`.
    fn forward(
        &self,
        xs: &Tensor,
        gain: &Tensor,
        b: usize,
        t: usize,
        cache: Option<(&mut Option<LayerCache>, usize)>,
    ) -> Result<Tensor> {
        let h = self.n_heads;
        let q = ops::split_heads(&self.q.forward_scaled(xs, gain)?, b, t, h)?;
        let k = self.k.forward_scaled(xs, gain)?;
        let v = ops::split_heads(&self.v.forward_scaled(xs, gain)?, b, t, h)?;
        let (k_t, v, offset) = match cache {
            // Training and one-shot inference: keys come out already transposed.
            None => (ops::split_heads_t(&k, b, t, h)?, v, 0),
            // Decoding keeps keys as (b, h, t, head_dim) to append along t.
            Some((slot, offset)) => {
                let k = ops::split_heads(&k, b, t, h)?;
                let (k, v) = LayerCache::append(slot, &k, &v, offset, self.max_seq_len)?;
                (k.t()?, v, offset)
            }
        };
        let scale = 1.0 / (self.head_dim as f32).sqrt();
        let scores = q.matmul(&k_t)?; // (b, h, t, offset + t)
        let probs = ops::causal_softmax(&scores, scale, offset)?;
        let ys = probs.matmul(&v)?; // (b, h, t, head_dim)
        self.out.forward(&ops::merge_heads(&ys)?)
    }
}

#[derive(Debug, Clone)]
struct Mlp {
    up: Linear,
    down: Linear,
}

impl Mlp {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let out_std = INIT_STD / (2.0 * cfg.n_layers as f64).sqrt();
        Ok(Self {
            up: Linear::new(cfg.d_model, cfg.d_ff, INIT_STD, vb.pp("up"))?,
            down: Linear::new(cfg.d_ff, cfg.d_model, out_std, vb.pp("down"))?,
        })
    }

    /// `xs (n, d)` normalised, `gain (d,)` -> `(n, d)`.
    fn forward(&self, xs: &Tensor, gain: &Tensor) -> Result<Tensor> {
        self.down
            .forward(&ops::relu(&self.up.forward_scaled(xs, gain)?)?)
    }
}

#[derive(Debug, Clone)]
struct Block {
    ln1: Tensor,
    attn: Attention,
    ln2: Tensor,
    mlp: Mlp,
}

impl Block {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            ln1: norm_gain(cfg.d_model, vb.pp("ln1"))?,
            attn: Attention::new(cfg, vb.pp("attn"))?,
            ln2: norm_gain(cfg.d_model, vb.pp("ln2"))?,
            mlp: Mlp::new(cfg, vb.pp("mlp"))?,
        })
    }

    /// `(b * t, d) -> (b * t, d)`.
    fn forward(
        &self,
        xs: &Tensor,
        b: usize,
        t: usize,
        cache: Option<(&mut Option<LayerCache>, usize)>,
    ) -> Result<Tensor> {
        let xs = (xs
            + self
                .attn
                .forward(&ops::layer_norm(xs)?, &self.ln1, b, t, cache)?)?;
        let ys = self.mlp.forward(&ops::layer_norm(&xs)?, &self.ln2)?;
        xs + ys
    }
}

/// The transformer. `forward(tokens (batch, seq) u32) -> logits (batch, seq, vocab) f32`.
#[derive(Debug, Clone)]
pub struct Model {
    tok_emb: Tensor,
    pos_emb: Tensor,
    blocks: Vec<Block>,
    ln_f: Tensor,
    head: Linear,
    cfg: Config,
}

impl Model {
    /// Builds the model, taking (or creating) its parameters from `vb` under the names listed
    /// in the module docs. The config is not validated here; see [`Config::validate`].
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let init = Init::Randn {
            mean: 0.0,
            stdev: INIT_STD,
        };
        let tok_emb =
            vb.pp("tok_emb")
                .get_with_hints((cfg.vocab_size, cfg.d_model), "weight", init)?;
        let pos_emb =
            vb.pp("pos_emb")
                .get_with_hints((cfg.max_seq_len, cfg.d_model), "weight", init)?;
        let blocks = (0..cfg.n_layers)
            .map(|i| Block::new(cfg, vb.pp("blocks").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            tok_emb,
            pos_emb,
            blocks,
            ln_f: norm_gain(cfg.d_model, vb.pp("ln_f"))?,
            head: Linear::new(cfg.d_model, cfg.vocab_size, INIT_STD, vb.pp("head"))?,
            cfg: cfg.clone(),
        })
    }

    /// The model's config.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The residual stream after the final LayerNorm, before the output head:
    /// `tokens (b, t) -> (b * t, d)`. Position ids are `positions` (`(b * t,)` u32, each below
    /// `max_seq_len`) when given, else the sequence index, counting after the cached positions.
    fn hidden(
        &self,
        tokens: &Tensor,
        positions: Option<&Tensor>,
        mut cache: Option<&mut KvCache>,
    ) -> Result<Tensor> {
        let (b, t) = tokens.dims2()?;
        let offset = cache.as_ref().map_or(0, |c| c.len);
        if offset + t > self.cfg.max_seq_len {
            bail!(
                "{} cached + {t} new positions exceed max_seq_len {}",
                offset,
                self.cfg.max_seq_len
            )
        }
        if t == 0 || b == 0 {
            bail!("empty input of shape ({b}, {t})")
        }
        let ids = tokens.flatten_all()?;
        let positions = match positions {
            Some(p) => {
                if p.dims() != [b * t] {
                    bail!("positions of shape {:?} for tokens of shape ({b}, {t})", p.dims())
                }
                p.clone()
            }
            None => {
                let seq: Vec<u32> = (0..b)
                    .flat_map(|_| (offset..offset + t).map(|p| p as u32))
                    .collect();
                Tensor::from_vec(seq, b * t, tokens.device())?
            }
        };
        let mut xs =
            (self.tok_emb.index_select(&ids, 0)? + self.pos_emb.index_select(&positions, 0)?)?;
        if let Some(cache) = cache.as_deref_mut() {
            cache.layers.resize(self.blocks.len(), None);
        }
        for (i, block) in self.blocks.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|c| (&mut c.layers[i], offset));
            xs = block.forward(&xs, b, t, layer_cache)?;
        }
        if let Some(cache) = cache {
            cache.len += t;
        }
        ops::layer_norm(&xs)
    }

    /// Output head on normalised hidden states: `(n, d) -> (n, vocab)`.
    fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.head.forward_scaled(hidden, &self.ln_f)
    }

    /// Logits for the flattened positions: `tokens (b, t) -> (b * t, vocab)`, with explicit
    /// position ids `(b * t,)` or sequential ones.
    pub(crate) fn forward_flat(&self, tokens: &Tensor, positions: Option<&Tensor>) -> Result<Tensor> {
        self.logits(&self.hidden(tokens, positions, None)?)
    }

    /// Runs `tokens (b, t)` after the positions already in `cache`, appends their keys and
    /// values to it, and returns the logits of the last new position: `(b, vocab)`.
    pub fn forward_cached(&self, tokens: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        self.forward_cached_at(tokens, None, cache)
    }

    /// [`Model::forward_cached`] with explicit position ids `(b * t,)` u32 for the new tokens
    /// (each below `max_seq_len`); `None` numbers them after the cached ones.
    pub fn forward_cached_at(
        &self,
        tokens: &Tensor,
        positions: Option<&Tensor>,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let (b, t) = tokens.dims2()?;
        let hidden = self.hidden(tokens, positions, Some(cache))?; // (b * t, d)
        let last = hidden
            .reshape((b, t, self.cfg.d_model))?
            .narrow(1, t - 1, 1)?
            .squeeze(1)?;
        self.logits(&last.contiguous()?)
    }

    /// Token ids as a `(b, t)` tensor; every row must have the same length.
    pub fn tokens_tensor(rows: &[Vec<u32>]) -> Result<Tensor> {
        let t = rows.first().map_or(0, Vec::len);
        if let Some(i) = rows.iter().position(|r| r.len() != t) {
            bail!("row {i} has {} tokens, row 0 has {t}", rows[i].len())
        }
        let flat: Vec<u32> = rows.iter().flatten().copied().collect();
        Tensor::from_vec(flat, (rows.len(), t), &Device::Cpu)
    }
}

impl Module for Model {
    fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
        let (b, t) = tokens.dims2()?;
        if tokens.dtype() != DType::U32 {
            bail!("tokens must be u32, got {:?}", tokens.dtype())
        }
        self.forward_flat(tokens, None)?
            .reshape((b, t, self.cfg.vocab_size))
    }
}
