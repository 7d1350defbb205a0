//! `autodidact eval-guards`: the guards measured on labelled data, figures computed in the run.

use std::path::PathBuf;

use serde_json::Value;

use crate::util::{Sandbox, run};

fn data(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(name)
}

fn eval(sb: &Sandbox, extra: &[&str]) -> Value {
    let mut args = vec!["eval-guards", "--json"];
    args.extend_from_slice(extra);
    let out = run(sb.cmd(&args));
    out.expect_code(0);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// Every report's counts add up to its cases, and its rates are its counts' rates.
fn check_consistent(reports: &Value, cases: u64, corrupted: u64) {
    for r in reports.as_array().unwrap() {
        let c = &r["confusion"];
        let n = |k: &str| c[k].as_u64().unwrap();
        let (tp, fp, tn, fn_) = (n("true_positives"), n("false_positives"), n("true_negatives"), n("false_negatives"));
        assert_eq!((tp + fp + tn + fn_, tp + fn_), (cases, corrupted), "{r}");
        let precision = if tp + fp == 0 { 1.0 } else { tp as f64 / (tp + fp) as f64 };
        assert!((r["precision"].as_f64().unwrap() - precision).abs() < 1e-12, "{r}");
        assert!((r["recall"].as_f64().unwrap() - tp as f64 / (tp + fn_) as f64).abs() < 1e-12, "{r}");
    }
}

#[test]
fn guards_are_measured_on_a_slice_of_gsm8k_and_shakespeare() {
    let sb = Sandbox::new();
    let (g, t) = (data("gsm8k-test.jsonl"), data("tinyshakespeare.txt"));
    let r = eval(&sb, &["--gsm8k", g.to_str().unwrap(), "--text", t.to_str().unwrap(), "--limit", "60"]);
    assert_eq!((r["math_cases"].as_u64(), r["math_corrupted"].as_u64()), (Some(120), Some(60)));
    check_consistent(&r["math"], 120, 60);
    let cases = r["grounding_cases"].as_u64().unwrap();
    let corrupted = r["grounding_corrupted"].as_u64().unwrap();
    assert!(cases >= 200 && corrupted >= 100, "{r}");
    let grounding = r["grounding"].as_array().unwrap();
    // Per source, then all sources: the last report covers every case.
    check_consistent(&Value::Array(vec![grounding.last().unwrap().clone()]), cases, corrupted);
    // The checks catch most corruptions and few faithful items (the full set's figures are
    // in BENCHMARKS.md; a slice is noisier).
    let all_math = &r["math"][2];
    assert_eq!(all_math["check"], "all checks");
    assert!(all_math["recall"].as_f64().unwrap() > 0.9 && all_math["precision"].as_f64().unwrap() > 0.9, "{all_math}");
    let all_grounding = grounding.last().unwrap();
    assert!(all_grounding["recall"].as_f64().unwrap() > 0.8 && all_grounding["precision"].as_f64().unwrap() > 0.9, "{all_grounding}");
    // Another seed corrupts other items.
    let other = eval(&sb, &["--gsm8k", g.to_str().unwrap(), "--text", t.to_str().unwrap(), "--limit", "60", "--seed", "7"]);
    assert_ne!(other["grounding"], r["grounding"]);
}

#[test]
fn a_wrong_solution_in_the_data_is_a_false_alarm_counted_as_such() {
    let sb = Sandbox::new();
    // The second solution is wrong as written (5 * 3 is not 16): the verifier flags it, and
    // the figures say so.
    let gsm = sb.write(
        "gsm.jsonl",
        concat!(
            r#"{"question": "Tom has 2 apples and buys 3 more. How many?", "answer": "He has 2+3=<<2+3=5>>5 apples.\n#### 5"}"#,
            "\n",
            r#"{"question": "Ann buys 5 packs of 3 pens. How many pens?", "answer": "She has 5*3=<<5*3=16>>16 pens.\n#### 16"}"#,
            "\n"
        ),
    );
    let play = sb.write("play.txt", "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\nArise, fair sun, and kill the envious moon.\n");
    let r = eval(&sb, &["--gsm8k", gsm.to_str().unwrap(), "--text", play.to_str().unwrap()]);
    assert_eq!(r["math_cases"], 4);
    let steps = &r["math"][0]["confusion"];
    assert_eq!((steps["false_positives"].as_u64(), steps["true_negatives"].as_u64()), (Some(1), Some(1)), "{}", r["math"][0]);
    assert!(r["math"][0]["false_alarms"][0].as_str().unwrap().contains("5*3 is 15, not 16"), "{}", r["math"][0]);
    check_consistent(&r["math"], 4, 2);

    let missing = run(sb.cmd(&["eval-guards", "--gsm8k", "nope.jsonl"]));
    missing.expect_code(2);
    assert!(missing.stderr.contains("nope.jsonl") && missing.stderr.contains("--gsm8k"), "{}", missing.stderr);
    let bad = sb.write("bad.jsonl", "{\"question\": \"q\"}\n");
    let out = run(sb.cmd(&["eval-guards", "--gsm8k", bad.to_str().unwrap(), "--text", play.to_str().unwrap()]));
    out.expect_code(2);
    assert!(out.stderr.contains("bad.jsonl' line 1") && out.stderr.contains("answer"), "{}", out.stderr);
}

/// A `qa-from-docs` run over four documents with the guards on; `extra` goes into `[grade]`.
fn qa_run(sb: &Sandbox, url: &str, extra: &str, curate: &str) -> PathBuf {
    let docs: Vec<String> = (0..4)
        .map(|i| {
            serde_json::json!({"document": format!(
                "Captain Ahab{i} sailed the Pequod from Nantucket in {}. The crew of {} men hunted whales for three years. Ishmael{i} kept the log of every voyage. The ship sank near the equator in {}.",
                1840 + i, 30 + i, 1850 + i
            )})
            .to_string()
        })
        .collect();
    sb.write("docs.jsonl", &(docs.join("\n") + "\n"));
    let cfg = format!(
        r#"[run]
generations = 1
seed = 3

[models.writer]
backend = "openai"
model = "test-model"
base_url = "{url}"
max_in_flight = 4
max_retries = 2
backoff_initial_ms = 10
backoff_max_ms = 50

[generate]
task = "qa-from-docs"
seeds = "docs.jsonl"
per_seed = 3

[grade]
judge = "writer"
{extra}

[curate]
near_duplicates = false
{curate}
"#
    );
    sb.write("qa.toml", &cfg);
    sb.path().join("out")
}

fn grade_of<'a>(r: &'a autodidact_data::Record, grader: &str) -> &'a autodidact_data::Grade {
    r.grades.iter().find(|g| g.grader == grader).unwrap_or_else(|| panic!("no {grader} grade: {r:?}"))
}

