//! Tasks: seeds in, prompts out. Prompt templates are Jinja (minijinja), compiled into the
//! binary and overridable from `[generate.templates]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::TaskKind;
use crate::error::PipelineError;

/// The names of the templates a config may override.
pub const TEMPLATE_NAMES: &[&str] = &["essay", "thesis", "instruction", "response", "qa", "code", "judge", "revise", "claim", "sample"];

const BUILTIN_TEMPLATES: &[(&str, &str)] = &[
    ("essay", include_str!("../templates/essay.j2")),
    ("thesis", include_str!("../templates/thesis.j2")),
    ("instruction", include_str!("../templates/instruction.j2")),
    ("response", include_str!("../templates/response.j2")),
    ("qa", include_str!("../templates/qa.j2")),
    ("code", include_str!("../templates/code.j2")),
    ("judge", include_str!("../templates/judge.j2")),
    ("revise", include_str!("../templates/revise.j2")),
    ("claim", include_str!("../templates/claim.j2")),
    ("sample", include_str!("../templates/sample.j2")),
];

/// The compiled prompt templates of a run.
pub struct Templates {
    env: minijinja::Environment<'static>,
    sources: BTreeMap<String, String>,
}

impl Templates {
    /// The built-in templates with the given files in place of some of them.
    pub fn load(overrides: &BTreeMap<String, PathBuf>) -> Result<Templates, PipelineError> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(false);
        let mut sources = BTreeMap::new();
        for (name, text) in BUILTIN_TEMPLATES {
            let (text, origin) = match overrides.get(*name) {
                Some(path) => {
                    let text = std::fs::read_to_string(path).map_err(|e| {
                        PipelineError::Input(format!("cannot read template '{}': {e}", path.display()))
                    })?;
                    (text, path.display().to_string())
                }
                None => (text.to_string(), format!("built-in template '{name}'")),
            };
            env.add_template_owned(name.to_string(), text.clone()).map_err(|e| template_error(&origin, &e))?;
            sources.insert(name.to_string(), origin);
        }
        Ok(Templates { env, sources })
    }

    /// Renders a template with the given context.
    pub fn render(&self, name: &str, ctx: impl Serialize) -> Result<String, PipelineError> {
        let tmpl = self.env.get_template(name).map_err(|e| template_error(name, &e))?;
        let origin = self.sources.get(name).map(String::as_str).unwrap_or(name);
        let out = tmpl.render(ctx).map_err(|e| template_error(origin, &e))?;
        Ok(out.trim().to_string())
    }
}

fn template_error(origin: &str, e: &minijinja::Error) -> PipelineError {
    let line = e.line().map(|l| format!(" line {l}")).unwrap_or_default();
    PipelineError::Input(format!("error in template {origin}{line}: {}", e.detail().unwrap_or(&e.to_string())))
}

/// One seed: a topic, an instruction, a document, a programming problem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seed {
    /// Content hash of the text (and tests) — the `parent` of what is written from it.
    pub id: String,
    /// The seed text.
    pub text: String,
    /// `code` only: the tests the task gives for this problem (a JSONL seed's `tests`, a
    /// string or a list of lines), which the solution must pass.
    pub tests: Option<String>,
}

impl Seed {
    /// A seed with its id computed from its text.
    pub fn new(text: impl Into<String>) -> Seed {
        let text = text.into();
        let id = autodidact_data::Record::content_id(&text, "", None);
        Seed { id, text, tests: None }
    }

    /// A programming problem with the tests its solution must pass.
    pub fn with_tests(text: impl Into<String>, tests: Option<String>) -> Seed {
        let text = text.into();
        let id = autodidact_data::Record::content_id(&text, "", tests.as_deref());
        Seed { id, text, tests }
    }
}

/// The fields looked for in a JSONL seed object, in order, per task.
fn seed_fields(task: TaskKind) -> &'static [&'static str] {
    match task {
        TaskKind::Essay => &["topic", "thesis", "text", "prompt"],
        TaskKind::SelfInstruct => &["instruction", "prompt", "question", "text"],
        TaskKind::QaFromDocs => &["document", "context", "text", "passage", "content"],
        TaskKind::Code => &["problem", "prompt", "instruction", "question", "text"],
    }
}

