//! The run configuration: one TOML file, every table owned by the component it configures.
//!
//! Unknown keys and bad values are errors that name the file, the key and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use autodidact_curate::CurateConfig;
use autodidact_models::ModelConfig;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The version of the configuration format this build reads.
pub const CONFIG_VERSION: u32 = 1;

/// A whole run configuration (`run.toml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[run]`: generations, seed.
    #[serde(default)]
    pub run: RunConfig,
    /// `[models.NAME]`: every model the run may use, by name.
    #[serde(default)]
    pub models: BTreeMap<String, ModelConfig>,
    /// `[generate]`: what to write.
    pub generate: GenerateConfig,
    /// `[grade]`: how it is graded.
    #[serde(default)]
    pub grade: GradeConfig,
    /// `[curate]`: what survives.
    #[serde(default)]
    pub curate: CurateConfig,
}

/// `[run]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Format version of this file (1).
    pub version: u32,
    /// Passes of the loop.
    pub generations: u32,
    /// Seed of every random choice and of the requests' `seed` parameter.
    pub seed: u64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig { version: CONFIG_VERSION, generations: 1, seed: 42 }
    }
}

/// The tasks: what the writer is asked to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKind {
    /// Topics → essays or theses.
    Essay,
    /// Seed instructions → new instructions → responses.
    SelfInstruct,
    /// Documents → questions and answers grounded in them.
    QaFromDocs,
    /// Programming problems → Python solutions (and tests, when the problem gives none),
    /// checked by running them (`[grade] verify = "code"`).
    Code,
}

impl TaskKind {
    /// The name used in configs and records.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Essay => "essay",
            TaskKind::SelfInstruct => "self-instruct",
            TaskKind::QaFromDocs => "qa-from-docs",
            TaskKind::Code => "code",
        }
    }
}

/// For `essay`: essays, theses, or both in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EssayKind {
    /// A short essay on the topic.
    #[default]
    Essay,
    /// A thesis statement with its argument.
    Thesis,
    /// Essays and theses alternately.
    Mixed,
}

/// `[generate]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateConfig {
    /// `essay`, `self-instruct` or `qa-from-docs`.
    pub task: TaskKind,
    /// Which `[models.*]` writes (default `writer`).
    #[serde(default = "default_writer")]
    pub writer: String,
    /// Seed file (JSONL or text), relative to the config file. Default: the task's built-in seeds
    /// (`qa-from-docs` needs documents, so it has none).
    #[serde(default)]
    pub seeds: Option<PathBuf>,
    /// The field of a JSONL seed object that holds the seed text (default: the task's usual
    /// field, e.g. `topic`, `instruction`, `document`, then `text`).
    #[serde(default)]
    pub seed_field: Option<String>,
    /// At most this many seeds are used (default: all).
    #[serde(default)]
    pub max_seeds: Option<usize>,
    /// Samples written per seed and generation (`n` of the request).
    #[serde(default = "default_per_seed")]
    pub per_seed: u32,
    /// Sampling temperature of the writer.
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// Token limit of each answer.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// `essay` only: essays, theses or mixed.
    #[serde(default)]
    pub kind: EssayKind,
    /// `self-instruct` only: new instructions asked for per generation (default: one per seed).
    #[serde(default)]
    pub instructions: Option<usize>,
    /// `self-instruct` only: example instructions shown in each request.
    #[serde(default = "default_examples")]
    pub examples: usize,
    /// Prompt templates overriding the built-in ones, by name (`essay`, `thesis`,
    /// `instruction`, `response`, `qa`, `judge`, `revise`, `claim`, `sample`): Jinja files relative
    /// to the config.
    #[serde(default)]
    pub templates: BTreeMap<String, PathBuf>,
}

fn default_writer() -> String {
    "writer".into()
}
fn default_per_seed() -> u32 {
    2
}
fn default_temperature() -> f64 {
    0.8
}
fn default_max_tokens() -> u32 {
    1024
}
fn default_examples() -> usize {
    3
}

