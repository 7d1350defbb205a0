//! The one error type of this crate.

/// Why a model call (or building a model) failed.
///
/// No variant ever holds the API key: bodies echoed back by a server are
/// scrubbed of it before they are stored here.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The environment variable named by `api_key_env` is unset or empty.
    #[error("environment variable `{var}` (named by `api_key_env`) is not set or is empty")]
    MissingApiKey {
        /// The variable's name (never its value).
        var: String,
    },
    /// A bad value in a `[models.NAME]` table.
    #[error("bad value for `{key}`: {message}")]
    Config {
        /// The offending key, e.g. `base_url` or `models.writer.max_in_flight`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// The server answered with a non-success HTTP status.
    #[error("{url} answered HTTP {status}: {body}")]
    Http {
        /// The URL the request went to.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The first 200 characters of the response body.
        body: String,
    },
    /// No complete response arrived within `timeout_secs`.
    #[error("no complete response from {url} within {secs} s")]
    Timeout {
        /// The URL the request went to.
        url: String,
        /// The per-request timeout that ran out.
        secs: f64,
    },
    /// The server could not be reached at all (connection refused, DNS, TLS handshake).
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The URL the request went to.
        url: String,
        /// The underlying cause.
        message: String,
    },
    /// The response could not be read or is not a chat completion (truncated or
    /// malformed JSON, connection dropped mid-response).
    #[error("cannot read the response from {url}: {message}")]
    Decode {
        /// The URL the request went to.
        url: String,
        /// The underlying cause.
        message: String,
    },
    /// The run was cancelled before the call could finish.
    #[error("cancelled")]
    Cancelled,
    /// The server answered with an empty `choices` array.
    #[error("{url} returned no choices")]
    NoChoices {
        /// The URL the request went to.
        url: String,
    },
}

impl ModelError {
    /// True when the server could not be reached at all; the pipeline aborts the
    /// run on it (exit 1) rather than recording one more failed generation.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ModelError::Connect { .. })
    }

    /// True for errors that a later attempt may not hit: overload (408, 409,
    /// 429, 5xx), timeouts, connection errors and unreadable bodies.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            ModelError::Http { status, .. } => {
                matches!(status, 408 | 409 | 429) || (500..=599).contains(status)
            }
            ModelError::Timeout { .. } | ModelError::Connect { .. } | ModelError::Decode { .. } => {
                true
            }
            ModelError::MissingApiKey { .. }
            | ModelError::Config { .. }
            | ModelError::Cancelled
            | ModelError::NoChoices { .. } => false,
        }
    }
}
