//! A benchmark double, not a model: an OpenAI-compatible chat server that answers
//! `POST /v1/chat/completions` after a fixed latency with a small deterministic completion,
//! so that a client's request throughput can be measured against a known bound
//! (`in_flight / latency` requests per second).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use autodidact_bench_server::{Settings, router};
//!
//! let app = router(Settings { latency: Duration::from_millis(50), words: 64 });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! `GET /stats` tells how many requests arrived and when the first arrived and the last was
//! answered (the server's own view of a run's request window); `POST /stats/reset` zeroes
//! the counters between benchmark phases.
#![deny(missing_docs)]

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

/// The most choices one request may ask for: a guard against a typo asking for millions.
pub const MAX_N: u64 = 128;

/// What the server does.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long each answer waits before it is sent (the simulated model's latency).
    pub latency: Duration,
    /// Words in each completion.
    pub words: usize,
}

/// "Never happened" for the window timestamps.
const UNSET: u64 = u64::MAX;

/// The server's counters. Resetting while requests are under way is allowed but splits those
/// requests' counts between the two sides of the reset: the benchmark resets between phases.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    requests: AtomicU64,
    answered: AtomicU64,
    bad_requests: AtomicU64,
    /// Chat requests arrived and not yet answered.
    in_flight: AtomicU64,
    /// The most chat requests under way at once: whether a client reaches its `max_in_flight`.
    peak_in_flight: AtomicU64,
    /// Sum over answered requests of their time in the server, in microseconds: divided by
    /// the window, the mean number of requests under way (what a client kept the server busy
    /// with, whatever its rate).
    busy_us: AtomicU64,
    /// Microseconds after `started` when the first request arrived.
    first_us: AtomicU64,
    /// Microseconds after `started` when the latest answer was ready.
    last_us: AtomicU64,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            started: Instant::now(),
            requests: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            bad_requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            peak_in_flight: AtomicU64::new(0),
            busy_us: AtomicU64::new(0),
            first_us: AtomicU64::new(UNSET),
            last_us: AtomicU64::new(UNSET),
        }
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// Chat requests received (answered, bad, or still waiting).
    pub fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }

    /// The counters as the JSON `GET /stats` returns.
    pub fn to_json(&self, settings: &Settings) -> Value {
        let first = self.first_us.load(Relaxed);
        let last = self.last_us.load(Relaxed);
        let window =
            (first != UNSET && last != UNSET && last >= first).then(|| (last - first) as f64 / 1e6);
        let busy = self.busy_us.load(Relaxed) as f64 / 1e6;
        let mean_in_flight = window.filter(|w| *w > 0.0).map(|w| busy / w);
        json!({
            "requests": self.requests.load(Relaxed),
            "answered": self.answered.load(Relaxed),
            "bad_requests": self.bad_requests.load(Relaxed),
            "window_seconds": window,
            "in_flight": self.in_flight.load(Relaxed),
            "peak_in_flight": self.peak_in_flight.load(Relaxed),
            "mean_in_flight": mean_in_flight,
            "latency_ms": settings.latency.as_secs_f64() * 1e3,
        })
    }

    fn reset(&self) {
        self.requests.store(0, Relaxed);
        self.answered.store(0, Relaxed);
        self.bad_requests.store(0, Relaxed);
        // `in_flight` is a gauge of requests under way, not a count: a reset leaves it alone.
        self.peak_in_flight
            .store(self.in_flight.load(Relaxed), Relaxed);
        self.busy_us.store(0, Relaxed);
        self.first_us.store(UNSET, Relaxed);
        self.last_us.store(UNSET, Relaxed);
    }
}

/// The shared state of the handlers.
#[derive(Debug, Clone)]
struct AppState {
    settings: Settings,
    stats: Arc<Stats>,
}

/// The server's routes, with fresh counters.
pub fn router(settings: Settings) -> Router {
    router_with_stats(settings).0
}

