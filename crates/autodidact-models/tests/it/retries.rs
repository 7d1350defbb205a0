//! Misbehaving servers: errors, overload, slowness, garbage, absence; and cancellation.

use std::time::{Duration, Instant};

use autodidact_models::ModelError;
use tokio_util::sync::CancellationToken;

use crate::server::{Reply, dead_url, server};
use crate::{ask, model, model_with};

fn status(code: u16) -> Reply {
    Reply::Status(code, vec![], format!("status {code}"))
}

/// What a call ended with, in a form that compares across runs.
#[derive(Debug, PartialEq)]
enum Outcome {
    Ok,
    Http(u16),
    Decode,
    NoChoices,
}

fn outcome(result: &Result<autodidact_models::ChatResponse, ModelError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(ModelError::Http { status, .. }) => Outcome::Http(*status),
        Err(ModelError::Decode { .. }) => Outcome::Decode,
        Err(ModelError::NoChoices { .. }) => Outcome::NoChoices,
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test]
async fn retry_policy() {
    const TRUNCATED: &str = r#"{"choices":[{"index":0,"message":{"content":"hal"#;
    // (script, outcome, requests the server saw); max_retries is 3.
    let cases: Vec<(&str, Vec<Reply>, Outcome, usize)> = vec![
        ("500 twice", vec![status(500), status(500)], Outcome::Ok, 3),
        (
            "retryable statuses",
            vec![status(408), status(409), status(502)],
            Outcome::Ok,
            4,
        ),
        (
            "503 then 504",
            vec![status(503), status(504)],
            Outcome::Ok,
            3,
        ),
        (
            "truncated JSON",
            vec![Reply::Body(TRUNCATED.into())],
            Outcome::Ok,
            2,
        ),
        (
            "not JSON",
            vec![Reply::Body("<html>".into())],
            Outcome::Ok,
            2,
        ),
        (
            "error object with 200",
            vec![Reply::Body(r#"{"error":{"message":"busy"}}"#.into())],
            Outcome::Ok,
            2,
        ),
        ("400", vec![status(400)], Outcome::Http(400), 1),
        ("401", vec![status(401)], Outcome::Http(401), 1),
        ("404", vec![status(404)], Outcome::Http(404), 1),
        ("422", vec![status(422)], Outcome::Http(422), 1),
        (
            "500 for ever",
            (0..4).map(|_| status(500)).collect(),
            Outcome::Http(500),
            4,
        ),
        (
            "garbage for ever",
            (0..4).map(|_| Reply::Body(TRUNCATED.into())).collect(),
            Outcome::Decode,
            4,
        ),
        (
            "no choices",
            vec![Reply::Body(r#"{"choices":[]}"#.into())],
            Outcome::NoChoices,
            1,
        ),
    ];
    for (name, script, want, requests) in cases {
        let srv = server().script(script).start().await;
        let m = model(&srv.config());
        let result = m.chat(&ask("q")).await;
        assert_eq!(outcome(&result), want, "{name}: {result:?}");
        assert_eq!(srv.requests(), requests, "{name}");
        let totals = m.usage();
        assert_eq!(totals.requests, requests as u64, "{name}");
        let failed = want != Outcome::Ok;
        // Every request but the first was a retry.
        assert_eq!(totals.retries, requests as u64 - 1, "{name}");
        assert_eq!(totals.failures, u64::from(failed), "{name}");
    }
}

#[tokio::test]
async fn http_error_keeps_the_start_of_the_body() {
    let long = format!("model 'x' not found {}", "z".repeat(500));
    let srv = server()
        .script([Reply::Status(404, vec![], long.clone())])
        .start()
        .await;
    let err = model(&srv.config()).chat(&ask("q")).await.unwrap_err();
    match &err {
        ModelError::Http { url, status, body } => {
            assert_eq!(*status, 404);
            assert_eq!(url, &format!("{}/chat/completions", srv.base_url));
            assert_eq!(body, &long[..200]);
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_unreachable());
    assert!(err.to_string().contains("model 'x' not found"), "{err}");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let srv = server()
        .script([Reply::Status(
            429,
            vec![("retry-after", "1".into())],
            "slow down".into(),
        )])
        .start()
        .await;
    let mut cfg = srv.config();
    cfg.backoff_max_ms = 1_000; // the jittered backoff alone stays far below 1 s
    cfg.backoff_initial_ms = 1;
    let m = model(&cfg);
    let start = Instant::now();
    m.chat(&ask("q")).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let seen = srv.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].at - seen[0].at >= Duration::from_secs(1));
    assert_eq!(m.usage().retries, 1);
}

#[tokio::test]
async fn retry_after_is_capped() {
    let srv = server()
        .script([Reply::Status(
            503,
            vec![("retry-after", "3600".into())],
            "".into(),
        )])
        .start()
        .await;
    let mut cfg = srv.config();
    cfg.backoff_max_ms = 50; // cap: 4 × 50 ms
    let start = Instant::now();
    model(&cfg).chat(&ask("q")).await.unwrap();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn slow_response_times_out_then_retries() {
    let srv = server()
        .script([Reply::Slow(Duration::from_secs(3))])
        .start()
        .await;
    let mut cfg = srv.config();
    cfg.timeout_secs = 0.3;
    let m = model(&cfg);
    let start = Instant::now();
    m.chat(&ask("q")).await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(srv.requests(), 2);
    assert_eq!(m.usage().retries, 1);

    // Always slow: the timeout is the error.
    let srv = server().delay(Duration::from_secs(3)).start().await;
    let mut cfg = srv.config();
    cfg.timeout_secs = 0.2;
    cfg.max_retries = 1;
    let err = model(&cfg).chat(&ask("q")).await.unwrap_err();
    assert!(
        matches!(err, ModelError::Timeout { secs, .. } if secs == 0.2),
        "{err:?}"
    );
    assert!(!err.is_unreachable());
}

#[tokio::test]
async fn connection_refused_is_unreachable_after_retries() {
    let url = dead_url();
    let m = model(&crate::server::config(&[&url]));
    let err = m.chat(&ask("q")).await.unwrap_err();
    match &err {
        ModelError::Connect { url: got, message } => {
            assert_eq!(got, &format!("{url}/chat/completions"));
            assert!(message.to_lowercase().contains("refused"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_unreachable());
    let totals = m.usage();
    assert_eq!(
        (totals.requests, totals.retries, totals.failures),
        (4, 3, 1)
    );
}

#[tokio::test]
async fn cancelled_before_the_call_sends_nothing() {
    let srv = server().start().await;
    let cancel = CancellationToken::new();
    let m = model_with(&srv.config(), cancel.clone());
    cancel.cancel();
    assert_eq!(m.chat(&ask("q")).await.unwrap_err(), ModelError::Cancelled);
    assert_eq!(srv.requests(), 0);
    assert_eq!(m.usage().failures, 0);
}

#[tokio::test]
async fn cancel_ends_a_backoff_sleep_early() {
    let srv = server()
        .script([Reply::Status(
            503,
            vec![("retry-after", "30".into())],
            "".into(),
        )])
        .start()
        .await;
    let mut cfg = srv.config();
    cfg.backoff_max_ms = 10_000; // lets the server's 30 s stand (capped at 40 s)
    let cancel = CancellationToken::new();
    let m = model_with(&cfg, cancel.clone());
    let start = Instant::now();
    let canceller = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            cancel.cancel();
        })
    };
    assert_eq!(m.chat(&ask("q")).await.unwrap_err(), ModelError::Cancelled);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(srv.requests(), 1);
    canceller.await.unwrap();
}

#[tokio::test]
async fn an_attempt_already_sent_may_finish() {
    let srv = server().delay(Duration::from_millis(300)).start().await;
    let cancel = CancellationToken::new();
    let m = model_with(&srv.config(), cancel.clone());
    let call = tokio::spawn({
        let m = m.clone();
        async move { m.chat(&ask("q")).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(srv.requests(), 1, "the attempt should be under way");
    cancel.cancel();
    let response = call.await.unwrap().unwrap();
    assert_eq!(response.choices.len(), 1);
    // ...but nothing new starts.
    assert_eq!(m.chat(&ask("q")).await.unwrap_err(), ModelError::Cancelled);
    assert_eq!(srv.requests(), 1);
}
