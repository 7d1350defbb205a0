//! Issue 3: the built-in arithmetic run, in its small profile, end to end through the binary.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Sandbox, gen_dir, json, records, run};

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn small_profile_runs_the_loop_and_measures_every_arm() {
    let sb = Sandbox::new();
    let out = sb.path().join("small");
    let started = Instant::now();
    let output = run(sb.cmd(&["run", "--scenario", "arithmetic-small", "--out", out.to_str().unwrap(), "--json"]));
    output.expect_code(0);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(90), "the small profile took {took:?}");

    let summary: Value = serde_json::from_str(&output.stdout).expect("--json prints the summary");
    assert_eq!(summary, json(&out.join("summary.json")), "stdout and summary.json agree");
    assert_eq!(summary["task"], "arithmetic");
    let l0 = summary["start_length"].as_u64().unwrap() as usize;
    let gens = summary["generations"].as_u64().unwrap() as usize;
    assert!(gens >= 2);
    // The run directory's config.toml holds the curriculum's gate as it ran.
    let config: toml::Table = std::fs::read_to_string(out.join("config.toml")).unwrap().parse().unwrap();
    let advance_at = config["arithmetic"]["advance_at"].as_float().unwrap();
    assert!(advance_at > 0.0, "the small profile checks before it advances");

    // Generation 0 learned from the real data: the loss fell, and on held-out problems of
    // the lengths it was taught it is right far more often than chance (about 1 in 10^n).
    let base = &summary["base"];
    assert!(f(&base["train"]["last_loss"]) < f(&base["train"]["first_loss"]));
    let base_accuracy = base["accuracy"].as_array().unwrap();
    assert_eq!(base_accuracy.len(), l0 + gens);
    let taught: Vec<f64> = base_accuracy[..l0].iter().map(|a| f(&a["accuracy"])).collect();
    assert!(taught.iter().sum::<f64>() / l0 as f64 > 0.5, "generation 0 accuracy {taught:?}");

    let arms = summary["arms"].as_array().unwrap();
    let names: Vec<&str> = arms.iter().map(|a| a["arm"].as_str().unwrap()).collect();
    assert_eq!(names, ["unguarded", "self-graded", "oracle"]);
    let mut every_accuracy = Vec::new();
    for arm in arms {
        let name = arm["arm"].as_str().unwrap();
        let generations = arm["generations"].as_array().unwrap();
        assert_eq!(generations.len(), gens);
        // The curriculum: one digit past the real data first, then the next length only
        // when the arm's own check of its new model passed.
        let mut length = l0 + 1;
        for (i, g) in generations.iter().enumerate() {
            assert_eq!(g["generation"].as_u64().unwrap() as usize, i + 1);
            assert_eq!(g["length"].as_u64().unwrap() as usize, length, "{name} gen {}", i + 1);
            let advanced = g["advanced"].as_bool().unwrap();
            if i + 1 < gens {
                let check = f(&g["check"]);
                assert!((0.0..=1.0).contains(&check));
                assert_eq!(advanced, check >= advance_at, "{name} gen {}: check {check}", i + 1);
            } else {
                assert!(g["check"].is_null(), "no check after the last generation");
            }
            length += usize::from(advanced);
            let attempted = g["attempted"].as_u64().unwrap();
            let kept = g["kept"].as_u64().unwrap();
            assert!(attempted > 0 && kept <= attempted);
            // The files account for every attempted problem, kept or rejected.
            let dir = gen_dir(&out, (i + 1) as u32).join(name);
            let curated = records(&dir.join("curated.parquet"));
            let rejected = records(&dir.join("rejected.parquet"));
            assert_eq!(curated.len() as u64, kept, "{name} gen {}", i + 1);
            assert_eq!((curated.len() + rejected.len()) as u64, attempted);
            assert_eq!(records(&dir.join("graded.parquet")).len() as u64, attempted);
            assert!(rejected.iter().all(|r| r.reason.is_some()));
            // Every graded record carries the oracle's measurement, named `oracle`.
            for r in &curated {
                assert!(r.grade("oracle").is_some(), "{r:?}");
            }
            // The kept-data error rate is what the oracle says about the kept records.
            let wrong = curated.iter().filter(|r| r.grade("oracle").unwrap().score == Some(0.0)).count();
            assert_eq!(g["kept_wrong"].as_u64().unwrap() as usize, wrong, "{name} gen {}", i + 1);
            if name == "oracle" {
                assert_eq!(wrong, 0);
                if kept > 0 {
                    assert_eq!(f(&g["kept_error_rate"]), 0.0, "the oracle keeps only verified answers");
                }
            }
            if name == "unguarded" {
                assert!(curated.iter().all(|r| r.grade("consistency").is_none()));
            }
            if name == "self-graded" {
                assert!(graded_has(&dir, "consistency") && graded_has(&dir, "decomposition"));
            }
            for a in g["accuracy"].as_array().unwrap() {
                every_accuracy.push(f(&a["accuracy"]));
            }
        }
    }
    // Figures are computed, not constant: accuracy differs across lengths and arms.
    let (lo, hi) = every_accuracy.iter().fold((1.0f64, 0.0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
    assert!(hi > lo, "every accuracy is {lo}");
    assert!(summary["findings"]["self_graded_lengths_at_90"].is_u64());

    // The report: self-contained, with the plots and every arm.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && !html.contains("<script src"));
    for needle in ["unguarded", "self-graded", "oracle", "accuracy by operand length", "Kept-data error rate", "precision"] {
        assert!(html.contains(needle), "report lacks {needle:?}");
    }
    // The training set: real problems plus what the self-graded arm kept.
    let dataset = records(&out.join("dataset.parquet"));
    assert_eq!(dataset.len(), records(&out.join("dataset.jsonl")).len());
    assert!(dataset.iter().any(|r| r.origin == autodidact_data::Origin::Real));

    // Running again resumes: nothing is retrained, and the figures are the same.
    let started = Instant::now();
    let again = run(sb.cmd(&["run", "--scenario", "arithmetic-small", "--out", out.to_str().unwrap(), "--json"]));
    again.expect_code(0);
    let mut a: Value = serde_json::from_str(&again.stdout).unwrap();
    let mut b = summary.clone();
    a["seconds"] = Value::Null;
    b["seconds"] = Value::Null;
    assert_eq!(a, b, "a resumed run reports the same figures");
    assert!(started.elapsed() < took, "resuming a finished run redoes nothing");
}

fn graded_has(dir: &std::path::Path, grader: &str) -> bool {
    records(&dir.join("graded.parquet")).iter().all(|r| r.grade(grader).is_some())
}

#[test]
fn unknown_scenario_and_bad_arithmetic_config_exit_2() {
    let sb = Sandbox::new();
    run(sb.cmd(&["run", "--scenario", "nope"]))
        .expect_code(2)
        .expect_clear_error()
        .expect_stderr(&["nope", "arithmetic-small"]);
    let cfg = sb.write("arith.toml", "[run]\ntask = \"arithmetic\"\n\n[train]\nbase_stepz = 3\n");
    run(sb.cmd(&["run", cfg.to_str().unwrap()]))
        .expect_code(2)
        .expect_clear_error()
        .expect_stderr(&["arith.toml", "base_stepz", "line 5"]);
}
