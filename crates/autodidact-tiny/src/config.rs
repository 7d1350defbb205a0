//! The configuration of an arithmetic run: one TOML document; [`ArithmeticConfig::default`]
//! is the built-in default run (`autodidact run` without a file), [`ArithmeticConfig::small`]
//! the profile the test suite runs.
//!
//! ```toml
//! [run]
//! task = "arithmetic"
//! seed = 42
//! generations = 8
//! arms = ["unguarded", "self-graded", "oracle"]
//!
//! [arithmetic]
//! start_length = 5            # labelled (real) problems have operands of 1..=5 digits
//! real_problems = 20000
//! problems_per_generation = 10000
//! eval_problems = 200         # held-out problems per length, both operands that long
//! advance_at = 0.75           # move to the next length once the arm keeps this share of a check
//!
//! [model]                     # the embedded transformer
//! d_model = 64
//!
//! [train]
//! base_steps = 5000           # generation 0, from scratch on the real problems
//! steps = 700                 # each later generation, fine-tuning the previous model
//!
//! [grade]                     # the self-graded arm's filter
//! samples = 3
//! agreement = 0.6
//! decomposition = true        # its answers to blocks of L0 - 1 digits must compose to its answer
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::TinyError;

/// The task name in `[run] task`.
pub const TASK: &str = "arithmetic";

/// A whole arithmetic run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArithmeticConfig {
    /// `[run]`.
    pub run: RunSection,
    /// `[arithmetic]`: the task's data.
    #[serde(default)]
    pub arithmetic: TaskSection,
    /// `[model]`: the shape of the embedded transformer.
    #[serde(default)]
    pub model: ModelSection,
    /// `[train]`.
    #[serde(default)]
    pub train: TrainSection,
    /// `[grade]`: the self-graded arm's filter.
    #[serde(default)]
    pub grade: GradeSection,
}

/// `[run]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSection {
    /// Must be `"arithmetic"`.
    pub task: String,
    /// Seed of everything: data, initialisation, batches, sampling.
    pub seed: u64,
    /// Generations after generation 0 (the model trained on real data). Generation 1
    /// attempts problems of length `start_length + 1`; each later one the next length, or the
    /// same again when the arm's check held it back (`arithmetic.advance_at`).
    pub generations: usize,
    /// The arms, side by side from the same generation-0 model.
    pub arms: Vec<Arm>,
}

/// One arm of the experiment: what a generation keeps of its own answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arm {
    /// Keeps every own answer (greedy), as written.
    Unguarded,
    /// Keeps the majority of k own answers when they agree enough and look plausible.
    SelfGraded,
    /// Keeps an own answer (of as many as the self-graded arm gets) that the true sum
    /// confirms: the ceiling, not a method (it needs the truth).
    Oracle,
}

impl Arm {
    /// Every arm, in report order.
    pub const ALL: [Arm; 3] = [Arm::Unguarded, Arm::SelfGraded, Arm::Oracle];

    /// The arm's name as in configs, folders and reports.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Unguarded => "unguarded",
            Arm::SelfGraded => "self-graded",
            Arm::Oracle => "oracle",
        }
    }
}

/// `[arithmetic]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskSection {
    /// L0: the real, labelled problems have operands of 1..=L0 digits.
    pub start_length: usize,
    /// Number of real labelled problems (generation 0's data, kept in every mix).
    pub real_problems: usize,
    /// Unlabelled problems each generation attempts at its new length.
    pub problems_per_generation: usize,
    /// Held-out problems per length for evaluation (both operands that long); never trained on.
    pub eval_problems: usize,
    /// Largest random offset of position ids in training (see [`crate::arithmetic`]).
    pub max_offset: u32,
    /// The curriculum's gate. After training, an arm checks its new model on
    /// `check_problems` fresh problems of the length it just attempted (both operands that
    /// long, like the held-out problems), with its own grader
    /// (the self-graded arm without the truth); when it keeps at least this share, the next
    /// generation attempts one digit longer, otherwise the same length again with new
    /// problems. 0 advances every generation without a check.
    pub advance_at: f64,
    /// Problems of the check (see `advance_at`).
    pub check_problems: usize,
}

/// `[model]`: see [`autodidact_nn::Config`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSection {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Transformer blocks.
    pub n_layers: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Hidden width of the MLPs.
    pub d_ff: usize,
    /// Position ids and sequence length the model accepts.
    pub max_seq_len: usize,
}

/// `[train]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSection {
    /// Steps of generation 0, from scratch on the real problems.
    pub base_steps: usize,
    /// Steps of each later generation, fine-tuning the previous generation's model.
    pub steps: usize,
    /// Sequences per step; each draws a length uniformly among those in the mix, then a
    /// problem of that length.
    pub batch_size: usize,
    /// Peak learning rate of generation 0.
    pub lr: f64,
    /// Peak learning rate of the fine-tuning generations.
    pub finetune_lr: f64,
    /// Final learning rate of every cosine schedule.
    pub min_lr: f64,
    /// Warm-up steps of every schedule.
    pub warmup_steps: usize,
}

