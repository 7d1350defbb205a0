//! Fused CPU kernels with hand-written gradients.
//!
//! Why: candle's fused `layer_norm`, `rms_norm`, `softmax_last_dim` and `sdpa` have no gradient
//! (training through them silently leaves earlier parameters untouched), and the composite
//! versions spend most of a training step in many small element-wise ops and in the
//! broadcast-sum backward. Each kernel here is one pass over contiguous f32 rows, parallel over
//! rows on rayon's pool (`RAYON_NUM_THREADS`), with its backward as a second kernel.
//!
//! | function | input | output |
//! | --- | --- | --- |
//! | [`layer_norm`] | `(.., d)` | `(.., d)`, each row with mean 0 and variance 1 (no affine) |
//! | [`causal_softmax`] | scores `(.., t_q, t_k)` | probabilities, key `j` hidden from query `i` when `j > offset + i` |
//! | [`split_heads`], [`split_heads_t`], [`merge_heads`] | `(b * t, d)` / `(b, h, t, hd)` | the other, permuted in one copy |
//! | [`masked_nll`] | logits `(n, vocab)` | `(n,)`: `weight[i] * -log_softmax(logits[i])[target[i]]` |

use std::sync::Arc;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

/// Variance epsilon of [`layer_norm`] (PyTorch's default).
pub const LAYER_NORM_EPS: f32 = 1e-5;

/// Normalises each row of the last dimension to mean 0, variance 1; `(.., d) -> (.., d)`.
///
/// There is no affine part: the model folds a LayerNorm's gain into the weight of the linear
/// that follows it (see [`crate::model`]), which keeps the gain's gradient off the slow
/// broadcast-sum path.
pub fn layer_norm(xs: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(LayerNorm)
}

/// Scaled, causally masked softmax over the last dimension of attention scores
/// `(.., t_q, t_k) -> (.., t_q, t_k)`.
///
/// Query row `i` sits at absolute position `offset + i` and sees keys `0..=offset + i`
/// (`offset` is the number of cached positions before the queries). `scale` multiplies the
/// scores first (1/√head_dim).
pub fn causal_softmax(scores: &Tensor, scale: f32, offset: usize) -> Result<Tensor> {
    // The kernel takes the row maximum before scaling, which needs a positive scale.
    if !(scale.is_finite() && scale > 0.0) {
        bail!("causal_softmax: scale must be finite and > 0, got {scale}")
    }
    scores
        .contiguous()?
        .apply_op1(CausalSoftmax { scale, offset })
}

/// Weighted negative log-likelihood of `targets` under `logits`: `(n, vocab) -> (n,)`.
///
/// Row `i` is `weights[i] * (logsumexp(logits[i]) - logits[i][targets[i]])`; rows of weight 0
/// are 0 and get no gradient. This is `cross_entropy` with a mask, which candle lacks.
pub fn masked_nll(logits: &Tensor, targets: Arc<[u32]>, weights: Arc<[f32]>) -> Result<Tensor> {
    let (n, vocab) = logits.dims2()?;
    if targets.len() != n || weights.len() != n {
        bail!(
            "masked_nll: {n} rows of logits but {} targets and {} weights",
            targets.len(),
            weights.len()
        )
    }
    if let Some((i, t)) = targets
        .iter()
        .enumerate()
        .find(|(_, t)| **t as usize >= vocab)
    {
        bail!("masked_nll: target {t} of row {i} is outside the vocabulary of {vocab}")
    }
    logits
        .contiguous()?
        .apply_op1(MaskedNll { targets, weights })
}

/// `max(x, 0)`, element-wise. candle's own ReLU is as fast forward, but its backward makes six
/// full-size passes (zeros, compare, convert, multiply, zeros, add); this one makes one.
pub fn relu(xs: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(Relu)
}

struct Relu;

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "autodidact-relu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        let y = x.iter().map(|v| v.max(0.0)).collect();
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(res.apply_op2_no_bwd(&grad.contiguous()?, &ReluBwd)?))
    }
}

/// `dx = g` where the output was positive, else 0.
struct ReluBwd;

