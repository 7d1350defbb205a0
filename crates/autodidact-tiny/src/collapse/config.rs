//! The configuration of a collapse run: one TOML document. [`CollapseConfig::default`] is the
//! built-in scenario `collapse-text`, [`CollapseConfig::small`] the profile the test suite runs.
//!
//! ```toml
//! [run]
//! task = "collapse-text"
//! seed = 42
//! generations = 5             # after generation 0, which trains on real text
//! arms = ["replace", "accumulate", "curated"]
//!
//! [text]
//! path = "../shared/data/tinyshakespeare.txt"   # relative to this file's folder
//! block_chars = 10000         # the text is cut into blocks of this many characters...
//! held_out_every = 10         # ...and every 10th block is held out, never trained on
//! train_chars = 300000        # real characters generation 0 trains on; every generation
//!                             # samples this many characters of synthetic text
//! temperature = 1.0
//!
//! [model]
//! d_model = 64
//!
//! [train]
//! steps = 1500                # every generation, from scratch
//!
//! [curate]                    # the curated arm only
//! real_fraction = 0.5
//!
//! [monitor.stop]              # see autodidact_monitor::MonitorConfig
//! real_loss_rise = 0.1
//! ```

use std::path::{Path, PathBuf};

use autodidact_monitor::MonitorConfig;
use serde::{Deserialize, Serialize};

use crate::TinyError;
use crate::config::{ModelSection, from_toml, has_task, read_config};

/// The task name in `[run] task`.
pub const TASK: &str = "collapse-text";

/// A whole collapse run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollapseConfig {
    /// `[run]`.
    pub run: RunSection,
    /// `[text]`: the real text and its split.
    #[serde(default)]
    pub text: TextSection,
    /// `[model]`: the embedded transformer (character-level).
    #[serde(default = "default_model")]
    pub model: ModelSection,
    /// `[train]`.
    #[serde(default)]
    pub train: TrainSection,
    /// `[curate]`: what the `curated` arm does to synthetic text.
    #[serde(default)]
    pub curate: CurateSection,
    /// `[monitor]`: the collapse monitor's warn and stop thresholds.
    #[serde(default)]
    pub monitor: MonitorConfig,
}

/// `[run]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSection {
    /// Must be `"collapse-text"`.
    pub task: String,
    /// Seed of everything: initialisation, batches, sampling.
    pub seed: u64,
    /// Generations after generation 0 (the model trained on real text).
    pub generations: usize,
    /// The arms, side by side from the same generation-0 model and its samples.
    pub arms: Vec<CollapseArm>,
}

/// One arm: what each generation trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CollapseArm {
    /// Only the previous generation's samples (Shumailov et al. 2024).
    Replace,
    /// The real text plus every generation's samples so far (Gerstgrasser et al. 2024).
    Accumulate,
    /// Like `accumulate`, with the synthetic text curated and a fixed real share of each batch.
    Curated,
}

impl CollapseArm {
    /// Every arm, in report order.
    pub const ALL: [CollapseArm; 3] = [CollapseArm::Replace, CollapseArm::Accumulate, CollapseArm::Curated];

    /// The arm's name as in configs, folders and reports.
    pub fn name(self) -> &'static str {
        match self {
            CollapseArm::Replace => "replace",
            CollapseArm::Accumulate => "accumulate",
            CollapseArm::Curated => "curated",
        }
    }
}

/// `[text]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextSection {
    /// The real text (UTF-8). A relative path is taken from the config file's folder (from the
    /// working directory for the built-in scenarios).
    pub path: PathBuf,
    /// Size of the contiguous blocks the text is cut into, in characters.
    pub block_chars: usize,
    /// Every this-many-th block (the 10th, 20th, ...) is held-out real text, never trained on.
    pub held_out_every: usize,
    /// Real characters generation 0 trains on (the first blocks of the training split); every
    /// generation samples this many characters of synthetic text from its model.
    pub train_chars: usize,
    /// Sampling temperature.
    pub temperature: f32,
    /// Held-out windows (of `model.max_seq_len + 1` characters) the real loss is measured on.
    pub eval_windows: usize,
}

/// `[train]`: every generation trains from scratch with the same budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSection {
    /// Steps per generation.
    pub steps: usize,
    /// Sequences per step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Final learning rate (cosine).
    pub min_lr: f64,
    /// Warm-up steps.
    pub warmup_steps: usize,
}