#[test]
fn guards_in_the_loop_reject_fabricated_answers_naming_the_guard() {
    use crate::server::{Behaviour, FABRICATED, Kind, TestServer};
    use crate::util::{gen_dir, json, records};

    let server = TestServer::start(Behaviour::default());
    let sb = Sandbox::new();
    let out = qa_run(&sb, &server.url(), "grounding = { judge = true }\nconsistency = { samples = 3, min = 0.5 }", "min_score = false");
    let o = run(sb.cmd(&["run", "qa.toml", "--out", out.to_str().unwrap()]));
    o.expect_code(0);
    let g0 = gen_dir(&out, 0);
    let kept = records(&g0.join("curated.parquet"));
    let rejected = records(&g0.join("rejected.parquet"));
    assert_eq!(kept.len() + rejected.len(), 12);
    // The fabricated answer of each document is rejected by grounding, the first guard, with
    // what is missing and what the judge said.
    assert_eq!(rejected.len(), 4, "{rejected:?}");
    for r in &rejected {
        assert_eq!(r.response, FABRICATED);
        let reason = r.reason.as_deref().unwrap();
        assert!(reason.starts_with("grounding: unsupported by the context: \"The document also reports"), "{reason}");
        assert!(reason.contains("number 4217 is not in the context") && reason.contains("name zanzibar") && reason.contains("the judge says not in context"), "{reason}");
        assert_eq!(grade_of(r, "grounding").score, Some(0.0));
        // The samples answer with the document's sentence: the fabrication gets no support.
        assert!(grade_of(r, "consistency").score.unwrap() < 0.2, "{:?}", grade_of(r, "consistency"));
    }
    for r in &kept {
        assert_eq!(grade_of(r, "grounding").score, Some(1.0), "{r:?}");
        assert!(grade_of(r, "consistency").score.unwrap() >= 0.5, "{r:?}");
    }
    let m = json(&g0.join("metrics.json"));
    assert_eq!(m["rejected_by"]["grounding"], 4);
    let stats = server.stats();
    // One claim request per claim of each answer (one sentence each), one sampling request per record.
    assert_eq!(stats.bodies_of(Kind::Claim), 12);
    assert_eq!(stats.bodies_of(Kind::Sample), 12);
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("Hallucination guards: an example") && report.contains("Zanzibar"), "the report shows the guard's example");

    // Resumed: every guard's request is answered from the run store.
    std::fs::remove_file(g0.join("graded.parquet")).unwrap();
    let before = server.stats().total;
    let db = rusqlite::Connection::open(out.join("run.db")).unwrap();
    db.execute("DELETE FROM stages WHERE stage IN ('grade', 'curate')", []).unwrap();
    drop(db);
    run(sb.cmd(&["run", "qa.toml", "--out", out.to_str().unwrap()])).expect_code(0);
    assert_eq!(server.stats().total, before, "no request sent twice");
    assert_eq!(records(&g0.join("rejected.parquet")).len(), 4);
}

