//! Training batches without a padding token: [`Batch`] and [`TrainData`].
//!
//! A training sequence `s` of length `n` teaches the model to predict `s[j]` from `s[..j]` at
//! every position `j` where its loss mask is true (position 0 has no context, so its mask must
//! be false). A [`Batch`] groups its sequences into *buckets* of similar length; each bucket is
//! one dense `(rows, len - 1)` input tensor. Shorter sequences in a bucket are filled at the
//! end with token 0: under causal attention no real position ever sees a fill position, and
//! fill positions carry no loss, so the caller's vocabulary needs no padding token.
//!
//! Position ids are the sequence index by default. A caller may give its own per token
//! ([`TrainData::with_positions`]), e.g. the significance of a digit within its number, which
//! lets a model align digits of numbers of any length (McLeish et al. 2024, "abacus"
//! embeddings); ids must stay below the model's `max_seq_len`.

use std::sync::Arc;

use candle_core::{Device, Tensor};

use crate::{Error, Result};

/// Fill positions a bucket may hold before a new bucket is started, at least. Why this size:
/// a bucket costs a few hundred small tensor ops (a few milliseconds) whatever its size, about
/// what a few dozen token positions cost, so merging lengths is worth that much fill.
pub const BUCKET_MIN_FILL: usize = 32;

/// Fill allowed per bucket as a fraction of its real positions, beyond [`BUCKET_MIN_FILL`].
pub const BUCKET_FILL_FRACTION: f64 = 0.125;

/// Training data: sequences of token ids with per-token loss masks, checked once.
#[derive(Debug, Clone, Default)]
pub struct TrainData {
    sequences: Vec<Vec<u32>>,
    loss_masks: Vec<Vec<bool>>,
    positions: Option<Vec<Vec<u32>>>,
}

impl TrainData {
    /// Checks and stores `sequences` with their `loss_masks` (see the module docs); the error
    /// names the first bad sequence.
    pub fn new(sequences: Vec<Vec<u32>>, loss_masks: Vec<Vec<bool>>) -> Result<Self> {
        check(&sequences, &loss_masks)?;
        Ok(Self {
            sequences,
            loss_masks,
            positions: None,
        })
    }

    /// Like [`TrainData::new`], with the position id of every token given (one `Vec` per
    /// sequence, as long as it).
    pub fn with_positions(
        sequences: Vec<Vec<u32>>,
        loss_masks: Vec<Vec<bool>>,
        positions: Vec<Vec<u32>>,
    ) -> Result<Self> {
        check(&sequences, &loss_masks)?;
        check_positions(&sequences, &positions)?;
        Ok(Self {
            sequences,
            loss_masks,
            positions: Some(positions),
        })
    }

    /// The position ids, when given.
    pub fn positions(&self) -> Option<&[Vec<u32>]> {
        self.positions.as_deref()
    }

    /// Number of sequences.
    pub fn len(&self) -> usize {
        self.sequences.len()
    }

    /// Whether there are no sequences.
    pub fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }

    /// The sequences.
    pub fn sequences(&self) -> &[Vec<u32>] {
        &self.sequences
    }

    /// The loss masks, one per sequence.
    pub fn loss_masks(&self) -> &[Vec<bool>] {
        &self.loss_masks
    }

    /// The batch of the sequences at `indices`.
    pub fn batch(&self, indices: &[usize]) -> Result<Batch> {
        let items: Vec<Item> = indices
            .iter()
            .map(|&i| {
                let seq = self.sequences.get(i).ok_or_else(|| Error::Argument {
                    name: "indices",
                    message: format!("index {i} is out of range for {} sequences", self.len()),
                })?;
                Ok(Item {
                    index: i,
                    seq,
                    mask: &self.loss_masks[i],
                    positions: self.positions.as_ref().map(|p| p[i].as_slice()),
                })
            })
            .collect::<Result<_>>()?;
        Batch::build(&items)
    }
}

/// One sequence of a batch being built: its index in the caller's slice, tokens, loss mask
/// and position ids (when given). Already checked.
struct Item<'a> {
    index: usize,
    seq: &'a [u32],
    mask: &'a [bool],
    positions: Option<&'a [u32]>,
}