/// `[curate]`: the `curated` arm's treatment of synthetic text, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CurateSection {
    /// Share of every training batch drawn from the real text (the rest from curated
    /// synthetic text).
    pub real_fraction: f64,
    /// Quality: the share of samples with the lowest loss under the model that wrote them
    /// (the most predictable: loops and stock phrases) that is dropped.
    pub drop_lowest_loss: f64,
    /// Quality: the share with the highest own loss (garbled text) that is dropped.
    pub drop_highest_loss: f64,
    /// Largest share of a sample's word 3-grams that may repeat an earlier one of it.
    pub max_repetition: f64,
    /// Estimated Jaccard similarity (word 3-gram shingles, MinHash) at which two samples,
    /// or a sample and one kept before, are near duplicates; the later one is dropped.
    pub near_duplicate_threshold: f64,
    /// Diversity: of what is left, this share is kept, chosen greedily to cover the most
    /// character 4-grams not yet covered.
    pub select: f64,
}

impl Default for RunSection {
    fn default() -> Self {
        Self {
            task: TASK.into(),
            seed: 42,
            generations: 5,
            arms: CollapseArm::ALL.to_vec(),
        }
    }
}

impl Default for TextSection {
    fn default() -> Self {
        Self {
            path: PathBuf::from("../shared/data/tinyshakespeare.txt"),
            block_chars: 10_000,
            held_out_every: 10,
            train_chars: 300_000,
            temperature: 1.0,
            eval_windows: 512,
        }
    }
}

fn default_model() -> ModelSection {
    ModelSection {
        d_model: 64,
        n_layers: 4,
        n_heads: 4,
        d_ff: 256,
        max_seq_len: 64,
    }
}

impl Default for TrainSection {
    fn default() -> Self {
        Self {
            steps: 1500,
            batch_size: 32,
            lr: 3e-3,
            min_lr: 3e-4,
            warmup_steps: 50,
        }
    }
}

impl Default for CurateSection {
    fn default() -> Self {
        Self {
            real_fraction: 0.5,
            drop_lowest_loss: 0.1,
            drop_highest_loss: 0.05,
            max_repetition: 0.3,
            near_duplicate_threshold: 0.8,
            select: 0.8,
        }
    }
}

impl Default for CollapseConfig {
    /// The built-in scenario `collapse-text`.
    fn default() -> Self {
        Self {
            run: RunSection::default(),
            text: TextSection::default(),
            model: default_model(),
            train: TrainSection::default(),
            curate: CurateSection::default(),
            monitor: MonitorConfig::default(),
        }
    }
}

impl CollapseConfig {
    /// The small profile: the whole loop in seconds, for tests. Its figures show that
    /// everything is computed, not that collapse happens.
    pub fn small() -> Self {
        let mut cfg = Self::default();
        cfg.run.generations = 2;
        cfg.text.train_chars = 12_000;
        cfg.text.eval_windows = 64;
        cfg.model = ModelSection {
            d_model: 32,
            n_layers: 2,
            n_heads: 2,
            d_ff: 64,
            max_seq_len: 32,
        };
        cfg.train.steps = 300;
        cfg.train.batch_size = 16;
        cfg.train.warmup_steps = 10;
        cfg
    }

    /// A built-in profile by name: `collapse-text` or `collapse-text-small`.
    pub fn profile(name: &str) -> Option<Self> {
        match name {
            "collapse-text" => Some(Self::default()),
            "collapse-text-small" => Some(Self::small()),
            _ => None,
        }
    }