/// The built-in seeds of a task, if it has any.
pub fn builtin_seeds(task: TaskKind) -> Option<Vec<Seed>> {
    let text = match task {
        TaskKind::Essay => include_str!("../seeds/essay.txt"),
        TaskKind::SelfInstruct => include_str!("../seeds/self-instruct.txt"),
        TaskKind::QaFromDocs => return None,
        TaskKind::Code => {
            let mut seeds = Vec::new();
            for (i, line) in include_str!("../seeds/code.jsonl").lines().enumerate() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("built-in seeds/code.jsonl line {}: {e}", i + 1));
                let problem = v["problem"].as_str().expect("built-in code seeds have a problem");
                seeds.push(Seed::with_tests(problem, tests_of(&v)));
            }
            return Some(seeds);
        }
    };
    Some(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(Seed::new).collect())
}

/// Reads seeds: JSONL (one object or string a line) or plain text (one seed a line; for
/// `qa-from-docs`, one document per paragraph, paragraphs separated by blank lines).
pub fn read_seeds(path: &Path, task: TaskKind, field: Option<&str>) -> Result<Vec<Seed>, PipelineError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if matches!(ext.as_str(), "jsonl" | "json" | "ndjson") {
        let mut seeds = Vec::new();
        let values = autodidact_data::read_json_values(path)
            .map_err(|e| PipelineError::Input(e.to_string()))?;
        for item in values {
            let (line, value) = item.map_err(|e| PipelineError::Input(e.to_string()))?;
            let text = match &value {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Object(map) => {
                    let found = match field {
                        Some(f) => map.get(f),
                        None => seed_fields(task).iter().find_map(|f| map.get(*f)),
                    };
                    found.and_then(|v| v.as_str()).map(str::to_string)
                }
                _ => None,
            };
            if task == TaskKind::Code
                && let serde_json::Value::Object(map) = &value
                && let Some(t) = map.get("tests")
                && !(t.is_string() || t.as_array().is_some_and(|a| a.iter().all(|x| x.is_string())))
            {
                return Err(PipelineError::Input(format!(
                    "error reading '{}' line {line}: `tests` must be a string or a list of strings",
                    path.display()
                )));
            }
            let Some(text) = text else {
                let wanted = match field {
                    Some(f) => format!("'{f}'"),
                    None => seed_fields(task).iter().map(|f| format!("'{f}'")).collect::<Vec<_>>().join(", "),
                };
                return Err(PipelineError::Input(format!(
                    "error reading '{}' line {line}: no text field ({wanted}) in this seed; set [generate] seed_field",
                    path.display()
                )));
            };
            if !text.trim().is_empty() {
                seeds.push(match task {
                    TaskKind::Code => Seed::with_tests(text.trim(), tests_of(&value)),
                    _ => Seed::new(text.trim()),
                });
            }
        }
        Ok(seeds)
    } else {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PipelineError::Input(format!("cannot read seeds '{}': {e}", path.display())))?;
        let seeds = if task == TaskKind::QaFromDocs {
            text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).map(Seed::new).collect()
        } else {
            text.lines().map(str::trim).filter(|l| !l.is_empty()).map(Seed::new).collect()
        };
        Ok(seeds)
    }
}

