//! Exports for training: JSONL in the shapes fine-tuning tools read (TRL, Axolotl,
//! LLaMA-Factory, OpenAI-style fine-tuning).
//!
//! In every format a record's context comes first in the user turn: the prompt written is
//! `"{context}\n\n{prompt}"` when the record has a context, and `prompt` alone otherwise
//! ([`training_prompt`]). The model being trained must see the document it is to answer from.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;

use crate::jsonl::JsonlWriter;
use crate::{DataError, Record};

/// The shape of an exported line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// Chat SFT: `{"messages":[{"role":"user","content":…},{"role":"assistant","content":…}]}`.
    Messages,
    /// Plain SFT: `{"prompt":…,"completion":…}`.
    PromptCompletion,
    /// DPO pairs: `{"prompt":…,"chosen":…,"rejected":…,"score_chosen":…,"score_rejected":…}`;
    /// see [`export`] for how pairs are formed.
    Preference,
}

impl ExportFormat {
    /// Parses `messages` (or `sft`), `prompt-completion`, `preference` (or `dpo`).
    pub fn from_name(name: &str) -> Result<ExportFormat, DataError> {
        match name {
            "messages" | "sft" => Ok(ExportFormat::Messages),
            "prompt-completion" => Ok(ExportFormat::PromptCompletion),
            "preference" | "dpo" => Ok(ExportFormat::Preference),
            _ => Err(DataError::UnknownExportFormat {
                name: name.to_string(),
            }),
        }
    }

    /// The canonical name: `messages`, `prompt-completion` or `preference`.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Messages => "messages",
            ExportFormat::PromptCompletion => "prompt-completion",
            ExportFormat::Preference => "preference",
        }
    }
}

impl FromStr for ExportFormat {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExportFormat::from_name(s)
    }
}

impl std::fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings of [`export`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// Preference pairs whose scores differ by less than this are not written: a pair the
    /// grader barely separates teaches noise. Default 0.1.
    pub min_margin: f64,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions { min_margin: 0.1 }
    }
}

/// What [`export`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportStats {
    /// Records read from the input.
    pub read: usize,
    /// Lines written: one per record, or one per preference pair.
    pub written: usize,
}

/// The user turn for a record: `"{context}\n\n{prompt}"`, or the prompt when there is no
/// context.
pub fn training_prompt(prompt: &str, context: Option<&str>) -> String {
    match context {
        Some(context) => format!("{context}\n\n{prompt}"),
        None => prompt.to_string(),
    }
}

/// Writes `records` to `out` as JSONL in `format`; stops at the first error, whether from
/// the input or the output, and then leaves no file at `out`.
///
/// Messages and PromptCompletion write every record given (the caller chooses which:
/// usually the kept ones). Preference groups the records that have a finite `score` by
/// (prompt, context); a group with at least two distinct responses yields one pair:
/// chosen = the highest score, rejected = the lowest score among the other responses,
/// ties going to the earlier record, written only if the scores differ by at least
/// `opts.min_margin` (compared with a 1e-9 tolerance, so that 0.7 − 0.6 counts as 0.1).
/// A response repeated within a group counts once, with its first score. Pairs come out in
/// the order their groups first appeared. Preference keeps, per group, the prompt and at
/// most three responses in memory; the other formats stream.
pub fn export(
    records: impl Iterator<Item = Result<Record, DataError>>,
    format: ExportFormat,
    out: &Path,
    opts: &ExportOptions,
) -> Result<ExportStats, DataError> {
    match format {
        ExportFormat::Messages => export_each(records, out, |r| MessagesLine {
            messages: [
                Message {
                    role: "user",
                    content: user_turn(r.prompt, r.context),
                },
                Message {
                    role: "assistant",
                    content: r.response,
                },
            ],
        }),
        ExportFormat::PromptCompletion => export_each(records, out, |r| PromptCompletionLine {
            prompt: user_turn(r.prompt, r.context),
            completion: r.response,
        }),
        ExportFormat::Preference => export_preference(records, out, opts),
    }
}

#[derive(Serialize)]
struct Message {
    role: &'static str,
    content: String,
}