    /// Names of the built-in profiles.
    pub const PROFILES: [&'static str; 2] = ["collapse-text", "collapse-text-small"];

    /// Reads and checks a config file; errors name the file, and the key and line. A relative
    /// `text.path` is resolved against the file's folder.
    pub fn load(path: &Path) -> Result<Self, TinyError> {
        Self::parse(&read_config(path)?, path)
    }

    /// Parses and checks config text read from `path` (for messages and `text.path`).
    pub fn parse(text: &str, path: &Path) -> Result<Self, TinyError> {
        let mut cfg: Self = from_toml(text, path)?;
        if cfg.text.path.is_relative() {
            let dir = path.parent().unwrap_or(Path::new(""));
            cfg.text.path = dir.join(&cfg.text.path);
        }
        cfg.validate().map_err(|message| TinyError::Config {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(cfg)
    }

    /// Whether TOML text is a collapse config (its `[run] task` says so).
    pub fn is_collapse(text: &str) -> bool {
        has_task(text, TASK)
    }

    /// The config as TOML (the run directory's `config.toml`).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a collapse config serializes")
    }

    /// The shape of the embedded model for a vocabulary of `vocab_size` characters.
    pub fn nn_config(&self, vocab_size: usize) -> autodidact_nn::Config {
        let m = &self.model;
        autodidact_nn::Config::new(vocab_size, m.d_model, m.n_layers, m.n_heads, m.d_ff, m.max_seq_len)
    }

    /// Checks every value; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.run.task != TASK {
            return Err(format!("key `run.task`: is \"{}\", expected \"{TASK}\"", self.run.task));
        }
        if self.run.arms.is_empty() {
            return Err("key `run.arms`: name at least one arm".into());
        }
        let mut arms = self.run.arms.clone();
        arms.sort();
        arms.dedup();
        if arms.len() != self.run.arms.len() {
            return Err("key `run.arms`: an arm is named twice".into());
        }
        for (key, v) in [
            ("run.generations", self.run.generations),
            ("text.block_chars", self.text.block_chars),
            ("text.train_chars", self.text.train_chars),
            ("text.eval_windows", self.text.eval_windows),
            ("train.steps", self.train.steps),
            ("train.batch_size", self.train.batch_size),
        ] {
            if v == 0 {
                return Err(format!("key `{key}`: must be at least 1"));
            }
        }
        if self.text.held_out_every < 2 {
            return Err(format!(
                "key `text.held_out_every`: must be at least 2 (every block would be held out), got {}",
                self.text.held_out_every
            ));
        }
        if !(self.text.temperature.is_finite() && self.text.temperature > 0.0) {
            return Err(format!("key `text.temperature`: must be a positive number, got {}", self.text.temperature));
        }
        for (key, v) in [("train.lr", self.train.lr), ("train.min_lr", self.train.min_lr)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("key `{key}`: must be a positive number, got {v}"));
            }
        }
        let c = &self.curate;
        for (key, v, top) in [
            ("curate.real_fraction", c.real_fraction, 1.0),
            ("curate.drop_lowest_loss", c.drop_lowest_loss, 0.5),
            ("curate.drop_highest_loss", c.drop_highest_loss, 0.5),
            ("curate.max_repetition", c.max_repetition, 1.0),
        ] {
            if !(0.0..=top).contains(&v) {
                return Err(format!("key `{key}`: must be in [0, {top}], got {v}"));
            }
        }
        for (key, v) in [("curate.near_duplicate_threshold", c.near_duplicate_threshold), ("curate.select", c.select)] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(format!("key `{key}`: must be in (0, 1], got {v}"));
            }
        }
        self.monitor.validate().map_err(|e| format!("in [monitor]: {e}"))?;
        if self.model.max_seq_len < 8 {
            return Err(format!("key `model.max_seq_len`: must be at least 8, got {}", self.model.max_seq_len));
        }
        self.nn_config(2).validate().map_err(|e| format!("in [model]: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_through_toml_and_validate() {
        for name in CollapseConfig::PROFILES {
            let cfg = CollapseConfig::profile(name).unwrap();
            cfg.validate().unwrap();
            let text = cfg.to_toml();
            assert!(CollapseConfig::is_collapse(&text));
            // Parsed from the working directory, the relative path stays as it was.
            assert_eq!(CollapseConfig::parse(&text, Path::new("x.toml")).unwrap(), cfg);
        }
    }

    #[test]
    fn errors_name_the_key_and_paths_are_relative_to_the_file() {
        let head = "[run]\ntask = \"collapse-text\"\n";
        let err = CollapseConfig::parse(&format!("{head}generashuns = 3\n"), Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.toml") && err.contains("generashuns") && err.contains("line 3"), "{err}");
        let err = CollapseConfig::parse(&format!("{head}[curate]\nreal_fraction = 1.5\n"), Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("curate.real_fraction"), "{err}");
        let err = CollapseConfig::parse(&format!("{head}[monitor.stop]\nkl_rise = -1\n"), Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("stop.kl_rise"), "{err}");
        let cfg = CollapseConfig::parse(&format!("{head}[text]\npath = \"t.txt\"\n"), Path::new("examples/c.toml")).unwrap();
        assert_eq!(cfg.text.path, Path::new("examples/t.txt"));
        assert!(!CollapseConfig::is_collapse("[run]\ntask = \"arithmetic\"\n"));
    }
}
