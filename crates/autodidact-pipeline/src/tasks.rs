//! Tasks: seeds in, prompts out. Prompt templates are Jinja (minijinja), compiled into the
//! binary and overridable from `[generate.templates]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::TaskKind;
use crate::error::PipelineError;

/// The names of the templates a config may override.
pub const TEMPLATE_NAMES: &[&str] = &["essay", "thesis", "instruction", "response", "qa", "judge", "revise", "claim", "sample"];

const BUILTIN_TEMPLATES: &[(&str, &str)] = &[
    ("essay", include_str!("../templates/essay.j2")),
    ("thesis", include_str!("../templates/thesis.j2")),
    ("instruction", include_str!("../templates/instruction.j2")),
    ("response", include_str!("../templates/response.j2")),
    ("qa", include_str!("../templates/qa.j2")),
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

/// One seed: a topic, an instruction, a document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seed {
    /// Content hash of the text (the `parent` of what is written from it).
    pub id: String,
    /// The seed text.
    pub text: String,
}

impl Seed {
    /// A seed with its id computed from its text.
    pub fn new(text: impl Into<String>) -> Seed {
        let text = text.into();
        let id = autodidact_data::Record::content_id(&text, "", None);
        Seed { id, text }
    }
}

/// The fields looked for in a JSONL seed object, in order, per task.
fn seed_fields(task: TaskKind) -> &'static [&'static str] {
    match task {
        TaskKind::Essay => &["topic", "thesis", "text", "prompt"],
        TaskKind::SelfInstruct => &["instruction", "prompt", "question", "text"],
        TaskKind::QaFromDocs => &["document", "context", "text", "passage", "content"],
    }
}

/// The built-in seeds of a task, if it has any.
pub fn builtin_seeds(task: TaskKind) -> Option<Vec<Seed>> {
    let text = match task {
        TaskKind::Essay => include_str!("../seeds/essay.txt"),
        TaskKind::SelfInstruct => include_str!("../seeds/self-instruct.txt"),
        TaskKind::QaFromDocs => return None,
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
                seeds.push(Seed::new(text.trim()));
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
    fn instructions_are_cleaned() {
        assert_eq!(clean_instruction("4. \"Write a poem.\""), "Write a poem.");
        assert_eq!(clean_instruction("Instruction: Do X"), "Do X");
        assert_eq!(clean_instruction("2024 was a year"), "2024 was a year");
    }
}
