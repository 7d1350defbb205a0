//! The collapse monitor of autodidact: measures each generation's text against real text, and
//! turns thresholds into go / warn / stop.
//!
//! ```
//! use autodidact_monitor::{measure, MonitorConfig, Observation, Reference, Status};
//!
//! let reference = Reference::new(
//!     "Before we proceed any further, hear me speak. Speak, speak. \
//!      You are all resolved rather to die than to famish? Resolved. resolved.",
//! );
//! // Generation 0 writes like the real text; generation 5 loops.
//! let gen0 = ["You are all resolved rather to die than to famish?", "Before we proceed, hear me."];
//! let gen5 = ["speak speak speak speak speak speak speak", "speak speak speak speak speak"];
//! let base = Observation { real_loss: Some(2.06), text: measure(&reference, &gen0) };
//! let now = Observation { real_loss: Some(2.31), text: measure(&reference, &gen5) };
//! assert!(now.text.distinct[1] < base.text.distinct[1]);
//! assert!(now.text.kl_char[2] > base.text.kl_char[2]);
//!
//! let decision = MonitorConfig::default().decide(&base, &now);
//! assert_eq!(decision.status, Status::Stop);
//! assert_eq!(
//!     decision.reasons[0],
//!     "held-out real loss 2.31 bits/char is 12.1% above generation 0's 2.06 (stop at +10%)",
//! );
//! ```
//!
//! The flow: [`Reference::new`] profiles the real text once; [`measure`] turns one
//! generation's samples into [`TextMetrics`] (diversity, repetition, compression, KL
//! divergence from the real text, coverage of its rare n-grams); the caller adds its model's
//! held-out real loss to make an [`Observation`]; [`MonitorConfig::decide`] compares it with
//! generation 0's and returns a [`Decision`]. Measuring real held-out text cut like the
//! samples ([`excerpts`]) shows what an uncollapsed model would score.
//!
//! Everything is linear in the length of the text: a million characters measure in a fraction
//! of a second. Nothing here prints, reads files or knows about models.

#![deny(missing_docs)]

mod config;
mod decide;
mod excerpts;
mod hash;
mod metrics;
mod ngram;
mod reference;

pub use config::{MonitorConfig, MonitorError, Thresholds};
pub use decide::{Decision, Observation, Status};
pub use excerpts::excerpts;
pub use metrics::{GZIP_LEVEL, KL_ALPHA, TextMetrics, measure};
pub use reference::{Reference, TAIL_MASS};