#[test]
fn a_weighted_policy_scores_by_every_grade() {
    use crate::server::{Behaviour, FABRICATED, TestServer};
    use crate::util::{gen_dir, records};

    let server = TestServer::start(Behaviour::default());
    let sb = Sandbox::new();
    let out = qa_run(
        &sb,
        &server.url(),
        "grounding = {}\nconsistency = { samples = 2 }\npolicy = \"weighted\"\nweights = { judge = 1.0, grounding = 2.0, consistency = 1.0 }",
        "min_score = 0.6",
    );
    run(sb.cmd(&["run", "qa.toml", "--out", out.to_str().unwrap()])).expect_code(0);
    let g0 = gen_dir(&out, 0);
    let all: Vec<_> = records(&g0.join("curated.parquet")).into_iter().chain(records(&g0.join("rejected.parquet"))).collect();
    assert_eq!(all.len(), 12);
    for r in &all {
        let judge = grade_of(r, "judge").score.unwrap();
        let (gr, co) = (grade_of(r, "grounding").score.unwrap(), grade_of(r, "consistency").score.unwrap());
        let expected = (judge + 2.0 * gr + co) / 4.0;
        assert!((r.score.unwrap() - expected).abs() < 1e-9, "{r:?}");
        if r.response == FABRICATED {
            assert!(r.reason.as_deref().is_some_and(|s| s.starts_with("score")), "{r:?}");
        }
    }
    // Bad weights are an error naming the key.
    sb.write("qa.toml", &std::fs::read_to_string(sb.path().join("qa.toml")).unwrap().replace("grounding = 2.0", "grounds = 2.0"));
    let o = run(sb.cmd(&["run", "qa.toml", "--out", sb.path().join("o2").to_str().unwrap()]));
    o.expect_code(2);
    assert!(o.stderr.contains("weights") && o.stderr.contains("grounds"), "{}", o.stderr);
}