fn check_positions(sequences: &[Vec<u32>], positions: &[Vec<u32>]) -> Result<()> {
    if sequences.len() != positions.len() {
        return Err(Error::Argument {
            name: "positions",
            message: format!(
                "{} position lists for {} sequences",
                positions.len(),
                sequences.len()
            ),
        });
    }
    for (index, (seq, pos)) in sequences.iter().zip(positions).enumerate() {
        if seq.len() != pos.len() {
            return Err(Error::Sequence {
                index,
                message: format!("has {} tokens but {} position ids", seq.len(), pos.len()),
            });
        }
    }
    Ok(())
}

fn check(sequences: &[Vec<u32>], loss_masks: &[Vec<bool>]) -> Result<()> {
    if sequences.len() != loss_masks.len() {
        return Err(Error::Argument {
            name: "loss_masks",
            message: format!(
                "{} masks for {} sequences",
                loss_masks.len(),
                sequences.len()
            ),
        });
    }
    for (index, (seq, mask)) in sequences.iter().zip(loss_masks).enumerate() {
        check_one(index, seq, mask)?;
    }
    Ok(())
}

fn check_one(index: usize, seq: &[u32], mask: &[bool]) -> Result<()> {
    let bad = |message: String| Err(Error::Sequence { index, message });
    if seq.len() < 2 {
        return bad(format!(
            "has {} tokens; at least 2 are needed to predict one",
            seq.len()
        ));
    }
    if mask.len() != seq.len() {
        return bad(format!(
            "has {} tokens but its loss mask has {}",
            seq.len(),
            mask.len()
        ));
    }
    if mask[0] {
        return bad("loss mask is true at position 0, which has no context to predict from".into());
    }
    Ok(())
}

/// One bucket of a [`Batch`]: sequences of similar length as dense tensors.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Input ids `(rows, len)`: each sequence without its last token, filled with 0.
    pub inputs: Tensor,
    /// Position ids of the inputs, `(rows * len,)` (fill positions get 0), when the data
    /// gives them; `None` means the sequence index.
    pub positions: Option<Tensor>,
    /// Target ids, `rows * len`, row-major: each sequence without its first token.
    pub targets: Arc<[u32]>,
    /// 1 where the target counts towards the loss, else 0; `rows * len`.
    pub mask: Arc<[f32]>,
    /// Indices (in the caller's slice) of the sequences in this bucket, one per row.
    pub sequences: Vec<usize>,
    /// Real (unfilled) input length of each row.
    pub lengths: Vec<usize>,
}

impl Bucket {
    /// `(rows, len)` of the input tensor.
    pub fn shape(&self) -> (usize, usize) {
        let dims = self.inputs.dims();
        (dims[0], dims[1])
    }

    /// Input positions filled with token 0 at the ends of shorter rows.
    pub fn fill(&self) -> usize {
        let (rows, len) = self.shape();
        rows * len - self.lengths.iter().sum::<usize>()
    }
}

/// The sequences of one training step, in buckets of similar length (see the module docs).
#[derive(Debug, Clone)]
pub struct Batch {
    buckets: Vec<Bucket>,
    n_targets: usize,
    max_token: u32,
    max_position: Option<u32>,
}

/// `sequences` (with their loss masks, and position ids if given) cut into `parts` batches of
/// about as many sequences each, in order (fewer batches when there are fewer sequences): the
/// shards of one data-parallel step ([`crate::Trainer::train_step_sharded`]).
pub fn shards(
    sequences: &[Vec<u32>],
    loss_mask: &[Vec<bool>],
    positions: Option<&[Vec<u32>]>,
    parts: usize,
) -> Result<Vec<Batch>> {
    let n = sequences.len();
    let parts = parts.clamp(1, n.max(1));
    (0..parts)
        .map(|i| {
            let range = i * n / parts..(i + 1) * n / parts;
            match positions {
                Some(p) => Batch::from_sequences_at(
                    &sequences[range.clone()],
                    &loss_mask[range.clone()],
                    &p[range],
                ),
                None => Batch::from_sequences(&sequences[range.clone()], &loss_mask[range]),
            }
        })
        .collect()
}

impl Batch {
    /// Packs `sequences` (with one loss mask each) into buckets; the error names the first
    /// malformed sequence, or says that no position carries loss.
    pub fn from_sequences(sequences: &[Vec<u32>], loss_mask: &[Vec<bool>]) -> Result<Self> {
        check(sequences, loss_mask)?;
        let items: Vec<Item> = sequences
            .iter()
            .zip(loss_mask)
            .enumerate()
            .map(|(index, (seq, mask))| Item {
                index,
                seq,
                mask,
                positions: None,
            })
            .collect();
        Self::build(&items)
    }

