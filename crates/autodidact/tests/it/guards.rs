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
