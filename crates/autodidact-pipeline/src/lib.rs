//! The autodidact pipeline: generate → grade → curate, generation after generation.
//!
//! ```no_run
//! # async fn demo() -> Result<(), autodidact_pipeline::PipelineError> {
//! use autodidact_pipeline::{Config, Context, build_models, open_run_dir, run};
//! let cfg = Config::load("run.toml".as_ref())?;
//! let cancel = tokio_util::sync::CancellationToken::new();
//! let store = open_run_dir(&cfg, "runs/demo".as_ref())?;
//! let cx = Context::new(store, build_models(&cfg, &cancel)?, cancel);
//! let summary = run(&cfg, &cx, "runs/demo".as_ref()).await?;
//! println!("kept {} records", summary.totals.kept);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod config;
pub mod context;
pub mod error;
pub mod generate;
pub mod grade;
pub mod guards;
pub mod judgement;
pub mod progress;
pub mod report;
pub mod rubric;
pub mod run;
pub mod tasks;

pub use config::Config;
pub use context::Context;
pub use error::{ConfigError, PipelineError};
pub use progress::{NoProgress, Progress, StageProgress};
pub use run::{Summary, build_models, open_run_dir, run};