/// `[grade]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradeConfig {
    /// The judge: a `[models.*]` name, or `writer` for self-grading. `None`: no grading.
    pub judge: Option<String>,
    /// Rubric file (TOML), relative to the config. Default: the task's built-in rubric.
    pub rubric: Option<PathBuf>,
    /// Judge temperature.
    pub temperature: f64,
    /// Token limit of the judge's answer.
    pub max_tokens: u32,
    /// Rewrite what grades low, then grade again.
    pub revise: Option<ReviseConfig>,
    /// Hallucination guard: every claim of a record with a context checked against it.
    pub grounding: Option<GroundingGuard>,
    /// Hallucination guard: the response against further samples of the same prompt.
    pub consistency: Option<ConsistencyGuard>,
    /// Hallucination guard: executable verification (`math`, or `code`: the answer's Python
    /// run against its tests in the sandbox).
    pub verify: Option<VerifyKind>,
    /// `[grade.sandbox]`: the limits and isolation of `verify = "code"` runs (wall and CPU
    /// time, memory, processes, output; see `autodidact-sandbox`).
    pub sandbox: autodidact_sandbox::SandboxConfig,
    /// How the guards' grades decide: `any` (default: a record failing any guard is
    /// rejected, naming the guard) or `weighted` (the record's score becomes the weighted mean
    /// of the judge's and the guards' grades, and `[curate] min_score` decides).
    pub policy: Policy,
    /// Weights of `policy = "weighted"`, by grader (`judge`, `grounding`, `consistency`,
    /// `verifier`); a grader not named weighs 1.
    pub weights: BTreeMap<String, f64>,
}

impl GradeConfig {
    /// Whether any hallucination guard (grounding, consistency, verify) is configured.
    pub fn has_guards(&self) -> bool {
        self.grounding.is_some() || self.consistency.is_some() || self.verify.is_some()
    }
}

impl Default for GradeConfig {
    fn default() -> Self {
        GradeConfig {
            judge: None,
            rubric: None,
            temperature: 0.0,
            max_tokens: 512,
            revise: None,
            grounding: None,
            consistency: None,
            verify: None,
            sandbox: autodidact_sandbox::SandboxConfig::default(),
            policy: Policy::Any,
            weights: BTreeMap::new(),
        }
    }
}

/// `[grade] grounding = { min = 1.0, judge = false }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroundingGuard {
    /// The share of supported claims a record needs. Default 1 (every claim).
    pub min: f64,
    /// Also ask the judge model, claim by claim, whether the context supports it (structured
    /// output: supported / contradicted / not in the context); a claim then counts as
    /// supported only when both the fast check and the judge say so. Default false.
    pub judge: bool,
}

impl Default for GroundingGuard {
    fn default() -> Self {
        GroundingGuard { min: 1.0, judge: false }
    }
}

/// `[grade] consistency = { samples = 3, min = 0.5 }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsistencyGuard {
    /// Further samples asked of the writer per record (one request with `n`). Default 3.
    pub samples: u32,
    /// The support a record needs: for short answers (12 words or fewer, or `verify =
    /// "math"`), the share of samples giving the same final answer; otherwise the n-gram
    /// support of its least supported sentence. Default 0.5.
    pub min: f64,
    /// Sampling temperature (default: `[generate] temperature`).
    pub temperature: Option<f64>,
}

impl Default for ConsistencyGuard {
    fn default() -> Self {
        ConsistencyGuard { samples: 3, min: 0.5, temperature: None }
    }
}

/// `[grade] verify`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum VerifyKind {
    /// Worked solutions: every equation recomputed, the final answer from the work.
    Math,
    /// Code answers: the solution run against the task's tests, or else the answer's own, in
    /// the sandbox (`[grade.sandbox]`).
    Code,
}

/// `[grade] policy`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Reject a record that fails any guard.
    #[default]
    Any,
    /// The weighted mean of all grades becomes the score.
    Weighted,
}

/// `[grade] revise = { rounds = 2, below = 0.7 }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviseConfig {
    /// At most this many rewrites of one record.
    pub rounds: u32,
    /// Records whose score is below this are rewritten.
    pub below: f64,
}