/// `[grade]`: the `self-graded` arm's filter, which never sees the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradeSection {
    /// k: answers per problem. The first two are greedy answers to `a+b` and to `b+a`; the
    /// rest are sampled at `temperature`, alternating the two orders.
    pub samples: usize,
    /// Temperature of the sampled answers.
    pub temperature: f32,
    /// Share of the k answers that must equal the majority answer for it to be kept.
    pub agreement: f64,
    /// Reject answers whose digit count is impossible for the problem's length (n or n + 1
    /// digits for length n, no leading zero).
    pub plausibility: bool,
    /// Reject answers that the model's own answers to the problem's blocks contradict: both
    /// operands cut into blocks of L0 − 1 digits, added block by block with the carries, each
    /// a problem of a length it learned from the real data (see
    /// [`crate::grade::decompose`]). The truth is not used.
    pub decomposition: bool,
}

impl Default for RunSection {
    fn default() -> Self {
        Self {
            task: TASK.into(),
            seed: 42,
            generations: 8,
            arms: Arm::ALL.to_vec(),
        }
    }
}

impl Default for TaskSection {
    fn default() -> Self {
        Self {
            start_length: 5,
            real_problems: 20_000,
            problems_per_generation: 10_000,
            eval_problems: 200,
            max_offset: 16,
            advance_at: 0.75,
            check_problems: 500,
        }
    }
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            d_model: 64,
            n_layers: 4,
            n_heads: 4,
            d_ff: 256,
            max_seq_len: 64,
        }
    }
}

impl Default for TrainSection {
    fn default() -> Self {
        Self {
            base_steps: 5_000,
            steps: 700,
            batch_size: 64,
            lr: 3e-3,
            finetune_lr: 1e-3,
            min_lr: 5e-5,
            warmup_steps: 50,
        }
    }
}

impl Default for GradeSection {
    fn default() -> Self {
        Self {
            samples: 3,
            temperature: 1.0,
            agreement: 0.6,
            plausibility: true,
            decomposition: true,
        }
    }
}

impl Default for ArithmeticConfig {
    /// The built-in default run.
    fn default() -> Self {
        Self {
            run: RunSection::default(),
            arithmetic: TaskSection::default(),
            model: ModelSection::default(),
            train: TrainSection::default(),
            grade: GradeSection::default(),
        }
    }
}

impl ArithmeticConfig {
    /// The small profile: the whole loop in well under a minute of CPU, for tests. Its
    /// figures show that everything is computed, not that the method works.
    pub fn small() -> Self {
        let mut cfg = Self::default();
        cfg.run.generations = 2;
        cfg.arithmetic = TaskSection {
            start_length: 3,
            real_problems: 3_000,
            problems_per_generation: 200,
            eval_problems: 40,
            max_offset: 4,
            advance_at: 0.75,
            check_problems: 40,
        };
        cfg.model = ModelSection {
            d_model: 32,
            n_layers: 2,
            n_heads: 2,
            d_ff: 64,
            max_seq_len: 24,
        };
        cfg.train = TrainSection {
            base_steps: 3_000,
            steps: 200,
            batch_size: 32,
            lr: 5e-3,
            finetune_lr: 2e-3,
            min_lr: 1e-4,
            warmup_steps: 50,
        };
        cfg.grade.samples = 3;
        cfg.grade.agreement = 0.6;
        cfg
    }

    /// A built-in profile by name: `arithmetic` (the default run) or `arithmetic-small`.
    pub fn profile(name: &str) -> Option<Self> {
        match name {
            "arithmetic" => Some(Self::default()),
            "arithmetic-small" => Some(Self::small()),
            _ => None,
        }
    }