#[derive(Serialize)]
struct MessagesLine {
    messages: [Message; 2],
}

#[derive(Serialize)]
struct PromptCompletionLine {
    prompt: String,
    completion: String,
}

#[derive(Serialize)]
struct PreferenceLine {
    prompt: String,
    chosen: String,
    rejected: String,
    score_chosen: f64,
    score_rejected: f64,
}

/// [`training_prompt`] reusing the prompt's allocation when there is no context.
fn user_turn(prompt: String, context: Option<String>) -> String {
    match context {
        Some(context) => training_prompt(&prompt, Some(&context)),
        None => prompt,
    }
}

fn export_each<T: Serialize>(
    records: impl Iterator<Item = Result<Record, DataError>>,
    out: &Path,
    line: impl Fn(Record) -> T,
) -> Result<ExportStats, DataError> {
    let mut writer = JsonlWriter::<T>::create(out)?;
    let mut read = 0;
    for record in records {
        let record = record?;
        read += 1;
        writer.write(&line(record))?;
    }
    let written = writer.finish()?;
    Ok(ExportStats { read, written })
}

/// A response that may become chosen or rejected.
#[derive(Clone)]
struct Candidate {
    score: f64,
    /// Input position, for ties.
    order: usize,
    response: String,
}

/// What is kept of one (prompt, context) group.
struct Group {
    prompt: String,
    seen: HashSet<blake3::Hash>,
    /// The earliest of the highest-scored.
    best: Candidate,
    /// The two lowest by (score, order); `low2` exists once there are two responses.
    low1: Candidate,
    low2: Option<Candidate>,
}

impl Group {
    fn add(&mut self, c: Candidate) {
        if !self.seen.insert(blake3::hash(c.response.as_bytes())) {
            return;
        }
        if c.score > self.best.score {
            self.best = c.clone();
        }
        if c.score < self.low1.score {
            self.low2 = Some(std::mem::replace(&mut self.low1, c));
        } else if self.low2.as_ref().is_none_or(|low2| c.score < low2.score) {
            self.low2 = Some(c);
        }
    }

    /// (prompt, chosen, rejected), or `None` for a group with a single response.
    fn pair(self) -> Option<(String, Candidate, Candidate)> {
        let rejected = if self.low1.order != self.best.order {
            self.low1
        } else {
            self.low2?
        };
        Some((self.prompt, self.best, rejected))
    }
}

fn group_key(prompt: &str, context: Option<&str>) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    for part in [prompt, context.unwrap_or("")] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.update(&[context.is_some() as u8]);
    h.finalize()
}

fn export_preference(
    records: impl Iterator<Item = Result<Record, DataError>>,
    out: &Path,
    opts: &ExportOptions,
) -> Result<ExportStats, DataError> {
    // Created first so that an unwritable destination fails before reading everything.
    let mut writer = JsonlWriter::<PreferenceLine>::create(out)?;
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<blake3::Hash, usize> = HashMap::new();
    let mut read = 0;
    for record in records {
        let record = record?;
        let order = read;
        read += 1;
        let Some(score) = record.score.filter(|s| s.is_finite()) else {
            continue;
        };
        let key = group_key(&record.prompt, record.context.as_deref());
        let candidate = Candidate {
            score,
            order,
            response: record.response,
        };
        match index.get(&key) {
            Some(&g) => groups[g].add(candidate),
            None => {
                index.insert(key, groups.len());
                groups.push(Group {
                    prompt: user_turn(record.prompt, record.context),
                    seen: HashSet::from([blake3::hash(candidate.response.as_bytes())]),
                    best: candidate.clone(),
                    low1: candidate,
                    low2: None,
                });
            }
        }
    }
    drop(index);
    for group in groups {
        let Some((prompt, chosen, rejected)) = group.pair() else {
            continue;
        };
        if chosen.score - rejected.score < opts.min_margin - 1e-9 {
            continue;
        }
        writer.write(&PreferenceLine {
            prompt,
            chosen: chosen.response,
            rejected: rejected.response,
            score_chosen: chosen.score,
            score_rejected: rejected.score,
        })?;
    }
    let written = writer.finish()?;
    Ok(ExportStats { read, written })
}