impl CustomOp2 for ReluBwd {
    fn name(&self) -> &'static str {
        "autodidact-relu-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = f32_slice(s1, l1, self.name())?;
        let g = f32_slice(s2, l2, self.name())?;
        let dx = y
            .iter()
            .zip(g)
            .map(|(y, g)| if *y > 0.0 { *g } else { 0.0 })
            .collect();
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

/// `(b * t, h * hd) -> (b, h, t, hd)`: splits the flat stream into attention heads, in one
/// copy (instead of reshape, transpose and contiguous, each of which costs a full-size zero
/// fill and add in candle's backward).
pub fn split_heads(xs: &Tensor, b: usize, t: usize, h: usize) -> Result<Tensor> {
    let hd = heads_dim(xs, b, t, h)?;
    permute(xs, [b, t, h, hd], [0, 2, 1, 3], &[b, h, t, hd])
}

/// `(b * t, h * hd) -> (b, h, hd, t)`: like [`split_heads`], transposed for `q @ k^T`.
pub fn split_heads_t(xs: &Tensor, b: usize, t: usize, h: usize) -> Result<Tensor> {
    let hd = heads_dim(xs, b, t, h)?;
    permute(xs, [b, t, h, hd], [0, 2, 3, 1], &[b, h, hd, t])
}

/// `(b, h, t, hd) -> (b * t, h * hd)`: the inverse of [`split_heads`].
pub fn merge_heads(xs: &Tensor) -> Result<Tensor> {
    let (b, h, t, hd) = xs.dims4()?;
    permute(xs, [b, h, t, hd], [0, 2, 1, 3], &[b * t, h * hd])
}

fn heads_dim(xs: &Tensor, b: usize, t: usize, h: usize) -> Result<usize> {
    let (n, d) = xs.dims2()?;
    if n != b * t || h == 0 || d % h != 0 {
        bail!(
            "split_heads: cannot split {:?} into ({b}, {h}, {t}, _)",
            xs.dims()
        )
    }
    Ok(d / h)
}

/// `xs` viewed as `dims`, permuted by `perm`, made contiguous, shaped `out_shape`. One graph
/// node: no reshape nodes around it, each of which would cost a full-size fill and add in
/// backward.
fn permute(xs: &Tensor, dims: [usize; 4], perm: [usize; 4], out_shape: &[usize]) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(Permute {
        dims,
        perm,
        in_shape: xs.dims().to_vec(),
        out_shape: out_shape.to_vec(),
    })
}

/// A permuting copy: the input's values viewed as `dims`, permuted by `perm`, shaped
/// `out_shape`. Its gradient is the inverse permutation, shaped `in_shape`.
struct Permute {
    dims: [usize; 4],
    perm: [usize; 4],
    in_shape: Vec<usize>,
    out_shape: Vec<usize>,
}

impl CustomOp1 for Permute {
    fn name(&self) -> &'static str {
        "autodidact-permute"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        let d = self.dims;
        if x.len() != d.iter().product::<usize>() {
            bail!("{}: {:?} cannot be viewed as {d:?}", self.name(), l.dims())
        }
        let in_strides = [d[1] * d[2] * d[3], d[2] * d[3], d[3], 1];
        let out: [usize; 4] = self.perm.map(|p| d[p]);
        // Stride in the input of each output axis.
        let s: [usize; 4] = self.perm.map(|p| in_strides[p]);
        let mut y = Vec::with_capacity(x.len());
        for i0 in 0..out[0] {
            for i1 in 0..out[1] {
                for i2 in 0..out[2] {
                    let base = i0 * s[0] + i1 * s[1] + i2 * s[2];
                    if s[3] == 1 {
                        y.extend_from_slice(&x[base..base + out[3]]);
                    } else {
                        y.extend((0..out[3]).map(|i3| x[base + i3 * s[3]]));
                    }
                }
            }
        }
        Ok((CpuStorage::F32(y), Shape::from(self.out_shape.clone())))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let mut inverse = [0; 4];
        for (i, &p) in self.perm.iter().enumerate() {
            inverse[p] = i;
        }
        let op = Permute {
            dims: self.perm.map(|p| self.dims[p]),
            perm: inverse,
            in_shape: self.out_shape.clone(),
            out_shape: self.in_shape.clone(),
        };
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&op)?))
    }
}

