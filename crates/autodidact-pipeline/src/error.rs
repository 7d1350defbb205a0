//! Errors of the pipeline.

use std::path::PathBuf;

/// A configuration that cannot be used. Every variant names the file; most name the line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config '{}': {source}", path.display())]
    Io {
        /// The config file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, or a value of the wrong type.
    #[error("error in config '{}'{}: {message}", path.display(), fmt_line(*line))]
    Parse {
        /// The config file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A value that parses but cannot be used.
    #[error("error in config '{}'{}: key '{key}': {message}", path.display(), fmt_line(*line))]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The dotted key.
        key: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

fn fmt_line(line: Option<usize>) -> String {
    line.map(|l| format!(" line {l}")).unwrap_or_default()
}

/// Why a pipeline stage or a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Bad input data (a seed file, a rubric, a template): names the file and line.
    #[error("{0}")]
    Input(String),
    /// A dataset could not be read or written.
    #[error(transparent)]
    Data(#[from] autodidact_data::DataError),
    /// The run store failed.
    #[error("run store: {0}")]
    Store(#[from] autodidact_store::StoreError),
    /// A model could not be set up (missing API key, bad URL).
    #[error("model '{name}': {source}")]
    ModelSetup {
        /// The `[models.*]` name.
        name: String,
        /// The cause.
        source: autodidact_models::ModelError,
    },
    /// A server could not be reached at all, after retries.
    #[error("model '{name}' is unreachable: {source}")]
    Unreachable {
        /// The `[models.*]` name.
        name: String,
        /// The last error.
        source: autodidact_models::ModelError,
    },
    /// The run directory belongs to a different configuration.
    #[error("{0}")]
    RunDir(String),
    /// The curation index could not be written.
    #[error("{0}")]
    Index(autodidact_curate::CurateError),
    /// Ctrl-C: stopped gracefully.
    #[error("interrupted")]
    Interrupted,
    /// Writing an output file failed.
    #[error("cannot write '{}': {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl PipelineError {
    /// True for errors caused by the user's input (exit status 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            PipelineError::Config(_) | PipelineError::Input(_) | PipelineError::RunDir(_) => true,
            PipelineError::ModelSetup { source, .. } => {
                matches!(source, autodidact_models::ModelError::MissingApiKey { .. } | autodidact_models::ModelError::Config { .. })
            }
            PipelineError::Data(e) => !matches!(e, autodidact_data::DataError::Io { .. }),
            _ => false,
        }
    }
}
