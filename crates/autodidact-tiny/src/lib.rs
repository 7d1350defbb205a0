//! The self-learning loop on the embedded model, in-process and without a network: the
//! built-in default run of autodidact (`autodidact run` without a configuration).
//!
//! A tiny transformer ([`autodidact_nn`]) learns addition from labelled problems of up to
//! L0 digits (generation 0). Each later generation, the model of each **arm** answers
//! unlabelled problems one digit longer than any it has seen (the easy-to-hard curriculum of
//! Lee et al. 2025), grades its own answers, keeps some, and is fine-tuned on real plus kept
//! data. The arms differ only in what they keep: `unguarded` everything, `self-graded` what
//! k of its own answers agree on, looks plausible and agrees with its own answers to the
//! problem's shorter parts (never the truth), `oracle` what the true sum confirms
//! (the ceiling; it needs the truth, which a real task does not have). Every generation is
//! measured against the truth: accuracy by length on held-out problems, and the error rate,
//! precision and recall of what each arm kept.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use autodidact_tiny::{ArithmeticConfig, run};
//! use autodidact_pipeline::NoProgress;
//! # fn main() -> Result<(), autodidact_tiny::TinyError> {
//! let summary = run(&ArithmeticConfig::small(), "runs/small".as_ref(), &NoProgress, &AtomicBool::new(false))?;
//! println!("{}", summary.findings.self_graded_lengths_at_90);
//! # Ok(()) }
//! ```
//!
//! Modules, in the order data flows: [`config`], [`arithmetic`] (the format and problems),
//! [`grade`] (answering and the graders: consistency, plausibility, decomposition, oracle), [`train`] (the
//! mix and fine-tuning), [`eval`] (accuracy by length), [`run`](mod@run) (the loop, the run
//! directory, resume), [`summary`] and [`report`].
#![deny(missing_docs)]

pub mod arithmetic;
pub mod collapse;
pub mod config;
mod error;
pub mod eval;
pub mod grade;
pub mod report;
pub mod run;
mod rundir;
pub mod summary;
pub mod train;

pub use config::{ArithmeticConfig, Arm};
pub use error::TinyError;
pub use run::run;
pub use summary::Summary;
