//! What is sent and what comes back, when the server behaves.

use std::time::Duration;

use autodidact_models::{AnyModel, Completion, Message, Model, Usage, UsageTotals};
use serde_json::json;

use crate::server::{Reply, server};
use crate::{ask, model};

#[tokio::test]
async fn success_counts_usage_and_cost() {
    let srv = server().start().await;
    let mut cfg = srv.config();
    cfg.price_input_per_mtok = Some(2.0);
    cfg.price_output_per_mtok = Some(8.0);
    let m = model(&cfg);
    let r = m.chat(&ask("hi")).await.unwrap();
    assert_eq!(
        r.choices,
        [Completion {
            text: "sample 0 seed null".into(),
            finish_reason: Some("stop".into())
        }]
    );
    assert_eq!(
        r.usage,
        Usage {
            prompt_tokens: 10,
            completion_tokens: 5
        }
    );
    m.chat(&ask("again")).await.unwrap();
    let totals = m.usage();
    let cost = totals.cost_usd.unwrap();
    assert!(
        (cost - (20.0 * 2.0 + 10.0 * 8.0) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    assert_eq!(
        totals,
        UsageTotals {
            requests: 2,
            retries: 0,
            failures: 0,
            prompt_tokens: 20,
            completion_tokens: 10,
            cost_usd: Some(cost),
        }
    );
    assert_eq!(m.model_name(), "test-model");

    // Without both prices there is no cost.
    cfg.price_output_per_mtok = None;
    let m = model(&cfg);
    m.chat(&ask("hi")).await.unwrap();
    assert_eq!(m.usage().cost_usd, None);
}

#[tokio::test]
async fn request_body_carries_exactly_what_is_set() {
    let srv = server().start().await;
    let schema =
        json!({"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}});
    let m = model(&srv.config());
    let full = autodidact_models::ChatRequest {
        messages: vec![
            Message::system("sys"),
            Message::user("u"),
            Message::assistant("a"),
        ],
        temperature: Some(0.5),
        top_p: Some(0.9),
        max_tokens: Some(32),
        n: 2,
        seed: Some(11),
        stop: vec!["END".into()],
        response_format: Some(schema.clone()),
    };
    assert_eq!(m.chat(&full).await.unwrap().choices.len(), 2);
    m.chat(&ask("bare")).await.unwrap();
    // Config defaults fill what the request leaves unset, and only that.
    let mut cfg = srv.config();
    cfg.temperature = Some(0.1);
    cfg.max_tokens = Some(99);
    let with_defaults = model(&cfg);
    with_defaults.chat(&ask("defaults")).await.unwrap();
    with_defaults.chat(&full).await.unwrap();

    let bodies: Vec<_> = srv.seen().into_iter().map(|s| s.body).collect();
    let want = [
        json!({
            "model": "test-model",
            "messages": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "u"},
                {"role": "assistant", "content": "a"},
            ],
            "temperature": 0.5, "top_p": 0.9, "max_tokens": 32, "n": 2, "seed": 11,
            "stop": ["END"], "response_format": schema,
        }),
        // n = 1 and every unset parameter are left out.
        json!({"model": "test-model", "messages": [{"role": "user", "content": "bare"}]}),
        json!({
            "model": "test-model", "messages": [{"role": "user", "content": "defaults"}],
            "temperature": 0.1, "max_tokens": 99,
        }),
        json!({
            "model": "test-model",
            "messages": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "u"},
                {"role": "assistant", "content": "a"},
            ],
            "temperature": 0.5, "top_p": 0.9, "max_tokens": 32, "n": 2, "seed": 11,
            "stop": ["END"], "response_format": schema,
        }),
    ];
    assert_eq!(bodies, want);
}

#[tokio::test]
async fn response_shapes_are_read() {
    /// (text, finish_reason) of each choice.
    type Choices<'a> = &'a [(&'a str, Option<&'a str>)];
    // (body, expected choices)
    let cases: &[(&str, Choices)] = &[
        (
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":null},"finish_reason":"length"}]}"#,
            &[("", Some("length"))],
        ),
        (
            r#"{"choices":[{"index":1,"message":{"content":"b"}},{"index":0,"message":{"content":"a"},"finish_reason":null}],"usage":null}"#,
            &[("a", None), ("b", None)],
        ),
        (
            r#"{"choices":[{"message":{"content":[{"type":"text","text":"x"},{"type":"text","text":"y"}]}}],"usage":{"prompt_tokens":1}}"#,
            &[("xy", None)],
        ),
    ];
    for (body, want) in cases {
        let srv = server()
            .script([Reply::Body(body.to_string())])
            .start()
            .await;
        let m = model(&srv.config());
        let mut req = ask("q");
        req.n = want.len() as u32;
        let got = m.chat(&req).await.unwrap();
        let got: Vec<(&str, Option<&str>)> = got
            .choices
            .iter()
            .map(|c| (c.text.as_str(), c.finish_reason.as_deref()))
            .collect();
        assert_eq!(got, *want, "{body}");
        assert_eq!(srv.requests(), 1, "{body}");
    }
}

