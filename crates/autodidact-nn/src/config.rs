//! The model's shape: [`Config`], stored as `config.json` beside each checkpoint.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The architecture of a [`crate::Model`]; mirrors `config.json`.
///
/// ```
/// let cfg = autodidact_nn::Config::new(16, 64, 2, 4, 256, 32);
/// cfg.validate().unwrap();
/// assert_eq!(cfg.version, autodidact_nn::Config::VERSION);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version of this config; see [`Config::VERSION`].
    pub version: u32,
    /// Number of token ids; ids are `0..vocab_size`.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Number of transformer blocks.
    pub n_layers: usize,
    /// Attention heads per block; must divide `d_model`.
    pub n_heads: usize,
    /// Hidden width of each block's MLP.
    pub d_ff: usize,
    /// Longest input the model accepts (learned position embeddings exist for this many positions).
    pub max_seq_len: usize,
}

impl Config {
    /// The config format this build writes and reads.
    pub const VERSION: u32 = 1;

    /// A config of the current version.
    pub fn new(
        vocab_size: usize,
        d_model: usize,
        n_layers: usize,
        n_heads: usize,
        d_ff: usize,
        max_seq_len: usize,
    ) -> Self {
        Self {
            version: Self::VERSION,
            vocab_size,
            d_model,
            n_layers,
            n_heads,
            d_ff,
            max_seq_len,
        }
    }

    /// Checks every value; the error names the offending key.
    pub fn validate(&self) -> Result<()> {
        let bad = |key, message: String| {
            Err(Error::InvalidConfig {
                path: None,
                key,
                message,
            })
        };
        if self.version != Self::VERSION {
            return bad(
                "version",
                format!("is {}, this build reads {}", self.version, Self::VERSION),
            );
        }
        for (key, value) in [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("d_ff", self.d_ff),
            ("max_seq_len", self.max_seq_len),
        ] {
            if value == 0 {
                return bad(key, "must be at least 1".into());
            }
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            return bad(
                "n_heads",
                format!("({}) must divide d_model ({})", self.n_heads, self.d_model),
            );
        }
        // Token ids travel as u32 (candle's index type).
        if self.vocab_size > u32::MAX as usize {
            return bad(
                "vocab_size",
                format!("({}) must fit in a u32", self.vocab_size),
            );
        }
        Ok(())
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    /// Number of trainable parameters of a model of this shape.
    pub fn n_params(&self) -> usize {
        let d = self.d_model;
        let per_block = 2 * d + 4 * d * d + 2 * d * self.d_ff;
        self.vocab_size * d
            + self.max_seq_len * d
            + self.n_layers * per_block
            + d
            + self.vocab_size * d
    }
}
