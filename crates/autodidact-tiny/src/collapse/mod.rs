//! Model collapse on real text: a character-level model trained from scratch on real text,
//! then generation after generation on text sampled from the one before, in three arms side
//! by side — `replace` (only the previous samples, the setting of Shumailov et al. 2024),
//! `accumulate` (real text plus every sample so far, Gerstgrasser et al. 2024) and `curated`
//! (accumulate, with the samples curated and a fixed real share). The collapse monitor
//! ([`autodidact_monitor`]) measures every generation against held-out real text and stops an
//! arm that crosses a stop threshold.
//!
//! Modules, in the order data flows: [`config`], [`text`] (vocabulary, split, training,
//! sampling, held-out loss), [`curate`](mod@curate) (the curated arm's filter), [`run`](mod@run) (the
//! loop, the run directory, resume), [`summary`] and [`report`].

pub mod config;
pub mod curate;
pub mod report;
pub mod run;
pub mod summary;
pub mod text;

pub use config::{CollapseArm, CollapseConfig};
pub use run::run;
pub use summary::Summary;
