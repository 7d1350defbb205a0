//! The `openai` backend: any server speaking the OpenAI chat completions API.
//!
//! One call to [`OpenAiModel::chat`] becomes one or more HTTP attempts. Each
//! attempt holds one of `max_in_flight` permits while its request is open (not
//! while it sleeps in backoff), so a slow server is kept exactly as busy as
//! configured and a failing one is not hammered.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::retry::{backoff_delay, parse_retry_after};
use crate::{
    ChatRequest, ChatResponse, Completion, Message, ModelConfig, ModelError, Usage, UsageTotals,
};

/// How much of an error body is kept.
const BODY_SNIPPET_CHARS: usize = 200;

/// Connecting should take milliseconds; a server that does not accept within
/// this long is treated as unreachable rather than waited on for the whole
/// request timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A model served over the OpenAI chat completions API.
///
/// Cheap to clone: clones share the connection pool, the in-flight limit, the
/// usage totals and what was learnt about the server (e.g. that it ignores `n`).
#[derive(Clone)]
pub struct OpenAiModel {
    inner: Arc<Inner>,
}

struct Inner {
    /// The config table's name, for logs.
    name: String,
    /// The model name sent to the server.
    model: String,
    endpoints: Vec<Endpoint>,
    /// Round-robin cursor over `endpoints`.
    next_endpoint: AtomicUsize,
    client: reqwest::Client,
    api_key: Option<ApiKey>,
    permits: Semaphore,
    max_in_flight: usize,
    cancel: CancellationToken,
    timeout: Duration,
    timeout_secs: f64,
    max_retries: u32,
    backoff_initial_ms: u64,
    backoff_max_ms: u64,
    default_temperature: Option<f64>,
    default_max_tokens: Option<u32>,
    prices: Option<(f64, f64)>,
    /// Set once the server answered `n` > 1 with fewer choices: from then on
    /// samples are asked for one request each, without wasting a round trip.
    n_unsupported: AtomicBool,
    counters: Counters,
    /// Time origin for the endpoints' `down_until_ms`.
    started: Instant,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    failures: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
}

/// One server, with what we know of its health.
struct Endpoint {
    /// `{base_url}/chat/completions`.
    url: String,
    /// Connection failures and timeouts in a row.
    consecutive_failures: AtomicU32,
    /// Skipped (while others are healthy) until this many ms after `started`.
    down_until_ms: AtomicU64,
}

