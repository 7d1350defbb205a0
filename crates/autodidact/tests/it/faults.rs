//! A misbehaving server: overload, errors, timeouts, broken bodies, a judge that rambles or
//! talks nonsense, a server that ignores `n`. The run rides it out and accounts for every
//! record.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use autodidact_data::Verdict;

use crate::server::{Behaviour, Fault, FaultPlan, JudgeStyle, Kind, Seen, TestServer, expected_grade, judge_style};
use crate::util::{Cfg, Sandbox, category, gen_dir, id_counts, json, records};

const RUBRIC: &str = r#"version = 1
scale = 10

[[criteria]]
name = "accuracy"
description = "Says nothing false."
weight = 3.0

[[criteria]]
name = "clarity"
description = "Easy to follow."
weight = 1.0

[[criteria]]
name = "depth"
description = "Goes beyond the obvious."
weight = 2.0
"#;
const CRITERIA: &[(&str, f64)] = &[("accuracy", 3.0), ("clarity", 1.0), ("depth", 2.0)];

/// The client's timeout; a slow answer takes longer than this.
const TIMEOUT_SECS: f64 = 2.0;

fn kind_name(f: &Fault) -> &'static str {
    match f {
        Fault::RateLimit => "429",
        Fault::ServerError => "500",
        Fault::Slow(_) => "timeout",
        Fault::Malformed => "malformed",
        Fault::Truncated => "truncated",
        Fault::EchoAuth => "echo",
    }
}