impl Default for ReviseConfig {
    fn default() -> Self {
        ReviseConfig { rounds: 1, below: 0.7 }
    }
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        let mut cfg = Config::parse(&text, path)?;
        cfg.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        Ok(cfg)
    }

    /// Parses and checks configuration text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of_offset(text, s.start));
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                message: e.message().trim().to_string(),
            }
        })?;
        cfg.validate(text, path)?;
        Ok(cfg)
    }

    /// Makes relative file paths relative to the config file's folder.
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(p) = self.generate.seeds.as_mut() {
            fix(p);
        }
        for p in self.generate.templates.values_mut() {
            fix(p);
        }
        if let Some(p) = self.grade.rubric.as_mut() {
            fix(p);
        }
        for p in self.curate.decontaminate.iter_mut().chain(self.curate.remember.iter_mut()) {
            fix(p);
        }
    }

    /// Checks what serde cannot: references between tables, ranges.
    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let bad = |table: &str, key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: format!("{table}.{key}"),
            line: line_of_key(text, table, key),
            message,
        };
        if self.run.version != CONFIG_VERSION {
            return Err(bad(
                "run",
                "version",
                format!("unknown version {}; this build reads version {CONFIG_VERSION}", self.run.version),
            ));
        }
        if self.run.generations == 0 {
            return Err(bad("run", "generations", "must be at least 1".into()));
        }
        if !self.models.contains_key(&self.generate.writer) {
            return Err(bad(
                "generate",
                "writer",
                format!(
                    "no model named '{}' (define [models.{}]); defined: {}",
                    self.generate.writer,
                    self.generate.writer,
                    self.model_names()
                ),
            ));
        }
        if let Some(judge) = &self.grade.judge
            && judge != "writer" && !self.models.contains_key(judge) {
                return Err(bad(
                    "grade",
                    "judge",
                    format!("no model named '{judge}'; use \"writer\" for self-grading or one of: {}", self.model_names()),
                ));
            }
        if self.generate.per_seed == 0 {
            return Err(bad("generate", "per_seed", "must be at least 1".into()));
        }
        if !(0.0..=2.0).contains(&self.generate.temperature) {
            return Err(bad("generate", "temperature", "must be between 0 and 2".into()));
        }
        if self.generate.task == TaskKind::QaFromDocs && self.generate.seeds.is_none() {
            return Err(bad("generate", "seeds", "qa-from-docs needs documents: set seeds = \"docs.jsonl\"".into()));
        }
        for name in self.generate.templates.keys() {
            if !crate::tasks::TEMPLATE_NAMES.contains(&name.as_str()) {
                return Err(bad(
                    "generate.templates",
                    name,
                    format!("unknown template '{name}'; known: {}", crate::tasks::TEMPLATE_NAMES.join(", ")),
                ));
            }
        }
        if let Some(g) = &self.grade.grounding
            && !(0.0..=1.0).contains(&g.min)
        {
            return Err(bad("grade", "grounding", format!("min must be between 0 and 1, got {}", g.min)));
        }
        if let Some(g) = &self.grade.grounding
            && g.judge
            && self.grade.judge.is_none()
        {
            return Err(bad("grade", "grounding", "judge = true needs a judge: set [grade] judge = \"writer\"".into()));
        }
        if let Some(c) = &self.grade.consistency {
            if c.samples == 0 || c.samples > 32 {
                return Err(bad("grade", "consistency", format!("samples must be between 1 and 32, got {}", c.samples)));
            }
            if !(0.0..=1.0).contains(&c.min) {
                return Err(bad("grade", "consistency", format!("min must be between 0 and 1, got {}", c.min)));
            }
        }
        for (name, w) in &self.grade.weights {
            if !["judge", "grounding", "consistency", "verifier"].contains(&name.as_str()) {
                return Err(bad("grade", "weights", format!("unknown grader {name:?}: expected judge, grounding, consistency or verifier")));
            }
            if !(w.is_finite() && *w >= 0.0) {
                return Err(bad("grade", "weights", format!("{name} must be a number of at least 0, got {w}")));
            }
        }
        if let Some(r) = &self.grade.revise {
            if self.grade.judge.is_none() {
                return Err(bad("grade", "revise", "revising needs a judge: set judge = \"writer\"".into()));
            }
            if !(0.0..=1.0).contains(&r.below) {
                return Err(bad("grade", "revise", "below must be between 0 and 1".into()));
            }
        }
        for (name, m) in &self.models {
            m.validate().map_err(|e| bad("models", name, e.to_string()))?;
        }
        self.curate.validate().map_err(|e| {
            let key = e.key().map(|k| k.split('.').next().unwrap_or(k).to_string()).unwrap_or_default();
            bad("curate", &key, e.to_string())
        })?;
        Ok(())
    }

    fn model_names(&self) -> String {
        if self.models.is_empty() {
            return "none".into();
        }
        self.models.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// The judge's model name, with `writer` resolved.
    pub fn judge_model(&self) -> Option<&str> {
        self.grade.judge.as_deref().map(|j| if j == "writer" { self.generate.writer.as_str() } else { j })
    }

    /// The configuration as TOML, as it will run (written to the run directory).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a config always serializes")
    }
}