/// The API key. Its `Debug` never shows the key, and the header value is
/// marked sensitive so that the HTTP stack does not show it either.
struct ApiKey {
    secret: String,
    header: HeaderValue,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Debug for OpenAiModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("OpenAiModel")
            .field("name", &inner.name)
            .field("model", &inner.model)
            .field(
                "urls",
                &inner
                    .endpoints
                    .iter()
                    .map(|e| e.url.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("api_key", &inner.api_key)
            .field("max_in_flight", &inner.max_in_flight)
            .field("timeout_secs", &inner.timeout_secs)
            .field("max_retries", &inner.max_retries)
            .field("usage", &self.usage())
            .finish()
    }
}

/// A failed attempt, with the server's `Retry-After` if it sent one.
struct Failure {
    error: ModelError,
    retry_after: Option<Duration>,
}

impl From<ModelError> for Failure {
    fn from(error: ModelError) -> Self {
        Failure {
            error,
            retry_after: None,
        }
    }
}

impl OpenAiModel {
    /// Builds the model described by `cfg`, the `[models.NAME]` table named
    /// `name`. Reads the API key from the variable named by `api_key_env` now,
    /// so a missing key fails the run before any work starts.
    ///
    /// Configuration errors name the key as `models.NAME.KEY`.
    pub fn new(
        name: &str,
        cfg: &ModelConfig,
        cancel: CancellationToken,
    ) -> Result<Self, ModelError> {
        cfg.validate().map_err(|e| match e {
            ModelError::Config { key, message } => ModelError::Config {
                key: format!("models.{name}.{key}"),
                message,
            },
            other => other,
        })?;
        let api_key = cfg.api_key_env.as_deref().map(read_api_key).transpose()?;
        let timeout = Duration::from_secs_f64(cfg.timeout_secs);
        let client = reqwest::Client::builder()
            .user_agent(concat!("autodidact/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(cfg.max_in_flight)
            .tcp_nodelay(true)
            .tcp_keepalive(Duration::from_secs(60))
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            .build()
            .map_err(|e| ModelError::Config {
                key: format!("models.{name}.backend"),
                message: format!("cannot set up the HTTP client: {}", error_chain(&e)),
            })?;
        let prices = match (cfg.price_input_per_mtok, cfg.price_output_per_mtok) {
            (Some(input), Some(output)) => Some((input, output)),
            _ => None,
        };
        let endpoints = cfg
            .urls()
            .into_iter()
            .map(|base| Endpoint {
                url: format!("{base}/chat/completions"),
                consecutive_failures: AtomicU32::new(0),
                down_until_ms: AtomicU64::new(0),
            })
            .collect();
        Ok(OpenAiModel {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                model: cfg.model.clone(),
                endpoints,
                next_endpoint: AtomicUsize::new(0),
                client,
                api_key,
                permits: Semaphore::new(cfg.max_in_flight),
                max_in_flight: cfg.max_in_flight,
                cancel,
                timeout,
                timeout_secs: cfg.timeout_secs,
                max_retries: cfg.max_retries,
                backoff_initial_ms: cfg.backoff_initial_ms,
                backoff_max_ms: cfg.backoff_max_ms,
                default_temperature: cfg.temperature,
                default_max_tokens: cfg.max_tokens,
                prices,
                n_unsupported: AtomicBool::new(false),
                counters: Counters::default(),
                started: Instant::now(),
            }),
        })
    }

    /// The model name sent to the server.
    pub fn model_name(&self) -> &str {
        &self.inner.model
    }

    /// The config table's name (e.g. `writer`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Totals since this model was built (shared by all clones).
    pub fn usage(&self) -> UsageTotals {
        let c = &self.inner.counters;
        let prompt_tokens = c.prompt_tokens.load(Relaxed);
        let completion_tokens = c.completion_tokens.load(Relaxed);
        UsageTotals {
            requests: c.requests.load(Relaxed),
            retries: c.retries.load(Relaxed),
            failures: c.failures.load(Relaxed),
            prompt_tokens,
            completion_tokens,
            cost_usd: self.inner.prices.map(|(input, output)| {
                prompt_tokens as f64 / 1e6 * input + completion_tokens as f64 / 1e6 * output
            }),
        }
    }

    /// Sends `req` and returns exactly `req.n` choices (at least one).
    ///
    /// Retries overload, timeouts, connection errors and unreadable bodies with
    /// exponential backoff, up to `max_retries` times, then returns the last
    /// error. Once the cancel token fires, no new attempt starts and the call
    /// returns [`ModelError::Cancelled`]; an attempt already sent may finish.
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, ModelError> {
        let result = self.chat_samples(req).await;
        if matches!(&result, Err(e) if *e != ModelError::Cancelled) {
            self.inner.counters.failures.fetch_add(1, Relaxed);
        }
        result
    }

    async fn chat_samples(&self, req: &ChatRequest) -> Result<ChatResponse, ModelError> {
        let n = req.samples();
        if n == 1 || self.inner.n_unsupported.load(Relaxed) {
            return self.repeated(req, 0, n).await;
        }
        let mut response = self.send(req, n, req.seed).await?;
        let got = response.choices.len() as u32;
        if got >= n {
            if got > n {
                tracing::warn!(model = %self.inner.name, asked = n, got, "server returned more choices than asked; keeping the first ones");
                response.choices.truncate(n as usize);
            }
            return Ok(response);
        }
        if !self.inner.n_unsupported.swap(true, Relaxed) {
            tracing::warn!(
                model = %self.inner.name,
                asked = n,
                got,
                "server ignores `n`; asking for one sample per request from now on"
            );
        }
        let extra = self.repeated(req, 1, n - got).await?;
        response.choices.extend(extra.choices);
        response.usage += extra.usage;
        Ok(response)
    }

