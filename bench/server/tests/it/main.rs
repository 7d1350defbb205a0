//! The real server binary on 127.0.0.1, driven by the engine's own OpenAI client and by plain
//! HTTP.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use autodidact_models::{ChatRequest, Message, ModelConfig};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A running server process, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(latency_ms: u64) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_autodidact-bench-server"))
            .args([
                "--port",
                "0",
                "--latency-ms",
                &latency_ms.to_string(),
                "--words",
                "12",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the address line");
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Server { child, base: addr }
    }

    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/stats", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn writer(base: &str, max_in_flight: usize) -> autodidact_models::AnyModel {
    let cfg = ModelConfig {
        model: "bench".into(),
        base_url: Some(format!("{base}/v1")),
        max_in_flight,
        max_retries: 0,
        ..ModelConfig::default()
    };
    cfg.build("writer", CancellationToken::new())
        .expect("build the client")
}

fn request(topic: &str, n: u32) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::user(format!("Write an essay on {topic}"))],
        n,
        seed: Some(1),
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn the_engine_client_reads_its_answers_after_the_latency() {
    let server = Server::start(120);
    let model = writer(&server.base, 4);
    let started = Instant::now();
    let a = model
        .chat(&request("tides", 3))
        .await
        .expect("a valid completion");
    assert!(
        started.elapsed() >= Duration::from_millis(120),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(a.choices.len(), 3);
    assert_eq!(a.choices[0].text.split_whitespace().count(), 12);
    assert_eq!(a.usage.completion_tokens, 36);
    assert_eq!(
        a.usage.prompt_tokens, 5,
        "words of \"Write an essay on tides\""
    );
    let again = model.chat(&request("tides", 3)).await.unwrap();
    let other = model.chat(&request("glaciers", 3)).await.unwrap();
    assert_eq!(
        a.choices[0].text, again.choices[0].text,
        "same request, same answer"
    );
    assert_ne!(
        a.choices[0].text, other.choices[0].text,
        "another topic, another answer"
    );
    assert_eq!(server.stats().await["requests"], 3);
}

/// The server must not be the bottleneck: concurrent requests wait their latency side by
/// side, not one after another.
#[tokio::test]
async fn concurrent_requests_overlap() {
    let server = Server::start(200);
    let model = writer(&server.base, 50);
    let started = Instant::now();
    let requests: Vec<ChatRequest> = (0..50).map(|i| request(&format!("topic {i}"), 1)).collect();
    let answers = futures::future::join_all(requests.iter().map(|r| model.chat(r))).await;
    let took = started.elapsed();
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    // One after another would take 10 s; side by side, one latency plus overhead.
    assert!(
        took < Duration::from_millis(1500),
        "50 requests took {took:?}"
    );
    let stats = server.stats().await;
    assert_eq!(stats["requests"], 50);
    assert_eq!(stats["answered"], 50);
    let window = stats["window_seconds"]
        .as_f64()
        .expect("a window once requests were answered");
    assert!((0.2..1.5).contains(&window), "window {window}");
    assert_eq!(stats["peak_in_flight"], 50, "all 50 were under way at once");
    assert_eq!(stats["in_flight"], 0);
    let mean = stats["mean_in_flight"].as_f64().unwrap();
    assert!(mean > 10.0 && mean <= 50.0, "mean in flight {mean}");
}

#[tokio::test]
async fn bad_requests_get_a_400_that_says_why_and_are_counted() {
    let server = Server::start(1);
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", server.base);
    let cases = [
        ("{", "not JSON"),
        (r#"{"model":"m"}"#, "`messages` is missing"),
        (
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":500}"#,
            "`n` must be",
        ),
    ];
    for (body, want) in cases {
        let resp = client.post(&url).body(body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(want), "{body}: {message}");
    }
    let ok = client
        .post(&url)
        .json(&json!({"messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let stats = server.stats().await;
    assert_eq!(
        (
            stats["requests"].as_u64(),
            stats["answered"].as_u64(),
            stats["bad_requests"].as_u64()
        ),
        (Some(4), Some(1), Some(3))
    );
    let reset: Value = client
        .post(format!("{}/stats/reset", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reset["requests"], 0);
    assert_eq!(server.stats().await["answered"], 0);
}

#[tokio::test]
async fn prints_its_request_count_when_stopped() {
    let mut server = Server::start(1);
    let model = writer(&server.base, 2);
    for t in ["a", "b"] {
        model.chat(&request(t, 1)).await.unwrap();
    }
    let pid = server.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut stderr = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("2 chat requests received"), "{stderr:?}");
}

/// wrk closes its connections with requests still waiting: those must not stay counted as
/// under way, or the next phase's peak would include them.
#[tokio::test]
async fn a_client_that_disconnects_mid_wait_leaves_nothing_under_way() {
    let server = Server::start(5_000);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let body = json!({"messages": [{"role": "user", "content": "hi"}]});
    let err = client
        .post(format!("{}/v1/chat/completions", server.base))
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    drop(client);
    let mut under_way = None;
    for _ in 0..40 {
        let stats = server.stats().await;
        under_way = stats["in_flight"].as_u64();
        if under_way == Some(0) && stats["requests"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(under_way, Some(0));
}