/// The contiguous f32 data of a CPU tensor.
fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else {
        bail!("{op}: expected f32, got {:?}", s.dtype())
    };
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{op}: expected a contiguous tensor"),
    }
}

/// Fills `dst` row by row (`row_len` values each) with `f(row_index, row)`, in parallel when the
/// pool has more than one thread and there is enough work to share.
fn for_rows(dst: &mut [f32], row_len: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    if row_len == 0 {
        return;
    }
    let n_rows = dst.len() / row_len;
    let threads = rayon::current_num_threads();
    // Below ~16k values the hand-off to the pool costs more than it saves.
    if threads <= 1 || dst.len() < 16 * 1024 {
        dst.chunks_mut(row_len)
            .enumerate()
            .for_each(|(i, row)| f(i, row));
        return;
    }
    let rows_per_task = n_rows.div_ceil(threads * 4).max(1);
    dst.par_chunks_mut(rows_per_task * row_len)
        .enumerate()
        .for_each(|(c, chunk)| {
            for (k, row) in chunk.chunks_mut(row_len).enumerate() {
                f(c * rows_per_task + k, row)
            }
        });
}

fn last_dim(layout: &Layout) -> usize {
    layout.dims().last().copied().unwrap_or(1)
}

/// Sum of `f(a[i], b[i])` in eight interleaved lanes, which the compiler can vectorise (a
/// single f32 accumulator cannot be reordered, so it stays scalar). The lane order is fixed,
/// so results do not depend on the thread count.
#[inline]
fn sum_lanes(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (xa, xb) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += f(xa[i], xb[i]);
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| f(*x, *y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// Mean and reciprocal standard deviation of a row.
#[inline]
fn moments(x: &[f32]) -> (f32, f32) {
    let d = x.len() as f32;
    let mean = sum_lanes(x, x, |v, _| v) / d;
    let var = sum_lanes(x, x, |v, _| (v - mean) * (v - mean)) / d;
    (mean, 1.0 / (var + LAYER_NORM_EPS).sqrt())
}

struct LayerNorm;

impl CustomOp1 for LayerNorm {
    fn name(&self) -> &'static str {
        "autodidact-layer-norm"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        let d = last_dim(l);
        let mut y = vec![0f32; x.len()];
        for_rows(&mut y, d, |r, y| {
            let x = &x[r * d..(r + 1) * d];
            let (mean, rstd) = moments(x);
            for (y, x) in y.iter_mut().zip(x) {
                *y = (x - mean) * rstd;
            }
        });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            arg.apply_op2_no_bwd(&grad.contiguous()?, &LayerNormBwd)?,
        ))
    }
}

/// `dx = rstd * (g - mean(g) - y * mean(g * y))`, recomputing `y` from `x`.
struct LayerNormBwd;