    /// `count` single-sample requests, concurrently; the `i`-th gets the
    /// request's seed plus `first_offset + i`, so that repeats differ.
    async fn repeated(
        &self,
        req: &ChatRequest,
        first_offset: u64,
        count: u32,
    ) -> Result<ChatResponse, ModelError> {
        let sends = (0..u64::from(count)).map(|i| {
            let seed = req.seed.map(|s| s.wrapping_add(first_offset + i));
            self.send(req, 1, seed)
        });
        // join_all, not try_join_all: the others finish (their tokens are spent
        // and counted) instead of being dropped mid-request.
        let mut combined = ChatResponse {
            choices: Vec::with_capacity(count as usize),
            usage: Usage::default(),
        };
        let mut first_error = None;
        for result in futures::future::join_all(sends).await {
            match result {
                Ok(r) => {
                    combined.choices.extend(r.choices);
                    combined.usage += r.usage;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        // A server may return several choices even for one; keep exactly `count`.
        combined.choices.truncate(count as usize);
        Ok(combined)
    }

    /// One logical request (asking for `n` choices) with its retries.
    async fn send(
        &self,
        req: &ChatRequest,
        n: u32,
        seed: Option<u64>,
    ) -> Result<ChatResponse, ModelError> {
        let inner = &*self.inner;
        let body = WireRequest {
            model: &inner.model,
            messages: &req.messages,
            temperature: req.temperature.or(inner.default_temperature),
            top_p: req.top_p,
            max_tokens: req.max_tokens.or(inner.default_max_tokens),
            n: (n > 1).then_some(n),
            seed,
            stop: &req.stop,
            response_format: req.response_format.as_ref(),
        };
        let body = serde_json::to_vec(&body).map_err(|e| ModelError::Config {
            key: "request".into(),
            message: format!("cannot serialise the request: {e}"),
        })?;
        let mut cursor = inner.next_endpoint.fetch_add(1, Relaxed);
        let mut retry = 0;
        loop {
            if inner.cancel.is_cancelled() {
                return Err(ModelError::Cancelled);
            }
            let index = self.pick_endpoint(cursor);
            let endpoint = &inner.endpoints[index];
            let failure = match self.attempt(endpoint, body.clone()).await {
                Ok(response) => {
                    endpoint.consecutive_failures.store(0, Relaxed);
                    return Ok(response);
                }
                Err(failure) => failure,
            };
            let Failure { error, retry_after } = failure;
            if matches!(
                error,
                ModelError::Connect { .. } | ModelError::Timeout { .. }
            ) {
                self.mark_down(endpoint);
            }
            if !error.is_retryable() || retry >= inner.max_retries {
                tracing::warn!(model = %inner.name, url = %endpoint.url, attempts = retry + 1, error = %error, "giving up");
                return Err(error);
            }
            let delay = backoff_delay(
                retry,
                inner.backoff_initial_ms,
                inner.backoff_max_ms,
                retry_after,
                &mut rand::rng(),
            );
            inner.counters.retries.fetch_add(1, Relaxed);
            tracing::warn!(
                model = %inner.name,
                url = %endpoint.url,
                attempt = retry + 1,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "retrying"
            );
            tokio::select! {
                biased;
                () = inner.cancel.cancelled() => return Err(ModelError::Cancelled),
                () = tokio::time::sleep(delay) => {}
            }
            retry += 1;
            // A retry goes to the next server.
            cursor = index.wrapping_add(1);
        }
    }

    /// The endpoint at `cursor` (round robin), or the next one that is not
    /// marked down; if all are down, the one at `cursor` anyway.
    fn pick_endpoint(&self, cursor: usize) -> usize {
        let inner = &*self.inner;
        let count = inner.endpoints.len();
        let now = self.now_ms();
        (0..count)
            .map(|k| cursor.wrapping_add(k) % count)
            .find(|&i| inner.endpoints[i].down_until_ms.load(Relaxed) <= now)
            .unwrap_or(cursor % count)
    }

    /// Skips a server that cannot be reached for a while that doubles with
    /// each failure in a row, so other servers take its share meanwhile.
    fn mark_down(&self, endpoint: &Endpoint) {
        let inner = &*self.inner;
        let failures = endpoint.consecutive_failures.fetch_add(1, Relaxed);
        let cooldown = inner
            .backoff_initial_ms
            .saturating_mul(1u64.checked_shl(failures).unwrap_or(u64::MAX))
            .min(inner.backoff_max_ms);
        endpoint
            .down_until_ms
            .store(self.now_ms().saturating_add(cooldown), Relaxed);
    }

    fn now_ms(&self) -> u64 {
        self.inner.started.elapsed().as_millis() as u64
    }

    /// One HTTP attempt, holding one in-flight permit throughout.
    async fn attempt(&self, endpoint: &Endpoint, body: Vec<u8>) -> Result<ChatResponse, Failure> {
        let inner = &*self.inner;
        let _permit = tokio::select! {
            biased;
            () = inner.cancel.cancelled() => return Err(ModelError::Cancelled.into()),
            permit = inner.permits.acquire() => permit.map_err(|_| ModelError::Cancelled)?,
        };
        inner.counters.requests.fetch_add(1, Relaxed);
        tracing::debug!(model = %inner.name, url = %endpoint.url, "sending");
        match tokio::time::timeout(inner.timeout, self.exchange(endpoint, body)).await {
            Ok(result) => result,
            Err(_) => Err(ModelError::Timeout {
                url: endpoint.url.clone(),
                secs: inner.timeout_secs,
            }
            .into()),
        }
    }

    async fn exchange(&self, endpoint: &Endpoint, body: Vec<u8>) -> Result<ChatResponse, Failure> {
        let inner = &*self.inner;
        let url = &endpoint.url;
        let mut request = inner
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(key) = &inner.api_key {
            request = request.header(AUTHORIZATION, key.header.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(url, e))?;
        let status = response.status();
        let retry_after = if matches!(status.as_u16(), 429 | 503) {
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()))
        } else {
            None
        };
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(url, e))?;
        if !status.is_success() {
            tracing::debug!(model = %inner.name, url = %url, status = status.as_u16(), "error status");
            return Err(Failure {
                error: ModelError::Http {
                    url: url.clone(),
                    status: status.as_u16(),
                    body: self.snippet(&bytes),
                },
                retry_after,
            });
        }
        let decode_error = |message: String| ModelError::Decode {
            url: url.clone(),
            message: format!("{message}; the body starts: {:?}", self.snippet(&bytes)),
        };
        let wire: WireResponse =
            serde_json::from_slice(&bytes).map_err(|e| decode_error(e.to_string()))?;
        let usage = wire
            .usage
            .map(|u| Usage {
                prompt_tokens: u.prompt_tokens.unwrap_or(0),
                completion_tokens: u.completion_tokens.unwrap_or(0),
            })
            .unwrap_or_default();
        inner
            .counters
            .prompt_tokens
            .fetch_add(usage.prompt_tokens, Relaxed);
        inner
            .counters
            .completion_tokens
            .fetch_add(usage.completion_tokens, Relaxed);
        let mut wire_choices: Vec<(usize, WireChoice)> = wire
            .choices
            .into_iter()
            .enumerate()
            .map(|(position, c)| (c.index.unwrap_or(position), c))
            .collect();
        if wire_choices.is_empty() {
            return Err(ModelError::NoChoices { url: url.clone() }.into());
        }
        wire_choices.sort_by_key(|(index, _)| *index);
        let choices = wire_choices
            .into_iter()
            .map(|(index, c)| {
                let content = c
                    .message
                    .and_then(|m| m.content)
                    .unwrap_or(serde_json::Value::Null);
                Ok(Completion {
                    text: content_text(content)
                        .map_err(|m| decode_error(format!("choice {index}: {m}")))?,
                    finish_reason: c.finish_reason,
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        tracing::debug!(model = %inner.name, url = %url, choices = choices.len(), "received");
        Ok(ChatResponse { choices, usage })
    }

    fn transport_error(&self, url: &str, error: reqwest::Error) -> Failure {
        let (connect, timeout) = (error.is_connect(), error.is_timeout());
        let message = self.redact(error_chain(&error.without_url()));
        let error = if connect {
            ModelError::Connect {
                url: url.to_owned(),
                message,
            }
        } else if timeout {
            ModelError::Timeout {
                url: url.to_owned(),
                secs: self.inner.timeout_secs,
            }
        } else {
            // Reached the server but the exchange broke (connection reset or
            // closed mid-response): the response is unreadable, not the server
            // unreachable.
            ModelError::Decode {
                url: url.to_owned(),
                message: format!("the connection broke before a complete response: {message}"),
            }
        };
        error.into()
    }

    /// The start of a body, with the API key scrubbed in case the server
    /// echoes the request headers back.
    fn snippet(&self, bytes: &[u8]) -> String {
        let text = self.redact(String::from_utf8_lossy(bytes).into_owned());
        text.chars().take(BODY_SNIPPET_CHARS).collect()
    }

    fn redact(&self, text: String) -> String {
        match &self.inner.api_key {
            Some(key) if text.contains(&key.secret) => text.replace(&key.secret, "<redacted>"),
            _ => text,
        }
    }
}

fn read_api_key(var: &str) -> Result<ApiKey, ModelError> {
    let secret = std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ModelError::MissingApiKey {
            var: var.to_owned(),
        })?;
    let mut header = HeaderValue::from_str(&format!("Bearer {}", secret.trim())).map_err(|_| {
        ModelError::Config {
            key: "api_key_env".into(),
            message: format!(
                "the value of `{var}` cannot be sent in an HTTP header (control characters?)"
            ),
        }
    })?;
    header.set_sensitive(true);
    Ok(ApiKey {
        secret: secret.trim().to_owned(),
        header,
    })
}

/// An error and its causes, joined by `: ` ("connection refused" is usually
/// only in the innermost cause).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// `message.content`: a string, `null` (empty), or an array of parts whose
/// `text` fields are joined.
fn content_text(content: serde_json::Value) -> Result<String, String> {
    use serde_json::Value;
    match content {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s),
        Value::Array(parts) => parts
            .into_iter()
            .map(|part| match part.get("text") {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(format!("content part without text: {part}")),
            })
            .collect(),
        other => Err(format!("`content` is neither text nor parts: {other}")),
    }
}

/// The request body; unset parameters are left out so server defaults apply.
#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<&'a serde_json::Value>,
}

#[derive(Deserialize)]
struct WireResponse {
    /// Required: a 200 without it (e.g. an `{"error": ...}` body) is not a completion.
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_forms() {
        let cases = [
            (json!(null), Ok("")),
            (json!("hi"), Ok("hi")),
            (
                json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
                Ok("ab"),
            ),
            (json!([{"type": "image"}]), Err("content part without text")),
            (json!(3), Err("neither text nor parts")),
        ];
        for (content, want) in cases {
            let got = content_text(content.clone());
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{content}"),
                (Err(g), Err(w)) => assert!(g.contains(w), "{content}: {g}"),
                (g, w) => panic!("{content}: got {g:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn api_key_debug_is_redacted() {
        let mut header = HeaderValue::from_static("Bearer sk-secret");
        header.set_sensitive(true);
        let key = ApiKey {
            secret: "sk-secret".into(),
            header,
        };
        let shown = format!("{key:?} {:?}", key.header);
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