    /// Names of the built-in profiles.
    pub const PROFILES: [&'static str; 2] = ["arithmetic", "arithmetic-small"];

    /// Reads and checks a config file; errors name the file, and the key and line.
    pub fn load(path: &Path) -> Result<Self, TinyError> {
        Self::parse(&read_config(path)?, path)
    }

    /// Parses and checks config text read from `path` (for messages).
    pub fn parse(text: &str, path: &Path) -> Result<Self, TinyError> {
        let cfg: Self = from_toml(text, path)?;
        cfg.validate().map_err(|message| TinyError::Config {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(cfg)
    }

    /// Whether TOML text is an arithmetic config (its `[run] task` says so).
    pub fn is_arithmetic(text: &str) -> bool {
        has_task(text, TASK)
    }

    /// The config as TOML (the run directory's `config.toml`).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("an arithmetic config serializes")
    }

    /// The longest problem length the run attempts.
    pub fn max_length(&self) -> usize {
        self.arithmetic.start_length + self.run.generations
    }

    /// The shape of the embedded model.
    pub fn nn_config(&self) -> autodidact_nn::Config {
        let m = &self.model;
        autodidact_nn::Config::new(
            crate::arithmetic::VOCAB_SIZE,
            m.d_model,
            m.n_layers,
            m.n_heads,
            m.d_ff,
            m.max_seq_len,
        )
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
        let positive = [
            ("arithmetic.start_length", self.arithmetic.start_length),
            ("arithmetic.real_problems", self.arithmetic.real_problems),
            ("arithmetic.problems_per_generation", self.arithmetic.problems_per_generation),
            ("arithmetic.eval_problems", self.arithmetic.eval_problems),
            ("train.base_steps", self.train.base_steps),
            ("train.batch_size", self.train.batch_size),
            ("grade.samples", self.grade.samples),
        ];
        for (key, v) in positive {
            if v == 0 {
                return Err(format!("key `{key}`: must be at least 1"));
            }
        }
        for (key, v) in [
            ("train.lr", self.train.lr),
            ("train.finetune_lr", self.train.finetune_lr),
            ("train.min_lr", self.train.min_lr),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("key `{key}`: must be a positive number, got {v}"));
            }
        }
        if !(0.0..=1.0).contains(&self.arithmetic.advance_at) {
            return Err(format!("key `arithmetic.advance_at`: must be in [0, 1], got {}", self.arithmetic.advance_at));
        }
        if self.arithmetic.advance_at > 0.0 && self.arithmetic.check_problems == 0 {
            return Err("key `arithmetic.check_problems`: must be at least 1 when `arithmetic.advance_at` is above 0".into());
        }
        if !(self.grade.agreement > 0.0 && self.grade.agreement <= 1.0) {
            return Err(format!("key `grade.agreement`: must be in (0, 1], got {}", self.grade.agreement));
        }
        if !(self.grade.temperature.is_finite() && self.grade.temperature > 0.0) {
            return Err(format!("key `grade.temperature`: must be a positive number, got {}", self.grade.temperature));
        }
        if self.grade.samples < 2 && self.run.arms.contains(&Arm::SelfGraded) {
            return Err("key `grade.samples`: consistency needs at least 2 answers".into());
        }
        self.nn_config().validate().map_err(|e| format!("in [model]: {e}"))?;
        // The longest sequence: two operands of n digits, `+`, `=`, n + 1 answer digits, `$`.
        let n = self.max_length();
        let longest = 3 * n + 4;
        if longest > self.model.max_seq_len + 1 {
            return Err(format!(
                "key `model.max_seq_len`: {} is too short for problems of length {n} ({longest} tokens); raise it or lower `run.generations`",
                self.model.max_seq_len
            ));
        }
        let top_position = self.arithmetic.max_offset as usize + n + 3;
        if top_position >= self.model.max_seq_len {
            return Err(format!(
                "key `arithmetic.max_offset`: {} + length {n} + 3 reaches position {top_position}, past `model.max_seq_len` {}",
                self.arithmetic.max_offset, self.model.max_seq_len
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_through_toml_and_validate() {
        for name in ArithmeticConfig::PROFILES {
            let cfg = ArithmeticConfig::profile(name).unwrap();
            cfg.validate().unwrap();
            let text = cfg.to_toml();
            assert!(ArithmeticConfig::is_arithmetic(&text));
            assert_eq!(ArithmeticConfig::parse(&text, Path::new("x.toml")).unwrap(), cfg);
        }
    }

    #[test]
    fn errors_name_the_key() {
        let err = ArithmeticConfig::parse("[run]\ntask = \"arithmetic\"\ngenerashuns = 3\n", Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.toml") && err.contains("generashuns") && err.contains("line 3"), "{err}");
        let err = ArithmeticConfig::parse("[run]\ntask = \"arithmetic\"\ngenerations = 40\n", Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("model.max_seq_len"), "{err}");
        let err = ArithmeticConfig::parse("[run]\ntask = \"arithmetic\"\n[grade]\nagreement = 1.5\n", Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("grade.agreement"), "{err}");
        assert!(!ArithmeticConfig::is_arithmetic("[run]\nseed = 1\n"));
    }
}

/// Reads a TOML config of type `T` from `text` (read from `path`): errors name the file, the
/// key and the line.
pub(crate) fn from_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, TinyError> {
    toml::from_str(text).map_err(|e| TinyError::Config {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })
}

/// Whether TOML text says `[run] task = "<task>"`.
pub(crate) fn has_task(text: &str, task: &str) -> bool {
    toml::from_str::<toml::Table>(text)
        .ok()
        .and_then(|t| t.get("run")?.get("task")?.as_str().map(|s| s == task))
        .unwrap_or(false)
}

/// Reads a config file's text; errors name the file.
pub(crate) fn read_config(path: &Path) -> Result<String, TinyError> {
    std::fs::read_to_string(path).map_err(|source| TinyError::Io {
        path: path.to_path_buf(),
        source,
    })
}
