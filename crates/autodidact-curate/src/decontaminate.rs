//! Decontamination: finding training texts that share a long word n-gram with an evaluation
//! set, so that a model is never trained on the answers it is later tested on.
//!
//! Evaluation files are JSONL: each non-blank line is either a JSON string (one text) or a JSON
//! object whose string values, at any depth (inside nested objects and arrays too), are all
//! texts; keys are not. Every word `n`-gram of every text (after
//! [normalisation](crate::normalize)) is hashed to 64 bits into one set; a record is
//! contaminated when any `n`-gram of its text is in it. Texts shorter than `n` words cannot
//! share an `n`-gram and are counted in [`EvalFile::short_texts`] so that callers can say so.
//!
//! ```no_run
//! use autodidact_curate::{decontaminate::EvalSet, normalize::Words};
//! let evals = EvalSet::load(&["eval.jsonl".into()], 13)?;
//! if let Some(hit) = evals.find(&Words::new("some generated text ...")) {
//!     println!("shares {:?} with {}", hit.ngram, hit.file.display());
//! }
//! # Ok::<(), autodidact_curate::CurateError>(())
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::error::CurateError;
use crate::hash::{PassThrough, hash_str};
use crate::normalize::Words;

/// Seed of the n-gram hashes (fixed: the set and the lookups must agree).
const SEED: u64 = 0x6465_636f_6e74_616d;

/// What was read from one evaluation file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalFile {
    /// The file, as given.
    pub path: PathBuf,
    /// Texts read (JSON strings).
    pub texts: usize,
    /// Distinct n-grams the file added to the set.
    pub ngrams: usize,
    /// Texts with at least one word but fewer than `n`, which no n-gram can match.
    pub short_texts: usize,
}

/// A record text's n-gram found in an evaluation set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contamination<'a> {
    /// The shared n-gram, normalised, as it appears in the checked text.
    pub ngram: &'a str,
    /// The evaluation file it belongs to (the first loaded, when several have it).
    pub file: &'a Path,
}

/// The n-grams of one or more evaluation files.
#[derive(Clone, Debug)]
pub struct EvalSet {
    n: usize,
    files: Vec<EvalFile>,
    /// n-gram hash → index of the first file that has it.
    ngrams: HashMap<u64, u32, PassThrough>,
}

impl EvalSet {
    /// An empty set of word `n`-grams (`n` 0 is taken as 1).
    pub fn new(n: usize) -> Self {
        EvalSet { n: n.max(1), files: Vec::new(), ngrams: HashMap::default() }
    }

    /// Loads every file; errors name the file and line.
    pub fn load(paths: &[PathBuf], n: usize) -> Result<Self, CurateError> {
        let mut set = EvalSet::new(n);
        for p in paths {
            set.add_file(p)?;
        }
        Ok(set)
    }

    /// The n-gram size in words.
    pub fn ngram(&self) -> usize {
        self.n
    }

    /// The files loaded, in order.
    pub fn files(&self) -> &[EvalFile] {
        &self.files
    }

    /// Whether the set holds no n-gram (then nothing is ever contaminated).
    pub fn is_empty(&self) -> bool {
        self.ngrams.is_empty()
    }

    /// Reads one JSONL evaluation file into the set.
    pub fn add_file(&mut self, path: &Path) -> Result<(), CurateError> {
        let io = |source| CurateError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io)?;
        let file_index = u32::try_from(self.files.len()).unwrap_or(u32::MAX);
        let mut summary = EvalFile { path: path.to_path_buf(), texts: 0, ngrams: 0, short_texts: 0 };
        for (i, line) in BufReader::new(file).split(b'\n').enumerate() {
            let line_no = i + 1;
            let bad = |message: String| CurateError::EvalLine { path: path.to_path_buf(), line: line_no, message };
            let bytes = line.map_err(io)?;
            let text = std::str::from_utf8(&bytes).map_err(|e| bad(format!("not UTF-8: {e}")))?;
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let value: serde_json::Value =
                serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
            let mut texts = Vec::new();
            match &value {
                serde_json::Value::String(s) => texts.push(s.as_str()),
                serde_json::Value::Object(_) => collect_strings(&value, &mut texts),
                other => {
                    return Err(bad(format!("expected a JSON object or string, found {}", kind(other))));
                }
            }
            for t in &texts {
                summary.texts += 1;
                let words = Words::new(t);
                if !words.is_empty() && words.len() < self.n {
                    summary.short_texts += 1;
                }
                for g in words.ngrams(self.n) {
                    if let std::collections::hash_map::Entry::Vacant(e) = self.ngrams.entry(hash_str(g, SEED)) {
                        e.insert(file_index);
                        summary.ngrams += 1;
                    }
                }
            }
        }
        if summary.texts == 0 {
            return Err(CurateError::EmptyEval { path: path.to_path_buf() });
        }
        self.files.push(summary);
        Ok(())
    }

    /// The first n-gram of `words` found in the set, if any.
    pub fn find<'a>(&'a self, words: &'a Words) -> Option<Contamination<'a>> {
        if self.ngrams.is_empty() {
            return None;
        }
        words.ngrams(self.n).find_map(|g| {
            let &f = self.ngrams.get(&hash_str(g, SEED))?;
            Some(Contamination { ngram: g, file: &self.files.get(f as usize)?.path })
        })
    }
}

fn collect_strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
