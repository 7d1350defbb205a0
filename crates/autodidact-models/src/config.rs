//! One `[models.NAME]` table of the user's configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{AnyModel, ChatRequest, ModelError, OpenAiModel};

/// Which implementation serves a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backend {
    /// Any OpenAI-compatible HTTP server (vLLM, llama.cpp server, Ollama, TGI,
    /// SGLang, hosted APIs).
    #[serde(rename = "openai")]
    OpenAi,
}

const DEFAULT_MAX_IN_FLIGHT: usize = 64;
const DEFAULT_TIMEOUT_SECS: f64 = 120.0;
const DEFAULT_MAX_RETRIES: u32 = 6;
const DEFAULT_BACKOFF_INITIAL_MS: u64 = 500;
const DEFAULT_BACKOFF_MAX_MS: u64 = 30_000;

fn default_max_in_flight() -> usize {
    DEFAULT_MAX_IN_FLIGHT
}
fn default_timeout_secs() -> f64 {
    DEFAULT_TIMEOUT_SECS
}
fn default_max_retries() -> u32 {
    DEFAULT_MAX_RETRIES
}
fn default_backoff_initial_ms() -> u64 {
    DEFAULT_BACKOFF_INITIAL_MS
}
fn default_backoff_max_ms() -> u64 {
    DEFAULT_BACKOFF_MAX_MS
}

/// One `[models.NAME]` table: where the model is served and how to talk to it.
///
/// ```toml
/// [models.writer]
/// backend = "openai"
/// model = "qwen2.5-7b-instruct"
/// base_url = "http://127.0.0.1:8000/v1"
/// api_key_env = "OPENAI_API_KEY"
/// max_in_flight = 256
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Which implementation serves the model.
    pub backend: Backend,
    /// The model name sent to the server.
    pub model: String,
    /// The server's API root, e.g. `http://127.0.0.1:8000/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Several servers: requests are spread over them round robin, skipping
    /// ones that are failing. May be combined with `base_url`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_urls: Vec<String>,
    /// The *name* of the environment variable holding the API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Most HTTP requests open at once, over all servers.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Time allowed for one HTTP attempt, in seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: f64,
    /// Retries after the first attempt before an error is returned.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Backoff ceiling before the first retry; it doubles per retry.
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    /// Largest backoff ceiling; a server's `Retry-After` is honoured up to four times this.
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// USD per million prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_input_per_mtok: Option<f64>,
    /// USD per million completion tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_output_per_mtok: Option<f64>,
    /// Temperature for requests that do not set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// `max_tokens` for requests that do not set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

impl Default for ModelConfig {
    /// The defaults of every optional key; `model` and the URLs are empty and
    /// must be filled in before [`ModelConfig::validate`] passes.
    fn default() -> Self {
        ModelConfig {
            backend: Backend::OpenAi,
            model: String::new(),
            base_url: None,
            base_urls: Vec::new(),
            api_key_env: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            max_retries: DEFAULT_MAX_RETRIES,
            backoff_initial_ms: DEFAULT_BACKOFF_INITIAL_MS,
            backoff_max_ms: DEFAULT_BACKOFF_MAX_MS,
            price_input_per_mtok: None,
            price_output_per_mtok: None,
            temperature: None,
            max_tokens: None,
        }
    }
}

impl ModelConfig {
    /// Every server URL: `base_url` first, then `base_urls`, each without a
    /// trailing `/`.
    pub fn urls(&self) -> Vec<String> {
        self.base_url
            .iter()
            .chain(&self.base_urls)
            .map(|u| u.trim_end_matches('/').to_owned())
            .collect()
    }