/// The server's routes and their counters (so that `main` can print them on exit).
pub fn router_with_stats(settings: Settings) -> (Router, Arc<Stats>) {
    let stats = Arc::new(Stats::new());
    let state = AppState {
        settings,
        stats: stats.clone(),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/stats", get(stats_handler))
        .route("/stats/reset", post(reset_handler))
        .with_state(state);
    (app, stats)
}

async fn stats_handler(State(s): State<AppState>) -> Json<Value> {
    Json(s.stats.to_json(&s.settings))
}

async fn reset_handler(State(s): State<AppState>) -> Json<Value> {
    s.stats.reset();
    Json(s.stats.to_json(&s.settings))
}

/// An OpenAI-style error body, so that clients show the message.
fn bad_request(message: String) -> Response {
    let body = json!({ "error": { "message": message, "type": "invalid_request_error" } });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn chat(State(s): State<AppState>, body: Bytes) -> Response {
    let stats = &s.stats;
    stats.requests.fetch_add(1, Relaxed);
    let arrived = stats.now_us();
    let _ = stats
        .first_us
        .compare_exchange(UNSET, arrived, Relaxed, Relaxed);
    let answer = match completion_text(&body, s.settings.words) {
        Ok(answer) => answer,
        Err(message) => {
            stats.bad_requests.fetch_add(1, Relaxed);
            return bad_request(message);
        }
    };
    let under_way = UnderWay::enter(stats);
    tokio::time::sleep(s.settings.latency).await;
    drop(under_way);
    stats.answered.fetch_add(1, Relaxed);
    let now = stats.now_us();
    stats
        .busy_us
        .fetch_add(now.saturating_sub(arrived), Relaxed);
    // `fetch_max` on a fresh (UNSET = MAX) value would stick; store the first one instead.
    let _ = stats.last_us.fetch_update(Relaxed, Relaxed, |prev| {
        (prev == UNSET || now > prev).then_some(now)
    });
    ([(axum::http::header::CONTENT_TYPE, "application/json")], answer).into_response()
}

/// Counts a request as under way until dropped: hyper drops the handler when its client
/// disconnects mid-wait (as wrk does when it stops), and the gauge must not keep it.
struct UnderWay<'a>(&'a Stats);

impl<'a> UnderWay<'a> {
    fn enter(stats: &'a Stats) -> UnderWay<'a> {
        let now = stats.in_flight.fetch_add(1, Relaxed) + 1;
        stats.peak_in_flight.fetch_max(now, Relaxed);
        UnderWay(stats)
    }
}

impl Drop for UnderWay<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// The answer to a chat request body: `n` choices of `words` pseudo-random words each,
/// determined by the body's bytes (the same request always gets the same answer; requests
/// that differ, e.g. by topic or seed, get different ones), with `usage` counted in words.
///
/// Errors say what is wrong with the body, for the `400` answer.
pub fn completion(body: &[u8], words: usize) -> Result<Value, String> {
    let text = completion_text(body, words)?;
    Ok(serde_json::from_str(&text).expect("the server writes valid JSON"))
}

/// [`completion`] as the JSON text the server sends, written directly (no `Value` tree: the
/// server must stay cheaper than the clients it measures).
pub fn completion_text(body: &[u8], words: usize) -> Result<String, String> {
    let (model, prompt_tokens, n) = match serde_json::from_slice::<Fast>(body) {
        Ok(fast) if !fast.messages.is_empty() && fast.n.is_none_or(|n| (1..=MAX_N).contains(&n)) => {
            let tokens = fast
                .messages
                .iter()
                .filter_map(|m| m.content.as_deref())
                .map(|c| c.split_whitespace().count())
                .sum();
            (fast.model.unwrap_or(Cow::Borrowed("bench")), tokens, fast.n.unwrap_or(1))
        }
        // Anything unusual takes the slow path, which explains what is wrong.
        _ => {
            let (model, tokens, n) = read_slowly(body)?;
            (Cow::Owned(model), tokens, n)
        }
    };
    let seed = fnv1a(body);
    let completion_tokens = words as u64 * n;
    let model = serde_json::to_string(model.as_ref()).expect("strings serialize");
    let mut out = String::with_capacity(200 + n as usize * (100 + words * 8));
    // Writing to a String cannot fail.
    let _ = write!(out, "{{\"id\":\"bench-{seed:016x}\",\"object\":\"chat.completion\",\"created\":0,\"model\":{model},\"choices\":[");
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        // The vocabulary needs no escaping.
        let text = words_text(seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15), words);
        let _ = write!(out, "{{\"index\":{i},\"message\":{{\"role\":\"assistant\",\"content\":\"{text}\"}},\"finish_reason\":\"stop\"}}");
    }
    let total = prompt_tokens as u64 + completion_tokens;
    let _ = write!(out, "],\"usage\":{{\"prompt_tokens\":{prompt_tokens},\"completion_tokens\":{completion_tokens},\"total_tokens\":{total}}}}}");
    Ok(out)
}