#[test]
fn a_misbehaving_server_is_ridden_out_and_every_record_accounted_for() {
    // Every fourth request fails on its first attempt, in turn: 429, 500, malformed JSON,
    // a truncated body, an answer slower than the client's timeout. Retries succeed.
    let plan: FaultPlan = Arc::new(|s: &Seen| {
        if s.attempt != 1 || s.total % 4 != 1 {
            return None;
        }
        Some(match (s.total / 4) % 5 {
            0 => Fault::RateLimit,
            1 => Fault::ServerError,
            2 => Fault::Malformed,
            3 => Fault::Truncated,
            _ => Fault::Slow(Duration::from_secs_f64(TIMEOUT_SECS * 2.5)),
        })
    });
    let server = TestServer::start(Behaviour { faults: Some(plan), judge_quirks: true, ..Behaviour::default() });
    let sb = Sandbox::new();
    sb.topics(12);
    sb.write("rubric.toml", RUBRIC);
    let mut cfg = Cfg::new(&server.url());
    cfg.timeout_secs = TIMEOUT_SECS;
    cfg.max_retries = 3;
    // A Retry-After of 1 s is honoured up to 4 × backoff_max_ms.
    cfg.backoff_max_ms = 400;
    cfg.grade_extra = "rubric = \"rubric.toml\"\n".into();
    cfg.write(&sb);

    sb.run("out", &[]).expect_code(0);
    let dir = sb.path().join("out");
    let stats = server.stats();

    // Every kind of fault happened, each once per body, and each body got through on its retry.
    let faulted: BTreeMap<String, Fault> = stats.faults.iter().cloned().collect();
    assert_eq!(faulted.len(), stats.faults.len(), "a body was faulted twice");
    let kinds: HashSet<&str> = faulted.values().map(kind_name).collect();
    assert_eq!(kinds.len(), 5, "every fault was served: {kinds:?}");
    for (body, n) in &stats.received {
        let want = if faulted.contains_key(body) { 2 } else { 1 };
        assert_eq!(*n, want, "body {body} (fault {:?}) was received {n} times", faulted.get(body));
        assert_eq!(stats.answered.get(body), Some(&1), "body {body} was answered once");
    }
    // Retry-After: 1 was waited for.
    for (body, f) in &faulted {
        if *f == Fault::RateLimit {
            let at = &stats.arrivals[body];
            let gap = at[1] - at[0];
            assert!(gap >= Duration::from_millis(950), "retried after {gap:?} despite Retry-After: 1");
        }
    }
    let summary = json(&dir.join("summary.json"));
    let usage = &summary["usage"]["writer"];
    assert_eq!(usage["retries"], faulted.len(), "the client counted every retry");
    assert_eq!(usage["failures"], 0);
    assert_eq!(usage["requests"], stats.total);

    // Every record accounted for; the judge's answers read in every form they came in.
    let gd = gen_dir(&dir, 0);
    let generated = records(&gd.join("generated.parquet"));
    let graded = records(&gd.join("graded.parquet"));
    let curated = records(&gd.join("curated.parquet"));
    let rejected = records(&gd.join("rejected.parquet"));
    assert_eq!(generated.len(), 24);
    assert!(generated.iter().all(|r| r.verdict == Verdict::Pending), "no generation failed");
    assert_eq!(id_counts(&graded), id_counts(curated.iter().chain(&rejected)));
    let mut styles: BTreeMap<String, usize> = BTreeMap::new();
    for r in &graded {
        let style = judge_style(&r.response);
        *styles.entry(format!("{style:?}")).or_default() += 1;
        if style == JudgeStyle::GarbageTwice {
            assert_eq!(r.verdict, Verdict::Rejected, "{r:?}");
            assert!(r.reason.as_deref().unwrap().starts_with("grading failed"), "{r:?}");
            assert_eq!(r.score, None);
            let g = r.grade("judge").expect("the failed grade is recorded");
            assert!(g.error.is_some(), "{g:?}");
        } else {
            let want = expected_grade(&r.response, CRITERIA);
            let got = r.score.unwrap_or_else(|| panic!("{style:?} answer not read: {r:?}"));
            assert!((got - want).abs() < 1e-9, "{style:?}: score {got}, the judge's scores give {want}");
        }
    }
    for style in ["Json", "Prose", "GarbageOnce", "GarbageTwice"] {
        assert!(styles.contains_key(style), "no record met a {style} judge: {styles:?}");
    }
    let garbage = styles.get("GarbageTwice").copied().unwrap_or(0);
    let follow_ups = garbage + styles.get("GarbageOnce").copied().unwrap_or(0);
    assert_eq!(stats.bodies_of(Kind::JudgeFollowUp), follow_ups, "one follow-up per unreadable answer");
    let metrics = json(&gd.join("metrics.json"));
    assert_eq!(metrics["grading_failures"], garbage);
    assert_eq!(metrics["rejected_by"]["grading_failed"], garbage);
    assert_eq!(metrics["graded"], graded.len() - garbage);
    let failed_reasons =
        rejected.iter().filter(|r| category(r.reason.as_deref().unwrap_or("")) == "grading_failed").count();
    assert_eq!(failed_reasons, garbage);
}

#[test]
fn a_server_that_ignores_n_still_gives_per_seed_samples() {
    let server = TestServer::start(Behaviour { ignore_n: true, ..Behaviour::default() });
    let sb = Sandbox::new();
    sb.topics(5);
    let mut cfg = Cfg::new(&server.url());
    cfg.per_seed = 3;
    cfg.judge = false;
    cfg.write(&sb);
    sb.run("out", &[]).expect_code(0);

    let generated = records(&gen_dir(&sb.path().join("out"), 0).join("generated.parquet"));
    assert_eq!(generated.len(), 15);
    let mut per_parent: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for r in &generated {
        per_parent.entry(r.parent.clone().unwrap()).or_default().insert(r.response.clone());
    }
    assert_eq!(per_parent.len(), 5);
    assert!(per_parent.values().all(|s| s.len() == 3), "three different samples per seed: {per_parent:?}");
    let stats = server.stats();
    assert!(stats.received.values().all(|&n| n == 1), "no request repeated");
    // One request per sample, plus those that asked for three before the client learnt.
    let writes = stats.bodies_of(Kind::Write);
    assert!((15..=15 + 4).contains(&writes), "{writes} writer requests");
    // Without a judge nothing is graded, and nothing is rejected for want of a grade.
    let curated = records(&gen_dir(&sb.path().join("out"), 0).join("curated.parquet"));
    assert_eq!(curated.len(), 15);
}