#[test]
fn eval_guards_measures_the_model_paths_against_a_server_and_caches_them() {
    use crate::server::{Behaviour, Kind, TestServer};

    let server = TestServer::start(Behaviour::default());
    let sb = Sandbox::new();
    // Every answer is the sum of the question's numbers, which is what the scripted server
    // answers: the writer's majority is right, so a changed final answer is caught and a
    // solution as written is not.
    let problems = [
        ("Tom has 2 apples and buys 3 more. How many apples does he have?", "Tom has 2+3=<<2+3=5>>5 apples.\n#### 5"),
        ("A shelf holds 12 books and 7 more arrive. How many books are there?", "There are 12+7=<<12+7=19>>19 books.\n#### 19"),
        ("Mia ran 4 miles on Monday and 6 miles on Tuesday. How far did she run?", "She ran 4+6=<<4+6=10>>10 miles.\n#### 10"),
        ("There are 15 red balls and 9 blue balls. How many balls are there?", "There are 15+9=<<15+9=24>>24 balls.\n#### 24"),
        ("Sam saved 30 dollars and earned 25 more. How many dollars does he have?", "He has 30+25=<<30+25=55>>55 dollars.\n#### 55"),
        ("A farm has 40 cows and 11 goats. How many animals are there?", "There are 40+11=<<40+11=51>>51 animals.\n#### 51"),
    ];
    let lines: Vec<String> = problems.iter().map(|(q, a)| serde_json::json!({"question": q, "answer": a}).to_string()).collect();
    let gsm = sb.write("gsm.jsonl", &(lines.join("\n") + "\n"));
    let play = sb.write(
        "play.txt",
        "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\nArise, fair sun, and kill the envious moon.\n\nJULIET:\nO Romeo, Romeo, wherefore art thou Romeo?\nDeny thy father and refuse thy name.\nOr if thou wilt not, be but sworn my love.\n",
    );
    sb.write(
        "eval.toml",
        &format!(
            "[models.writer]\nbackend = \"openai\"\nmodel = \"test-model\"\nbase_url = \"{}\"\nmax_in_flight = 4\nmax_retries = 1\nbackoff_initial_ms = 10\n\n[generate]\ntask = \"essay\"\n",
            server.url()
        ),
    );
    let args = ["--gsm8k", gsm.to_str().unwrap(), "--text", play.to_str().unwrap(), "--config", "eval.toml", "--samples", "3", "--out", "evalrun"];
    let r = eval(&sb, &args);
    let models = r["models"].as_array().unwrap_or_else(|| panic!("no model figures: {r}"));
    assert_eq!(models.len(), 3, "{r}");
    let cases = r["math_cases"].as_u64().unwrap();
    check_consistent(&Value::Array(vec![models[0].clone()]), cases, r["math_corrupted"].as_u64().unwrap());
    let grounded = (r["grounding_cases"].as_u64().unwrap(), r["grounding_corrupted"].as_u64().unwrap());
    check_consistent(&Value::Array(models[1..].to_vec()), grounded.0, grounded.1);
    let consistency = &models[0];
    assert!(consistency["check"].as_str().unwrap().starts_with("answer consistency (3 samples"), "{consistency}");
    assert_eq!(consistency["confusion"]["false_positives"], 0, "{consistency}");
    assert_eq!(consistency["recall_by_kind"]["final"], 1.0, "{consistency}");
    // A changed step leaves the final answer as it was: consistency cannot see it.
    assert_eq!(consistency["recall_by_kind"]["step"], 0.0, "{consistency}");
    // The scripted judge supports a claim whose every word is in the passage: a swapped name
    // is never supported.
    let judge = &models[1];
    if let Some(name) = judge["recall_by_kind"].get("name") {
        assert_eq!(name, 1.0, "{judge}");
    }
    // The fast path or the judge flags at least what the judge flags.
    let tp = |m: &Value| m["confusion"]["true_positives"].as_u64().unwrap();
    assert!(tp(&models[2]) >= tp(judge), "{r}");
    let stats = server.stats();
    assert_eq!(stats.bodies_of(Kind::Solve), problems.len(), "one sampling request per problem");
    assert!(stats.bodies_of(Kind::Claim) > 0);

    // Again into the same directory: every answer comes from its run.db.
    let before = server.stats().total;
    let again = eval(&sb, &args);
    assert_eq!(server.stats().total, before, "no request sent twice");
    assert_eq!(again["models"], r["models"]);

    // A bad --samples is bad usage.
    let mut bad = args.to_vec();
    bad[7] = "0";
    let o = run(sb.cmd(&[&["eval-guards"][..], &bad].concat()));
    o.expect_code(2);
    assert!(o.stderr.contains("--samples"), "{}", o.stderr);
}