/// The `tests` of a JSONL seed object: a string, or a list of lines joined.
fn tests_of(value: &serde_json::Value) -> Option<String> {
    let t = match value.get("tests")? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("\n"),
        _ => return None,
    };
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Cleans a model-written instruction: drops numbering, surrounding quotes and labels.
pub fn clean_instruction(text: &str) -> String {
    let mut t = text.trim();
    for label in ["New instruction:", "Instruction:", "new instruction:", "instruction:"] {
        if let Some(rest) = t.strip_prefix(label) {
            t = rest.trim();
        }
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && digits < 4 {
        let rest = &t[digits..];
        if let Some(rest) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(')')) {
            t = rest.trim();
        }
    }
    let t = t.trim_matches(|c| c == '"' || c == '\u{201c}' || c == '\u{201d}').trim();
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates_render() {
        let t = Templates::load(&BTreeMap::new()).unwrap();
        let essay = t.render("essay", minijinja::context! { topic => "Tea" }).unwrap();
        assert!(essay.contains("Topic: Tea"), "{essay}");
        let instr = t.render("instruction", minijinja::context! { examples => vec!["a", "b"] }).unwrap();
        assert!(instr.contains("1. a") && instr.contains("2. b"), "{instr}");
        let qa = t.render("qa", minijinja::context! { count => 1, document => "D" }).unwrap();
        assert!(qa.contains("1 question-and-answer pair about"), "{qa}");
    }

    #[test]
    fn missing_variable_is_an_error() {
        let t = Templates::load(&BTreeMap::new()).unwrap();
        let err = t.render("essay", minijinja::context! {}).unwrap_err().to_string();
        assert!(err.contains("essay"), "{err}");
    }

    #[test]
    fn override_with_syntax_error_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("essay.j2");
        std::fs::write(&path, "Line one\n{% if %}\n").unwrap();
        let overrides = BTreeMap::from([("essay".to_string(), path.clone())]);
        let err = Templates::load(&overrides).err().unwrap().to_string();
        assert!(err.contains("essay.j2") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn seeds_from_jsonl_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = dir.path().join("s.jsonl");
        std::fs::write(&jsonl, "{\"topic\": \"A\"}\n\"B\"\n{\"text\": \"C\"}\n").unwrap();
        let seeds = read_seeds(&jsonl, TaskKind::Essay, None).unwrap();
        assert_eq!(seeds.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(), ["A", "B", "C"]);
        std::fs::write(&jsonl, "{\"topic\": \"A\"}\n{\"other\": 1}\n").unwrap();
        let err = read_seeds(&jsonl, TaskKind::Essay, None).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("s.jsonl"), "{err}");
        let txt = dir.path().join("d.txt");
        std::fs::write(&txt, "para one\nstill one\n\npara two\n").unwrap();
        let docs = read_seeds(&txt, TaskKind::QaFromDocs, None).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(read_seeds(&txt, TaskKind::Essay, None).unwrap().len(), 3);
    }

    #[test]
    fn code_seeds_carry_their_tests() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = dir.path().join("p.jsonl");
        std::fs::write(
            &jsonl,
            "{\"problem\": \"Add.\", \"tests\": [\"assert add(1, 2) == 3\", \"assert add(0, 0) == 0\"]}\n{\"problem\": \"Sub.\"}\n",
        )
        .unwrap();
        let seeds = read_seeds(&jsonl, TaskKind::Code, None).unwrap();
        assert_eq!(seeds[0].tests.as_deref(), Some("assert add(1, 2) == 3\nassert add(0, 0) == 0"));
        assert_eq!(seeds[1].tests, None);
        // The tests are part of the seed's identity.
        assert_ne!(seeds[0].id, Seed::new("Add.").id);
        std::fs::write(&jsonl, "{\"problem\": \"Add.\", \"tests\": 3}\n").unwrap();
        let err = read_seeds(&jsonl, TaskKind::Code, None).unwrap_err().to_string();
        assert!(err.contains("p.jsonl' line 1") && err.contains("tests"), "{err}");
        let builtin = builtin_seeds(TaskKind::Code).unwrap();
        assert!(builtin.len() >= 8 && builtin.iter().any(|s| s.tests.is_some()) && builtin.iter().any(|s| s.tests.is_none()));
        let t = Templates::load(&BTreeMap::new()).unwrap();
        let with = t.render("code", minijinja::context! { problem => "P", tests => "assert f()" }).unwrap();
        assert!(with.contains("assert f()") && !with.contains("second"), "{with}");
        let without = t.render("code", minijinja::context! { problem => "P", tests => () }).unwrap();
        assert!(without.contains("second ```python block"), "{without}");
    }

    #[test]
    fn instructions_are_cleaned() {
        assert_eq!(clean_instruction("4. \"Write a poem.\""), "Write a poem.");
        assert_eq!(clean_instruction("Instruction: Do X"), "Do X");
        assert_eq!(clean_instruction("2024 was a year"), "2024 was a year");
    }
}
