//! Curation for autodidact: decides which records survive, and says why the others do not.
//!
//! Each record that goes in comes out either kept or rejected with a reason; nothing is
//! dropped. The checks, in order: rejected upstream, score threshold, length, repetition,
//! decontamination against evaluation sets (word n-gram overlap), exact duplicates
//! (normalised text) and near duplicates (MinHash + LSH), both against history and within
//! the batch.
//!
//! ```
//! use autodidact_curate::{CurateConfig, Curator};
//! use autodidact_data::{Record, Verdict};
//!
//! let mut curator = Curator::new(&CurateConfig { min_score: None, ..CurateConfig::default() })?;
//! let out = curator.curate(vec![
//!     Record::new("Say hi.", "Hello there, friend!", None),
//!     Record::new("Greet me.", "hello there friend", None),
//! ]);
//! assert_eq!(out[0].verdict, Verdict::Kept);
//! assert_eq!(out[1].verdict, Verdict::Rejected);
//! assert_eq!(out[1].reason.as_deref(), Some(format!("exact duplicate of {}", out[0].id).as_str()));
//! assert_eq!(curator.stats().rejected_by["exact_duplicate"], 1);
//! # Ok::<(), autodidact_curate::CurateError>(())
//! ```
//!
//! The building blocks are public: [`normalize`] (normal form and words), [`hash`] (the fast
//! seeded 64-bit hash), [`minhash`] (signatures), [`lsh`] (banding index), [`unionfind`]
//! (clusters), [`decontaminate`] (evaluation n-gram sets) and [`select`] (diversity-aware
//! selection under a budget).

#![deny(missing_docs)]

mod config;
mod curator;
pub mod decontaminate;
mod error;
pub mod hash;
pub mod lsh;
pub mod minhash;
pub mod normalize;
pub mod select;
pub mod unionfind;

pub use config::{CurateConfig, DedupField, NearDupConfig, Selection};
pub use curator::{CurateStats, Curator, Decisions};
pub use error::CurateError;