#[tokio::test]
async fn n_ignored_by_the_server_is_made_up_with_single_requests() {
    let srv = server().ignore_n().start().await;
    let m = model(&srv.config());
    let mut req = ask("q");
    req.n = 3;
    req.seed = Some(7);
    let first = m.chat(&req).await.unwrap();
    let texts: Vec<_> = first.choices.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        ["sample 0 seed 7", "sample 0 seed 8", "sample 0 seed 9"]
    );
    assert_eq!(
        first.usage,
        Usage {
            prompt_tokens: 30,
            completion_tokens: 15
        }
    );
    let seen = srv.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].body["n"], 3);
    let mut extra: Vec<_> = seen[1..]
        .iter()
        .map(|s| (s.body.get("n").cloned(), s.body["seed"].clone()))
        .collect();
    extra.sort_by_key(|(_, seed)| seed.as_u64());
    assert_eq!(extra, [(None, json!(8)), (None, json!(9))]);

    // Learnt: the next call goes straight to single requests, seeds 7, 8, 9.
    let second = m.chat(&req).await.unwrap();
    assert_eq!(second.choices.len(), 3);
    let seen = srv.seen();
    assert_eq!(seen.len(), 6);
    let mut seeds: Vec<_> = seen[3..]
        .iter()
        .map(|s| {
            assert_eq!(s.body.get("n"), None, "{}", s.body);
            s.body["seed"].as_u64().unwrap()
        })
        .collect();
    seeds.sort();
    assert_eq!(seeds, [7, 8, 9]);
    // Clones share what was learnt.
    m.clone().chat(&req).await.unwrap();
    assert!(srv.seen()[6..].iter().all(|s| s.body.get("n").is_none()));
}

#[tokio::test]
async fn n_honoured_by_the_server_takes_one_request() {
    let srv = server().start().await;
    let m = model(&srv.config());
    let mut req = ask("q");
    req.n = 3;
    assert_eq!(m.chat(&req).await.unwrap().choices.len(), 3);
    assert_eq!(m.chat(&req).await.unwrap().choices.len(), 3);
    assert_eq!(srv.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_never_exceed_the_limit() {
    let srv = server().delay(Duration::from_millis(40)).start().await;
    let mut cfg = srv.config();
    cfg.max_in_flight = 4;
    let m = model(&cfg);
    let calls = (0..40).map(|i| {
        let m = m.clone();
        tokio::spawn(async move { m.chat(&ask(&format!("q{i}"))).await })
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap().unwrap();
    }
    assert_eq!(srv.requests(), 40);
    assert_eq!(srv.max_in_flight(), 4);
    assert_eq!(m.usage().requests, 40);
}

#[tokio::test]
async fn requests_are_spread_over_base_urls() {
    let (a, b) = (server().start().await, server().start().await);
    let m = model(&crate::server::config(&[&a.base_url, &b.base_url]));
    for i in 0..10 {
        m.chat(&ask(&format!("q{i}"))).await.unwrap();
    }
    assert_eq!((a.requests(), b.requests()), (5, 5));
}

#[tokio::test]
async fn a_failing_base_url_is_skipped() {
    let live = server().start().await;
    let dead = crate::server::dead_url();
    let mut cfg = crate::server::config(&[&dead, &live.base_url]);
    cfg.backoff_initial_ms = 50;
    cfg.backoff_max_ms = 2_000;
    let m = model(&cfg);
    for i in 0..10 {
        m.chat(&ask(&format!("q{i}"))).await.unwrap();
    }
    assert_eq!(live.requests(), 10);
    let totals = m.usage();
    // Without skipping, every other call would start on the dead server (5 retries).
    assert!((1..=2).contains(&totals.retries), "{totals:?}");
    assert_eq!(totals.failures, 0);
}

#[tokio::test]
async fn any_model_passes_calls_on() {
    let srv = server().start().await;
    let any: AnyModel = srv
        .config()
        .build("writer", tokio_util::sync::CancellationToken::new())
        .unwrap();
    async fn through_trait(m: &impl Model) -> usize {
        let mut req = ask("q");
        req.n = 2;
        m.chat(&req).await.unwrap().choices.len()
    }
    assert_eq!(through_trait(&any).await, 2);
    assert_eq!(any.chat(&ask("q")).await.unwrap().choices.len(), 1);
    assert_eq!(Model::model_name(&any), "test-model");
    assert_eq!(any.usage().requests, 2);
    assert_eq!(srv.requests(), 2);
}
