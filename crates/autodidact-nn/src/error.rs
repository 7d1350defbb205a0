//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `autodidact-nn`.
///
/// Bad input (a config, a checkpoint, a training sequence, a prompt) gets a variant that names
/// where it came from; failures inside candle are passed on as [`Error::Candle`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model config value is out of range.
    #[error("{}invalid model config: `{key}` {message}", at(path.as_deref()))]
    InvalidConfig {
        /// The config file, when the config was read from one.
        path: Option<PathBuf>,
        /// The offending key of `config.json`.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A versioned file carries a version this build does not read.
    #[error("{}: unknown config version {found} (this build reads version {supported})", path.display())]
    UnknownVersion {
        /// The file that was read.
        path: PathBuf,
        /// The version found in it (as written, e.g. `2` or `"x"`).
        found: String,
        /// The version this build reads.
        supported: u32,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON file could not be parsed (serde's message carries line and column).
    #[error("error parsing {}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// A checkpoint does not match the model its config describes.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The safetensors file.
        path: PathBuf,
        /// What does not match.
        message: String,
    },
    /// A training sequence (or its loss mask) is malformed.
    #[error("training sequence {index}: {message}")]
    Sequence {
        /// Index of the sequence in the slice it was given in.
        index: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A prompt given to `generate` is malformed.
    #[error("prompt {index}: {message}")]
    Prompt {
        /// Index of the prompt in the slice it was given in.
        index: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A function argument is out of range.
    #[error("invalid argument `{name}`: {message}")]
    Argument {
        /// The argument's name.
        name: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

fn at(path: Option<&std::path::Path>) -> String {
    path.map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