    /// Like [`Batch::from_sequences`], with the position id of every token given.
    pub fn from_sequences_at(
        sequences: &[Vec<u32>],
        loss_mask: &[Vec<bool>],
        positions: &[Vec<u32>],
    ) -> Result<Self> {
        check(sequences, loss_mask)?;
        check_positions(sequences, positions)?;
        let items: Vec<Item> = sequences
            .iter()
            .zip(loss_mask)
            .zip(positions)
            .enumerate()
            .map(|(index, ((seq, mask), pos))| Item {
                index,
                seq,
                mask,
                positions: Some(pos),
            })
            .collect();
        Self::build(&items)
    }

    fn build(items: &[Item]) -> Result<Self> {
        if items.is_empty() {
            return Err(Error::Argument {
                name: "sequences",
                message: "no sequences".into(),
            });
        }
        let n_targets: usize = items
            .iter()
            .map(|it| it.mask.iter().filter(|b| **b).count())
            .sum();
        if n_targets == 0 {
            return Err(Error::Argument {
                name: "loss_mask",
                message: "no position of any sequence carries loss".into(),
            });
        }
        let max_token = items
            .iter()
            .flat_map(|it| it.seq.iter())
            .copied()
            .max()
            .unwrap_or(0);
        let max_position = items
            .iter()
            .filter_map(|it| it.positions)
            .flat_map(|p| p.iter().copied())
            .max();
        // Longest first, ties in the caller's order, so buckets are deterministic.
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by_key(|&k| std::cmp::Reverse(items[k].seq.len()));
        let mut buckets = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let width = items[order[start]].seq.len();
            let (mut end, mut real, mut fill) = (start, 0usize, 0usize);
            while end < order.len() {
                let len = items[order[end]].seq.len();
                let allowed =
                    BUCKET_MIN_FILL.max(((real + len) as f64 * BUCKET_FILL_FRACTION) as usize);
                if fill + (width - len) > allowed {
                    break;
                }
                real += len;
                fill += width - len;
                end += 1;
            }
            let members: Vec<&Item> = order[start..end].iter().map(|&k| &items[k]).collect();
            buckets.push(bucket(&members, width - 1)?);
            start = end;
        }
        Ok(Self {
            buckets,
            n_targets,
            max_token,
            max_position,
        })
    }

    /// Largest position id given by the data, if it gives them.
    pub fn max_position(&self) -> Option<u32> {
        self.max_position
    }

    /// The buckets, longest first.
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// Number of positions that carry loss.
    pub fn n_targets(&self) -> usize {
        self.n_targets
    }

    /// Number of sequences.
    pub fn n_sequences(&self) -> usize {
        self.buckets.iter().map(|b| b.sequences.len()).sum()
    }

    /// Largest token id in the batch.
    pub fn max_token(&self) -> u32 {
        self.max_token
    }

    /// Input positions filled (not real tokens), over all buckets.
    pub fn fill(&self) -> usize {
        self.buckets.iter().map(Bucket::fill).sum()
    }
}

fn bucket(members: &[&Item], len: usize) -> Result<Bucket> {
    let rows = members.len();
    let mut inputs = vec![0u32; rows * len];
    let mut targets = vec![0u32; rows * len];
    let mut mask = vec![0f32; rows * len];
    let given = members.iter().any(|it| it.positions.is_some());
    let mut positions = vec![0u32; if given { rows * len } else { 0 }];
    for (r, it) in members.iter().enumerate() {
        let (seq, m) = (it.seq, it.mask);
        let n = seq.len() - 1;
        inputs[r * len..r * len + n].copy_from_slice(&seq[..n]);
        if let Some(p) = it.positions {
            positions[r * len..r * len + n].copy_from_slice(&p[..n]);
        }
        targets[r * len..r * len + n].copy_from_slice(&seq[1..]);
        for (dst, &on) in mask[r * len..r * len + n].iter_mut().zip(&m[1..]) {
            *dst = if on { 1.0 } else { 0.0 };
        }
    }
    Ok(Bucket {
        inputs: Tensor::from_vec(inputs, (rows, len), &Device::Cpu)?,
        positions: if given {
            Some(Tensor::from_vec(positions, rows * len, &Device::Cpu)?)
        } else {
            None
        },
        targets: targets.into(),
        mask: mask.into(),
        sequences: members.iter().map(|it| it.index).collect(),
        lengths: members.iter().map(|it| it.seq.len() - 1).collect(),
    })
}