/// The fields of a well-formed request that the answer depends on, borrowed from the body.
#[derive(Deserialize)]
struct Fast<'a> {
    #[serde(borrow)]
    messages: Vec<FastMessage<'a>>,
    #[serde(default)]
    n: Option<u64>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct FastMessage<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
}

/// Model, prompt words and `n` of any body, or what is wrong with it.
fn read_slowly(body: &[u8]) -> Result<(String, usize, u64), String> {
    let req: Value =
        serde_json::from_slice(body).map_err(|e| format!("the request body is not JSON: {e}"))?;
    let Some(obj) = req.as_object() else {
        return Err("the request body must be a JSON object".into());
    };
    let messages = match obj.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => return Err("`messages` is empty".into()),
        Some(_) => return Err("`messages` must be an array".into()),
        None => return Err("`messages` is missing".into()),
    };
    let n = match obj.get("n") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_N).contains(&n) => n,
            _ => return Err(format!("`n` must be an integer from 1 to {MAX_N}, got {v}")),
        },
    };
    let model = obj.get("model").and_then(Value::as_str).unwrap_or("bench");
    let prompt_tokens: usize = messages
        .iter()
        .filter_map(|m| m.get("content").and_then(Value::as_str))
        .map(|c| c.split_whitespace().count())
        .sum();
    Ok((model.to_string(), prompt_tokens, n))
}

/// FNV-1a: a stable hash with no dependency, enough to make answers differ.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// SplitMix64, so that a seed gives a stream of well-mixed numbers.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A large enough vocabulary that random texts share almost no word 5-grams, so that the
/// curator keeps them (a benchmark of requests should not end with everything deduplicated).
const VOCABULARY: [&str; 64] = [
    "the",
    "model",
    "writes",
    "data",
    "about",
    "a",
    "river",
    "that",
    "learns",
    "slowly",
    "while",
    "every",
    "city",
    "keeps",
    "its",
    "own",
    "memory",
    "of",
    "light",
    "and",
    "stone",
    "through",
    "winter",
    "markets",
    "trade",
    "salt",
    "for",
    "copper",
    "because",
    "old",
    "maps",
    "show",
    "roads",
    "where",
    "none",
    "remain",
    "scholars",
    "argue",
    "this",
    "proves",
    "nothing",
    "yet",
    "farmers",
    "plant",
    "barley",
    "near",
    "quiet",
    "harbours",
    "under",
    "changing",
    "skies",
    "so",
    "history",
    "bends",
    "toward",
    "patient",
    "questions",
    "careful",
    "answers",
    "grow",
    "from",
    "small",
    "true",
    "facts",
];