impl CustomOp2 for LayerNormBwd {
    fn name(&self) -> &'static str {
        "autodidact-layer-norm-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let g = f32_slice(s2, l2, self.name())?;
        let d = last_dim(l1);
        let mut dx = vec![0f32; x.len()];
        for_rows(&mut dx, d, |r, dx| {
            let x = &x[r * d..(r + 1) * d];
            let g = &g[r * d..(r + 1) * d];
            let (mean, rstd) = moments(x);
            let sum_g = sum_lanes(g, g, |g, _| g);
            let sum_gy = sum_lanes(x, g, |x, g| g * (x - mean) * rstd);
            let (mean_g, mean_gy) = (sum_g / d as f32, sum_gy / d as f32);
            for ((dx, x), g) in dx.iter_mut().zip(x).zip(g) {
                let y = (x - mean) * rstd;
                *dx = rstd * (g - mean_g - y * mean_gy);
            }
        });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

struct CausalSoftmax {
    scale: f32,
    offset: usize,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "autodidact-causal-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        let dims = l.dims();
        if dims.len() < 2 {
            bail!("{}: expected (.., t_q, t_k), got {:?}", self.name(), dims)
        }
        let (t_q, t_k) = (dims[dims.len() - 2], dims[dims.len() - 1]);
        if self.offset + t_q > t_k {
            bail!(
                "{}: {} cached + {t_q} query positions exceed {t_k} keys",
                self.name(),
                self.offset
            )
        }
        let mut y = vec![0f32; x.len()];
        for_rows(&mut y, t_k, |r, y| {
            let x = &x[r * t_k..(r + 1) * t_k];
            let seen = self.offset + r % t_q + 1;
            let max = x[..seen].iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v)) * self.scale;
            let mut sum = 0f32;
            for (y, x) in y[..seen].iter_mut().zip(x) {
                *y = (x * self.scale - max).exp();
                sum += *y;
            }
            let inv = 1.0 / sum;
            y[..seen].iter_mut().for_each(|y| *y *= inv);
        });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let op = SoftmaxBwd { scale: self.scale };
        Ok(Some(res.apply_op2_no_bwd(&grad.contiguous()?, &op)?))
    }
}

/// `dx = scale * y * (g - sum(g * y))` per row; hidden keys have `y = 0` and so get 0.
struct SoftmaxBwd {
    scale: f32,
}

impl CustomOp2 for SoftmaxBwd {
    fn name(&self) -> &'static str {
        "autodidact-softmax-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = f32_slice(s1, l1, self.name())?;
        let g = f32_slice(s2, l2, self.name())?;
        let d = last_dim(l1);
        let mut dx = vec![0f32; y.len()];
        for_rows(&mut dx, d, |r, dx| {
            let y = &y[r * d..(r + 1) * d];
            let g = &g[r * d..(r + 1) * d];
            let dot = sum_lanes(y, g, |y, g| y * g);
            for ((dx, y), g) in dx.iter_mut().zip(y).zip(g) {
                *dx = self.scale * y * (g - dot);
            }
        });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

struct MaskedNll {
    targets: Arc<[u32]>,
    weights: Arc<[f32]>,
}

/// `logsumexp` of a row.
#[inline]
fn logsumexp(x: &[f32]) -> f32 {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
    max + x.iter().map(|v| (v - max).exp()).sum::<f32>().ln()
}

impl CustomOp1 for MaskedNll {
    fn name(&self) -> &'static str {
        "autodidact-masked-nll"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        let vocab = last_dim(l);
        let n = self.targets.len();
        let out = (0..n)
            .map(|i| {
                let w = self.weights[i];
                if w == 0.0 {
                    return 0.0;
                }
                let row = &x[i * vocab..(i + 1) * vocab];
                w * (logsumexp(row) - row[self.targets[i] as usize])
            })
            .collect();
        Ok((CpuStorage::F32(out), Shape::from(n)))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let op = MaskedNllBwd {
            targets: self.targets.clone(),
            weights: self.weights.clone(),
        };
        Ok(Some(arg.apply_op2_no_bwd(&grad.contiguous()?, &op)?))
    }
}

/// `dlogits[i] = g[i] * weights[i] * (softmax(logits[i]) - onehot(targets[i]))`.
struct MaskedNllBwd {
    targets: Arc<[u32]>,
    weights: Arc<[f32]>,
}

impl CustomOp2 for MaskedNllBwd {
    fn name(&self) -> &'static str {
        "autodidact-masked-nll-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let g = f32_slice(s2, l2, self.name())?;
        let vocab = last_dim(l1);
        let mut dx = vec![0f32; x.len()];
        for_rows(&mut dx, vocab, |i, dx| {
            let scale = g[i] * self.weights[i];
            if scale == 0.0 {
                return;
            }
            let row = &x[i * vocab..(i + 1) * vocab];
            let lse = logsumexp(row);
            for (dx, x) in dx.iter_mut().zip(row) {
                *dx = scale * (x - lse).exp();
            }
            dx[self.targets[i] as usize] -= scale;
        });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}