    /// Checks every value; the error names the key (as written in the table).
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |key: &str, message: String| {
            Err(ModelError::Config {
                key: key.to_owned(),
                message,
            })
        };
        if self.model.trim().is_empty() {
            return bad("model", "the model name is empty".into());
        }
        if self.base_url.is_none() && self.base_urls.is_empty() {
            return bad(
                "base_url",
                "no server given: set `base_url` (or `base_urls`)".into(),
            );
        }
        let mut seen: Vec<String> = Vec::new();
        let named = self
            .base_url
            .iter()
            .map(|u| ("base_url".to_owned(), u))
            .chain(
                self.base_urls
                    .iter()
                    .enumerate()
                    .map(|(i, u)| (format!("base_urls[{i}]"), u)),
            );
        for (key, url) in named {
            if let Err(message) = check_url(url) {
                return bad(&key, message);
            }
            let normalised = url.trim_end_matches('/').to_owned();
            if seen.contains(&normalised) {
                return bad(&key, format!("`{url}` is listed twice"));
            }
            seen.push(normalised);
        }
        if self
            .api_key_env
            .as_ref()
            .is_some_and(|var| var.trim().is_empty())
        {
            return bad(
                "api_key_env",
                "empty; give the name of an environment variable, or leave it out".into(),
            );
        }
        if self.max_in_flight == 0 {
            return bad("max_in_flight", "must be at least 1".into());
        }
        if self.max_in_flight > tokio::sync::Semaphore::MAX_PERMITS {
            return bad(
                "max_in_flight",
                format!("must be at most {}", tokio::sync::Semaphore::MAX_PERMITS),
            );
        }
        // Rejects zero, negatives, NaN and values too large for a `Duration`.
        if !Duration::try_from_secs_f64(self.timeout_secs).is_ok_and(|d| !d.is_zero()) {
            return bad(
                "timeout_secs",
                format!(
                    "must be a positive number of seconds, not {}",
                    self.timeout_secs
                ),
            );
        }
        if self.backoff_initial_ms > self.backoff_max_ms {
            return bad(
                "backoff_initial_ms",
                format!(
                    "{} is larger than backoff_max_ms ({})",
                    self.backoff_initial_ms, self.backoff_max_ms
                ),
            );
        }
        for (key, price) in [
            ("price_input_per_mtok", self.price_input_per_mtok),
            ("price_output_per_mtok", self.price_output_per_mtok),
        ] {
            if let Some(p) = price.filter(|p| !(p.is_finite() && *p >= 0.0)) {
                return bad(key, format!("must be a non-negative number, not {p}"));
            }
        }
        if let Some(t) = self.temperature.filter(|t| !(t.is_finite() && *t >= 0.0)) {
            return bad(
                "temperature",
                format!("must be a non-negative number, not {t}"),
            );
        }
        Ok(())
    }

    /// `req` with this table's `temperature` and `max_tokens` filled in where
    /// the request leaves them unset: what is actually sent.
    pub fn apply_defaults(&self, req: &ChatRequest) -> ChatRequest {
        let mut req = req.clone();
        req.temperature = req.temperature.or(self.temperature);
        req.max_tokens = req.max_tokens.or(self.max_tokens);
        req
    }

    /// Builds the model this table describes. `name` is the table's name (e.g.
    /// `writer`), used in errors and logs.
    pub fn build(&self, name: &str, cancel: CancellationToken) -> Result<AnyModel, ModelError> {
        match self.backend {
            Backend::OpenAi => Ok(AnyModel::OpenAi(OpenAiModel::new(name, self, cancel)?)),
        }
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "`{url}` must start with http:// or https://, not {}://",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{url}` has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "`{url}` has a query or fragment; give the API root, e.g. http://127.0.0.1:8000/v1"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
backend = "openai"
model = "m"
base_url = "http://127.0.0.1:8000/v1/"
"#;

    fn parse(toml_text: &str) -> Result<ModelConfig, String> {
        toml::from_str::<ModelConfig>(toml_text).map_err(|e| e.to_string())
    }

    #[test]
    fn minimal_table_gets_the_documented_defaults() {
        let cfg = parse(MINIMAL).unwrap();
        assert_eq!(
            cfg,
            ModelConfig {
                model: "m".into(),
                base_url: Some("http://127.0.0.1:8000/v1/".into()),
                ..ModelConfig::default()
            }
        );
        assert_eq!(cfg.max_in_flight, 64);
        assert_eq!(cfg.timeout_secs, 120.0);
        assert_eq!(cfg.max_retries, 6);
        assert_eq!(cfg.backoff_initial_ms, 500);
        assert_eq!(cfg.backoff_max_ms, 30_000);
        assert_eq!(cfg.urls(), vec!["http://127.0.0.1:8000/v1".to_owned()]);
        cfg.validate().unwrap();
    }

    #[test]
    fn configs_round_trip_through_toml() {
        let full = ModelConfig {
            model: "m".into(),
            base_url: Some("http://a:1/v1".into()),
            base_urls: vec!["http://b:2/v1".into()],
            api_key_env: Some("KEY".into()),
            max_in_flight: 3,
            timeout_secs: 1.5,
            max_retries: 2,
            backoff_initial_ms: 10,
            backoff_max_ms: 20,
            price_input_per_mtok: Some(0.5),
            price_output_per_mtok: Some(1.5),
            temperature: Some(0.2),
            max_tokens: Some(100),
            ..ModelConfig::default()
        };
        for cfg in [parse(MINIMAL).unwrap(), full] {
            let text = toml::to_string(&cfg).unwrap();
            assert_eq!(parse(&text).unwrap(), cfg, "{text}");
        }
    }

    #[test]
    fn parse_errors_name_the_key() {
        // (table body, text the error must contain)
        let cases = [
            (
                "backend = \"openai\"\nmodel = \"m\"\nbase_ur = \"x\"",
                "base_ur",
            ),
            ("backend = \"tgi\"\nmodel = \"m\"", "tgi"),
            ("model = \"m\"", "backend"),
            ("backend = \"openai\"", "model"),
            (
                "backend = \"openai\"\nmodel = \"m\"\nmax_in_flight = -1",
                "max_in_flight",
            ),
        ];
        for (text, needle) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn validate_names_the_bad_key() {
        let ok = parse(MINIMAL).unwrap();
        type Change = fn(&mut ModelConfig);
        let cases: &[(Change, &str)] = &[
            (|c| c.model = " ".into(), "model"),
            (|c| c.base_url = None, "base_url"),
            (|c| c.base_url = Some("not a url".into()), "base_url"),
            (|c| c.base_url = Some("ftp://h/v1".into()), "base_url"),
            (
                |c| c.base_url = Some("http://h/v1?key=1".into()),
                "base_url",
            ),
            (
                |c| c.base_urls = vec!["http://x/v1".into(), "nope".into()],
                "base_urls[1]",
            ),
            (
                |c| c.base_urls = vec!["http://127.0.0.1:8000/v1".into()],
                "base_urls[0]",
            ),
            (|c| c.api_key_env = Some(String::new()), "api_key_env"),
            (|c| c.max_in_flight = 0, "max_in_flight"),
            (|c| c.timeout_secs = 0.0, "timeout_secs"),
            (|c| c.timeout_secs = f64::NAN, "timeout_secs"),
            (|c| c.timeout_secs = 1e300, "timeout_secs"),
            (
                |c| c.backoff_initial_ms = c.backoff_max_ms + 1,
                "backoff_initial_ms",
            ),
            (
                |c| c.price_input_per_mtok = Some(-1.0),
                "price_input_per_mtok",
            ),
            (
                |c| c.price_output_per_mtok = Some(f64::INFINITY),
                "price_output_per_mtok",
            ),
            (|c| c.temperature = Some(-0.1), "temperature"),
        ];
        for (change, key) in cases {
            let mut cfg = ok.clone();
            change(&mut cfg);
            match cfg.validate() {
                Err(ModelError::Config { key: got, .. }) => assert_eq!(got, *key, "{cfg:?}"),
                other => panic!("expected a config error on `{key}`, got {other:?}"),
            }
        }
    }

    #[test]
    fn urls_combine_base_url_and_base_urls() {
        let cfg = ModelConfig {
            base_url: Some("http://a/v1/".into()),
            base_urls: vec!["http://b/v1".into(), "http://c/".into()],
            ..ModelConfig::default()
        };
        assert_eq!(cfg.urls(), ["http://a/v1", "http://b/v1", "http://c"]);
    }

    #[test]
    fn defaults_fill_only_unset_parameters() {
        let cfg = ModelConfig {
            temperature: Some(0.3),
            max_tokens: Some(50),
            ..ModelConfig::default()
        };
        let unset = ChatRequest::default();
        let set = ChatRequest {
            temperature: Some(1.0),
            max_tokens: Some(7),
            ..ChatRequest::default()
        };
        let got = cfg.apply_defaults(&unset);
        assert_eq!((got.temperature, got.max_tokens), (Some(0.3), Some(50)));
        let got = cfg.apply_defaults(&set);
        assert_eq!((got.temperature, got.max_tokens), (Some(1.0), Some(7)));
    }
}