/// 1-based line of a byte offset.
pub(crate) fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// The line where `key` is set inside `[table]` (or as `table.key` / an inline table), if found.
pub(crate) fn line_of_key(text: &str, table: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    let mut table_line = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            current = line.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            if current == table || (key.is_empty() && current.starts_with(&format!("{table}."))) {
                table_line.get_or_insert(i + 1);
            }
            if !key.is_empty() && current == format!("{table}.{key}") {
                return Some(i + 1);
            }
            continue;
        }
        if current == table && !key.is_empty() {
            let k = line.split('=').next().unwrap_or("").trim().trim_matches('"');
            if k == key {
                return Some(i + 1);
            }
        }
    }
    table_line
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[models.writer]
backend = "openai"
base_url = "http://127.0.0.1:8000/v1"
model = "m"

[generate]
task = "essay"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("run.toml"))
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let cfg = parse(MINIMAL).unwrap();
        assert_eq!(cfg.run.generations, 1);
        assert_eq!(cfg.generate.writer, "writer");
        assert_eq!(cfg.generate.task, TaskKind::Essay);
        assert!(cfg.grade.judge.is_none());
    }

    #[test]
    fn config_round_trips_through_toml() {
        let text = format!("{MINIMAL}\n[grade]\njudge = \"writer\"\nrevise = {{ rounds = 2, below = 0.6 }}\n");
        let cfg = parse(&text).unwrap();
        let again = parse(&cfg.to_toml()).unwrap();
        assert_eq!(cfg.to_toml(), again.to_toml());
        assert_eq!(again.grade.revise.unwrap().rounds, 2);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let text = "[run]\ngenrations = 3\n".to_string() + MINIMAL;
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("genrations"), "{err}");
        assert!(err.contains("run.toml"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn bad_value_names_line() {
        let text = MINIMAL.replace("task = \"essay\"", "task = \"poem\"");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("poem"), "{err}");
        assert!(err.contains("line 8"), "{err}");
    }

    #[test]
    fn missing_judge_model_names_key_and_line() {
        let text = format!("{MINIMAL}\n[grade]\njudge = \"critic\"\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("grade.judge"), "{err}");
        assert!(err.contains("critic"), "{err}");
        assert!(err.contains("line 11"), "{err}");
    }

    #[test]
    fn line_of_key_finds_keys_and_tables() {
        let text = "[a]\nx = 1\n[b.c]\ny = 2\n";
        assert_eq!(line_of_key(text, "a", "x"), Some(2));
        assert_eq!(line_of_key(text, "b.c", "y"), Some(4));
        assert_eq!(line_of_key(text, "b", "c"), Some(3));
        assert_eq!(line_of_key(text, "a", "zz"), Some(1));
    }
}
