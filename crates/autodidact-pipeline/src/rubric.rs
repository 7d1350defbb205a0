//! Rubrics: the criteria a judge scores against, with weights, in TOML.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::TaskKind;
use crate::error::PipelineError;

/// A rubric: weighted criteria scored from 0 to `scale`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rubric {
    /// Format version (1).
    #[serde(default = "one")]
    pub version: u32,
    /// The top of the score scale (default 10).
    #[serde(default = "ten")]
    pub scale: f64,
    /// The criteria.
    pub criteria: Vec<Criterion>,
}

/// One criterion of a rubric.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Short name, used as the JSON key of its score.
    pub name: String,
    /// What it rewards, shown to the judge.
    pub description: String,
    /// Its weight in the grade (default 1).
    #[serde(default = "weight_one")]
    pub weight: f64,
}

fn one() -> u32 {
    1
}
fn ten() -> f64 {
    10.0
}
fn weight_one() -> f64 {
    1.0
}

impl Rubric {
    /// The built-in rubric of a task.
    pub fn builtin(task: TaskKind) -> Rubric {
        let text = match task {
            TaskKind::Essay => include_str!("../rubrics/essay.toml"),
            TaskKind::SelfInstruct => include_str!("../rubrics/self-instruct.toml"),
            TaskKind::QaFromDocs => include_str!("../rubrics/qa-from-docs.toml"),
            TaskKind::Code => include_str!("../rubrics/code.toml"),
        };
        Rubric::parse(text, Path::new(task.name())).expect("built-in rubrics are valid")
    }

    /// Reads a rubric file.
    pub fn load(path: &Path) -> Result<Rubric, PipelineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PipelineError::Input(format!("cannot read rubric '{}': {e}", path.display())))?;
        Rubric::parse(&text, path)
    }

    /// Parses rubric text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Rubric, PipelineError> {
        let rubric: Rubric = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| format!(" line {}", crate::config::line_of_offset(text, s.start))).unwrap_or_default();
            PipelineError::Input(format!("error in rubric '{}'{line}: {}", path.display(), e.message().trim()))
        })?;
        let bad = |m: String| PipelineError::Input(format!("error in rubric '{}': {m}", path.display()));
        if rubric.version != 1 {
            return Err(bad(format!("unknown version {}; this build reads version 1", rubric.version)));
        }
        if rubric.criteria.is_empty() {
            return Err(bad("no [[criteria]]".into()));
        }
        if !rubric.scale.is_finite() || rubric.scale <= 0.0 {
            return Err(bad("scale must be positive".into()));
        }
        let mut names = std::collections::HashSet::new();
        for c in &rubric.criteria {
            if c.name.trim().is_empty() || !names.insert(c.name.to_lowercase()) {
                return Err(bad(format!("criterion names must be unique and non-empty ('{}')", c.name)));
            }
            if !c.weight.is_finite() || c.weight < 0.0 {
                return Err(bad(format!("criterion '{}': weight must be zero or more", c.name)));
            }
        }
        if rubric.criteria.iter().map(|c| c.weight).sum::<f64>() <= 0.0 {
            return Err(bad("the weights sum to zero".into()));
        }
        Ok(rubric)
    }

    /// The JSON schema of a judge's answer, for `response_format`.
    pub fn response_format(&self) -> serde_json::Value {
        let props: serde_json::Map<String, serde_json::Value> = self
            .criteria
            .iter()
            .map(|c| (c.name.clone(), serde_json::json!({ "type": "number", "minimum": 0, "maximum": self.scale })))
            .collect();
        let names: Vec<&str> = self.criteria.iter().map(|c| c.name.as_str()).collect();
        serde_json::json!({
            "type": "json_schema",
            "json_schema": {
                "name": "judgement",
                "strict": true,
                "schema": {
                    "type": "object",
                    "properties": {
                        "scores": { "type": "object", "properties": props, "required": names, "additionalProperties": false },
                        "explanation": { "type": "string" }
                    },
                    "required": ["scores", "explanation"],
                    "additionalProperties": false
                }
            }
        })
    }

    /// The grade in `0..=1` of per-criterion scores: the weighted mean over `scale`.
    pub fn grade(&self, scores: &std::collections::BTreeMap<String, f64>) -> f64 {
        let mut sum = 0.0;
        let mut weights = 0.0;
        for c in &self.criteria {
            if let Some(s) = scores.get(&c.name) {
                sum += c.weight * s.clamp(0.0, self.scale);
                weights += c.weight;
            }
        }
        if weights == 0.0 { 0.0 } else { sum / weights / self.scale }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn builtin_rubrics_load() {
        for task in [TaskKind::Essay, TaskKind::SelfInstruct, TaskKind::QaFromDocs, TaskKind::Code] {
            let r = Rubric::builtin(task);
            assert!(r.criteria.len() >= 3);
        }
    }

    #[test]
    fn grade_is_weighted_mean_over_scale() {
        let r = Rubric::parse(
            "[[criteria]]\nname='a'\ndescription='x'\nweight=3\n[[criteria]]\nname='b'\ndescription='y'\n",
            Path::new("r.toml"),
        )
        .unwrap();
        let scores = BTreeMap::from([("a".to_string(), 10.0), ("b".to_string(), 2.0)]);
        assert!((r.grade(&scores) - 0.8).abs() < 1e-9);
        let over = BTreeMap::from([("a".to_string(), 14.0), ("b".to_string(), -1.0)]);
        assert!((r.grade(&over) - 0.75).abs() < 1e-9);
    }

    #[test]
    fn bad_rubric_names_file_and_line() {
        let err = Rubric::parse("[[criteria]]\nname='a'\ndescriptin='x'\n", Path::new("r.toml")).unwrap_err().to_string();
        assert!(err.contains("r.toml") && err.contains("line 3") && err.contains("descriptin"), "{err}");
        let err = Rubric::parse("criteria = []\n", Path::new("r.toml")).unwrap_err().to_string();
        assert!(err.contains("no [[criteria]]"), "{err}");
    }
}
