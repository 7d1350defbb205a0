//! Issue 4: the collapse scenario, in its small profile, end to end through the binary.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autodidact_monitor::Thresholds;
use autodidact_tiny::collapse::CollapseConfig;
use serde_json::Value;

use crate::util::{Sandbox, json, records, run};

/// The real text of the repository's data folder, by absolute path.
fn shakespeare() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/tinyshakespeare.txt")
}

/// The small profile on the real text, changed by `change`, as a config file in the sandbox.
fn small_config(sb: &Sandbox, name: &str, change: impl FnOnce(&mut CollapseConfig)) -> PathBuf {
    let mut cfg = CollapseConfig::small();
    cfg.text.path = shakespeare();
    change(&mut cfg);
    sb.write(name, &cfg.to_toml())
}

/// Every number under `v`, with its path; a metric that was NaN or infinite is `null` in JSON.
fn numbers(v: &Value, path: &str, out: &mut Vec<(String, Option<f64>)>) {
    match v {
        Value::Number(n) => out.push((path.into(), n.as_f64())),
        Value::Null => out.push((path.into(), None)),
        Value::Array(xs) => xs.iter().enumerate().for_each(|(i, x)| numbers(x, &format!("{path}[{i}]"), out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| numbers(x, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

#[test]
fn small_profile_measures_every_generation_of_every_arm() {
    let sb = Sandbox::new();
    let config = small_config(&sb, "small.toml", |_| {});
    let out = sb.path().join("small");
    let started = Instant::now();
    let output = run(sb.cmd(&["run", config.to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"]));
    output.expect_code(0);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(60), "the small profile took {took:?}");

    let summary: Value = serde_json::from_str(&output.stdout).expect("--json prints the summary");
    assert_eq!(summary, json(&out.join("summary.json")));
    assert_eq!(summary["task"], "collapse-text");
    let gens = summary["generations"].as_u64().unwrap() as usize;
    let arms = summary["arms"].as_array().unwrap();
    let names: Vec<&str> = arms.iter().map(|a| a["arm"].as_str().unwrap()).collect();
    assert_eq!(names, ["replace", "accumulate", "curated"]);

    // Every metric of every generation is a finite number, and the monitor's are all there.
    for arm in arms {
        let name = arm["arm"].as_str().unwrap();
        let generations = arm["generations"].as_array().unwrap();
        for g in generations {
            let mut all = Vec::new();
            numbers(&g["text"], "text", &mut all);
            for key in ["real_loss", "self_loss", "real_share"] {
                numbers(&g[key], key, &mut all);
            }
            let keys: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
            for metric in ["text.distinct[3]", "text.compression_ratio", "text.repetition_rate", "text.kl_char[2]", "text.kl_word", "text.tail_coverage", "real_loss"] {
                assert!(keys.contains(&metric), "{name}: {metric} missing from {keys:?}");
            }
            for (k, v) in all {
                assert!(v.is_some_and(f64::is_finite), "{name} generation {}: {k} is {v:?}", g["generation"]);
            }
            assert!(g["real_loss"].as_f64().unwrap() > 0.5, "a character model is not that good: {g}");
        }
        if arm["stopped"].is_null() {
            assert_eq!(generations.len(), gens + 1, "{name}: generation 0 and every later one");
        }
        // The files: what each generation took in, and what its model wrote.
        for g in generations.iter().skip(1) {
            let n = g["generation"].as_u64().unwrap() as usize;
            let dir = out.join("generations").join(format!("{n:03}")).join(name);
            let generated = records(&dir.join("generated.parquet"));
            assert_eq!(generated.len(), records(&out.join("generations/000/generated.parquet")).len());
            assert!(generated.iter().all(|r| r.grade("self-loss").is_some()));
            let kept = records(&dir.join("curated.parquet"));
            assert_eq!(kept.len() as u64, g["kept"].as_u64().unwrap());
            if name == "curated" {
                // Curation dropped something, each with a reason, and nothing was lost.
                let rejected = records(&dir.join("rejected.parquet"));
                assert!(!rejected.is_empty() && rejected.iter().all(|r| r.reason.is_some()));
                assert_eq!(kept.len() + rejected.len(), generated.len());
            } else {
                assert_eq!(kept.len(), generated.len());
            }
        }
    }
    // Generation 0 learned something: the loss fell.
    let g0 = &arms[0]["generations"][0];
    assert!(g0["train"]["last_loss"].as_f64().unwrap() < g0["train"]["first_loss"].as_f64().unwrap());
    // Real text measured as the samples are: it covers its own rare n-grams well.
    assert!(summary["text"]["real_text"]["tail_coverage"].as_f64().unwrap() > 0.0);

    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("<svg") && !report.contains("<script"));
    for needle in ["Held-out real loss", "Tail coverage", "Distinct-4", "Compression ratio", "Repetition rate", "KL(real", "Monitor decisions", "Samples of generation 0"] {
        assert!(report.contains(needle), "report lacks {needle}");
    }
    assert!(!records(&out.join("dataset.parquet")).is_empty());
}

#[test]
fn a_low_stop_threshold_stops_an_arm_and_a_rerun_resumes() {
    let sb = Sandbox::new();
    // Stop at any rise of the held-out loss or of the repetition, any drop of diversity.
    let config = small_config(&sb, "low.toml", |cfg| {
        cfg.monitor.stop = Thresholds {
            real_loss_rise: Some(0.0),
            distinct_2_drop: Some(0.0),
            tail_coverage_drop: Some(0.0),
            kl_rise: None,
            repetition_rise: Some(0.0),
        };
    });
    let out = sb.path().join("low");
    let args = ["run", config.to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"];
    let output = run(sb.cmd(&args));
    output.expect_code(0);
    let summary: Value = serde_json::from_str(&output.stdout).unwrap();
    let arms = summary["arms"].as_array().unwrap();
    let replace = &arms[0];
    assert_eq!(replace["arm"], "replace");
    let stop = &replace["stopped"];
    assert!(!stop.is_null(), "replace trains on its own samples only; something got worse: {replace}");
    let at = stop["generation"].as_u64().unwrap() as usize;
    let reasons = stop["reasons"].as_array().unwrap();
    assert!(!reasons.is_empty() && reasons[0].as_str().unwrap().contains("stop at"), "{stop}");
    // The stop ended the arm: no generation after it was run or written.
    assert_eq!(replace["generations"].as_array().unwrap().len(), at + 1);
    assert!(!out.join("generations").join(format!("{:03}", at + 1)).join("replace").exists());
    for arm in arms {
        for g in arm["generations"].as_array().unwrap().iter().skip(1) {
            let status = g["decision"]["status"].as_str().unwrap();
            assert_eq!(status == "go", g["decision"]["reasons"].as_array().unwrap().is_empty(), "{g}");
        }
    }
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("STOP"));

    // Run again: every stage is done, nothing is retrained, the figures are the same.
    let started = Instant::now();
    let again = run(sb.cmd(&args));
    again.expect_code(0);
    let second: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(second["arms"], summary["arms"]);
    assert!(started.elapsed() < Duration::from_secs(20), "a finished run is read back, not redone");
}

#[test]
fn a_missing_text_is_a_clear_error() {
    let sb = Sandbox::new();
    let config = sb.write("c.toml", "[run]\ntask = \"collapse-text\"\n[text]\npath = \"nowhere.txt\"\n");
    let output = run(sb.cmd(&["run", config.to_str().unwrap(), "--out", "x"]));
    output.expect_code(2).expect_stderr(&["nowhere.txt", "text.path"]);
    let output = run(sb.cmd(&["run", "--scenario", "collapse-txt"]));
    output.expect_code(2).expect_stderr(&["collapse-text"]);
}
