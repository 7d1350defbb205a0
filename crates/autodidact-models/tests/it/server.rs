//! A scripted OpenAI-compatible server on 127.0.0.1, started by each test.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use autodidact_models::ModelConfig;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// What the server does with one request; once the script is used up, it answers normally.
pub enum Reply {
    /// This status, these headers, this body.
    Status(u16, Vec<(&'static str, String)>, String),
    /// A 200 with this raw body.
    Body(String),
    /// Waits this long, then answers normally.
    Slow(Duration),
    /// This status with the request's `Authorization` header echoed in the body.
    EchoAuth(u16),
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub body: Value,
    pub authorization: Option<String>,
    pub at: Instant,
}

pub struct ServerState {
    script: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Answer with `n` choices when asked (false: like llama.cpp server, always one).
    honour_n: bool,
    /// How long every normal answer takes.
    delay: Duration,
}

pub struct Server {
    pub base_url: String,
    state: Arc<ServerState>,
}

pub struct Builder {
    script: Vec<Reply>,
    honour_n: bool,
    delay: Duration,
}

pub fn server() -> Builder {
    Builder {
        script: Vec::new(),
        honour_n: true,
        delay: Duration::ZERO,
    }
}

impl Builder {
    pub fn script(mut self, replies: impl IntoIterator<Item = Reply>) -> Self {
        self.script.extend(replies);
        self
    }

    pub fn ignore_n(mut self) -> Self {
        self.honour_n = false;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub async fn start(self) -> Server {
        crate::init();
        let state = Arc::new(ServerState {
            script: Mutex::new(self.script.into()),
            seen: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            honour_n: self.honour_n,
            delay: self.delay,
        });
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(handle))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server {
            base_url: format!("http://{addr}/v1"),
            state,
        }
    }
}

impl Server {
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn requests(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(SeqCst)
    }

    /// A config for this server with tiny backoffs, so retries are quick.
    pub fn config(&self) -> ModelConfig {
        config(&[&self.base_url])
    }
}

pub fn config(urls: &[&str]) -> ModelConfig {
    ModelConfig {
        model: "test-model".into(),
        base_urls: urls.iter().map(|u| u.to_string()).collect(),
        max_retries: 3,
        backoff_initial_ms: 1,
        backoff_max_ms: 20,
        timeout_secs: 5.0,
        ..ModelConfig::default()
    }
}

/// A URL on which nothing listens: bind a port, then free it.
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

async fn handle(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.in_flight.fetch_add(1, SeqCst) + 1;
    let _guard = InFlight(&state.in_flight);
    state.max_in_flight.fetch_max(now, SeqCst);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let authorization = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap_or("<not text>").to_owned());
    state.seen.lock().unwrap().push(Seen {
        body: body.clone(),
        authorization: authorization.clone(),
        at: Instant::now(),
    });
    let reply = state.script.lock().unwrap().pop_front();
    match reply {
        Some(Reply::Status(status, extra, text)) => {
            let mut response = (StatusCode::from_u16(status).unwrap(), text).into_response();
            for (name, value) in extra {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        Some(Reply::Body(text)) => ([("content-type", "application/json")], text).into_response(),
        Some(Reply::EchoAuth(status)) => (
            StatusCode::from_u16(status).unwrap(),
            format!("bad key: {}", authorization.unwrap_or_default()),
        )
            .into_response(),
        Some(Reply::Slow(wait)) => {
            tokio::time::sleep(wait).await;
            normal(&state, &body).await
        }
        None => normal(&state, &body).await,
    }
}

/// `n` choices (or one, if the server ignores `n`) saying which sample and seed they are.
async fn normal(state: &ServerState, body: &Value) -> Response {
    tokio::time::sleep(state.delay).await;
    let n = if state.honour_n {
        body["n"].as_u64().unwrap_or(1)
    } else {
        1
    };
    let choices: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "index": i,
                "message": {"role": "assistant", "content": format!("sample {i} seed {}", body["seed"])},
                "finish_reason": "stop",
            })
        })
        .collect();
    axum::Json(json!({
        "id": "x",
        "object": "chat.completion",
        "choices": choices,
        "usage": {"prompt_tokens": 10, "completion_tokens": 5 * n, "total_tokens": 10 + 5 * n},
    }))
    .into_response()
}
