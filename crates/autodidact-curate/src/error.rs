//! Errors of curation: bad configuration and unreadable evaluation sets.

use std::path::PathBuf;

/// What can go wrong setting up curation. Curating itself never fails: every record comes
/// out kept or rejected with a reason.
#[derive(Debug, thiserror::Error)]
pub enum CurateError {
    /// A configuration value is out of range or inconsistent; `key` is its name inside the
    /// `[curate]` table (`min_score`, `near_duplicates.bands`, ...).
    #[error("invalid `{key}`: {message}")]
    Config {
        /// The key, relative to the curate table.
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// An evaluation file could not be opened or read.
    #[error("cannot read evaluation file '{}': {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line of an evaluation file is not what decontamination reads.
    #[error("evaluation file '{}' line {line}: {message}", path.display())]
    EvalLine {
        /// The file.
        path: PathBuf,
        /// The line, counting from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A curation index file (see `Curator::load_index`) is unusable: not an index,
    /// truncated, written under other settings, or not readable or writable.
    #[error("curation index '{}': {message}", path.display())]
    Index {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A file of earlier kept data (`remember`) could not be read.
    #[error("cannot remember '{}': {message}", path.display())]
    Remember {
        /// The file.
        path: PathBuf,
        /// What went wrong, with the line where there is one.
        message: String,
    },
    /// An evaluation file holds no text at all, so decontaminating against it would protect
    /// nothing; most likely the wrong file.
    #[error("evaluation file '{}' holds no text to decontaminate against", path.display())]
    EmptyEval {
        /// The file.
        path: PathBuf,
    },
}

impl CurateError {
    /// The configuration key at fault, for callers that point at its line.
    pub fn key(&self) -> Option<&str> {
        match self {
            CurateError::Config { key, .. } => Some(key),
            _ => None,
        }
    }

    pub(crate) fn config(key: &str, message: impl Into<String>) -> Self {
        CurateError::Config { key: key.to_string(), message: message.into() }
    }
}