fn words_text(seed: u64, words: usize) -> String {
    let mut state = seed;
    let mut text = String::with_capacity(words * 7);
    for i in 0..words {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(VOCABULARY[(splitmix(&mut state) % VOCABULARY.len() as u64) as usize]);
    }
    if words > 0 {
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"model":"m","messages":[{"role":"user","content":"Write an essay on tides"}],"n":3,"seed":7}"#;

    #[test]
    fn completion_is_deterministic_and_has_n_choices_and_usage() {
        let a = completion(BODY.as_bytes(), 10).unwrap();
        let b = completion(BODY.as_bytes(), 10).unwrap();
        assert_eq!(a, b);
        let choices = a["choices"].as_array().unwrap();
        assert_eq!(choices.len(), 3);
        let texts: Vec<&str> = choices
            .iter()
            .map(|c| c["message"]["content"].as_str().unwrap())
            .collect();
        assert_eq!(texts[0].split_whitespace().count(), 10);
        assert_ne!(texts[0], texts[1], "choices of one request differ");
        assert_eq!(a["usage"]["prompt_tokens"], 5);
        assert_eq!(a["usage"]["completion_tokens"], 30);
        assert_eq!(a["model"], "m");
    }

    #[test]
    fn unusual_bodies_take_the_slow_path_to_the_same_kind_of_answer() {
        // Content as a list of parts (not a string) does not fit the fast path.
        let parts = r#"{"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"user","content":"two words"}],"n":2}"#;
        let a = completion(parts.as_bytes(), 4).unwrap();
        assert_eq!(a["choices"].as_array().unwrap().len(), 2);
        assert_eq!(a["usage"]["prompt_tokens"], 2);
        assert_eq!(a["model"], "bench");
        // Both paths read a plain body alike.
        assert_eq!(read_slowly(BODY.as_bytes()).unwrap(), ("m".to_string(), 5, 3));
        let quoted = BODY.replace(r#""model":"m""#, r#""model":"a \"quoted\" name""#);
        assert_eq!(completion(quoted.as_bytes(), 1).unwrap()["model"], "a \"quoted\" name");
    }

    #[test]
    fn different_requests_get_different_answers() {
        let other = BODY.replace("tides", "glaciers");
        let a = completion(BODY.as_bytes(), 20).unwrap();
        let b = completion(other.as_bytes(), 20).unwrap();
        assert_ne!(
            a["choices"][0]["message"]["content"],
            b["choices"][0]["message"]["content"]
        );
    }

    #[test]
    fn bad_bodies_are_explained() {
        let cases = [
            ("not json", "not JSON"),
            ("[1]", "JSON object"),
            (r#"{"model":"m"}"#, "`messages` is missing"),
            (r#"{"messages":[]}"#, "`messages` is empty"),
            (r#"{"messages":"hi"}"#, "must be an array"),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"n":0}"#,
                "`n` must be an integer from 1 to 128, got 0",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"n":1000}"#,
                "got 1000",
            ),
        ];
        for (body, want) in cases {
            let err = completion(body.as_bytes(), 5).unwrap_err();
            assert!(err.contains(want), "{body}: {err}");
        }
    }

    #[test]
    fn stats_window_spans_first_request_to_last_answer() {
        let s = Stats::new();
        let settings = Settings {
            latency: Duration::from_millis(5),
            words: 1,
        };
        assert_eq!(s.to_json(&settings)["window_seconds"], Value::Null);
        s.first_us.store(1_000_000, Relaxed);
        s.last_us.store(3_500_000, Relaxed);
        s.requests.store(4, Relaxed);
        s.busy_us.store(5_000_000, Relaxed);
        s.peak_in_flight.store(3, Relaxed);
        let j = s.to_json(&settings);
        assert_eq!(j["window_seconds"], 2.5);
        assert_eq!(j["requests"], 4);
        assert_eq!(
            j["mean_in_flight"], 2.0,
            "5 s of requests under way over a 2.5 s window"
        );
        assert_eq!(j["peak_in_flight"], 3);
        s.reset();
        let j = s.to_json(&settings);
        assert_eq!(j["requests"], 0);
        assert_eq!(j["window_seconds"], Value::Null);
        assert_eq!(j["peak_in_flight"], 0);
        assert_eq!(j["mean_in_flight"], Value::Null);
    }
}
