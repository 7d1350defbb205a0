//! The embedded tiny transformer of autodidact, on candle: a decoder-only model trained from
//! scratch on the CPU, sampled with a KV cache, saved as safetensors.
//!
//! Tokens are `u32` ids of the caller's vocabulary; this crate knows nothing of pipelines,
//! tasks or text.
//!
//! ```
//! use autodidact_nn::{Config, Network, TrainConfig, TrainData, Trainer};
//! # fn main() -> autodidact_nn::Result<()> {
//! // Learn to copy a token: sequences [x, x], loss on the second position.
//! let cfg = Config::new(8, 16, 1, 2, 32, 4);
//! let seqs: Vec<Vec<u32>> = (0..8).map(|x| vec![x, x]).collect();
//! let masks = vec![vec![false, true]; 8];
//! let data = TrainData::new(seqs, masks)?;
//! let mut trainer = Trainer::new(Network::init(&cfg, 42)?, TrainConfig::default())?;
//! let summary = trainer.fit(&data, 5, 8, |_| std::ops::ControlFlow::Continue(()))?;
//! assert_eq!(summary.steps, 5);
//! let out = trainer.network().generate(&[vec![3]], 1, None, 0.0, 7)?;
//! assert_eq!(out[0].len(), 1);
//! # Ok(()) }
//! ```
//!
//! Modules, in the order data flows: [`config`] (the shape, `config.json`), [`batch`]
//! (sequences to tensors), [`model`] (the network), [`ops`] (fused kernels with gradients),
//! [`train`] (AdamW, schedule, clipping, the trainer), [`sample`] (decoding), [`network`]
//! (parameters, checkpoints); and beside them [`init`] (seeded initialisation), [`threads`]
//! and [`alloc`] (process settings for speed).
//!
//! # Threads
//!
//! Matmuls and this crate's kernels run on rayon's pool (`RAYON_NUM_THREADS`), candle's
//! element-wise ops on its own busy-waiting pool (`CANDLE_NUM_THREADS`); both read their variable
//! once, at first use. Binaries should call [`set_thread_defaults`] at the start of `main`
//! (one candle thread, all cores for rayon: the fastest on 2 cores; see [`threads`]). Tests
//! that run in parallel should pin both to one thread, as this crate's do. Results do not
//! depend on the thread count: each kernel reduces in a fixed order per row, and the matmul
//! splits work by output blocks.
#![deny(missing_docs)]

pub mod alloc;
pub mod batch;
pub mod config;
mod error;
pub mod init;
pub mod model;
pub mod network;
pub mod ops;
pub mod sample;
pub mod threads;
pub mod train;

pub use alloc::keep_freed_memory;
pub use batch::{Batch, Bucket, TrainData, shards};
pub use config::Config;
pub use error::{Error, Result};
pub use model::{KvCache, Model};
pub use network::Network;
pub use threads::{num_threads, set_thread_defaults};
pub use train::{AdamW, FitSummary, Schedule, StepStats, TrainConfig, Trainer, clip_grad_norm};
