//! [`TinyError`].

use std::path::PathBuf;

/// What can stop an arithmetic run.
#[derive(Debug, thiserror::Error)]
pub enum TinyError {
    /// The configuration is invalid; the message names the key (and line, from TOML).
    #[error("error in config '{}': {message}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// The real text cannot be used (missing, not UTF-8, too short, too many characters).
    #[error("cannot use the text '{}': {message}", path.display())]
    Text {
        /// The text file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The run directory holds something this run cannot continue.
    #[error("{0}")]
    RunDir(String),
    /// Reading or writing a file failed.
    #[error("cannot access '{}'", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The embedded model failed.
    #[error("embedded model")]
    Nn(#[from] autodidact_nn::Error),
    /// A dataset could not be written or read.
    #[error("dataset")]
    Data(#[from] autodidact_data::DataError),
    /// The run store failed.
    #[error("run store")]
    Store(#[from] autodidact_store::StoreError),
    /// Stopped by the user; finished generations are kept.
    #[error("interrupted")]
    Interrupted,
}

impl TinyError {
    /// Whether the error is the user's input (exit status 2) rather than a failure while
    /// running.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, TinyError::Config { .. } | TinyError::Text { .. } | TinyError::RunDir(_))
    }
}
