//! `init`, `inspect` and `export` on real files.

use std::collections::HashMap;
use std::path::Path;

use autodidact_data::Record;
use serde_json::{Value, json};

use crate::server::{Behaviour, TestServer};
use crate::util::{Cfg, Sandbox, gen_dir, records, run};

const STARTER_URL: &str = "http://127.0.0.1:8000/v1";

#[test]
fn init_writes_a_config_that_runs_and_never_overwrites_by_accident() {
    let server = TestServer::start(Behaviour::default());
    let sb = Sandbox::new();
    run(sb.cmd(&["init", "starter.toml"])).expect_code(0).expect_stderr(&["starter.toml"]);
    let path = sb.path().join("starter.toml");
    let starter = std::fs::read_to_string(&path).unwrap();
    assert!(starter.contains(STARTER_URL), "{starter}");

    let edited = starter.replace(STARTER_URL, &server.url());
    std::fs::write(&path, &edited).unwrap();
    let out_dir = sb.path().join("out");
    run(sb.cmd(&["run", "starter.toml", "--out", out_dir.to_str().unwrap()])).expect_code(0);
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["task"], "essay");
    let generated = records(&gen_dir(&out_dir, 0).join("generated.parquet"));
    assert_eq!(summary["totals"]["generated"], generated.len());
    assert!(generated.len() >= 2 * 10, "the built-in topics, two samples each: {}", generated.len());
    assert!(summary["dataset_records"].as_u64().unwrap() > 0);

    // An existing file is left alone without --force.
    let out = run(sb.cmd(&["init", "starter.toml"]));
    out.expect_code(2).expect_stderr(&["starter.toml", "--force"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), edited, "the file was overwritten");
    run(sb.cmd(&["init", "starter.toml", "--force"])).expect_code(0);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), starter);

    run(sb.cmd(&["init", "other.toml", "--task", "poem"])).expect_code(2).expect_stderr(&["poem"]);
    assert!(!sb.path().join("other.toml").exists());
}

/// JSONL lines as JSON values.
fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The preference pairs the export documents: per (prompt, context) group in order of first
/// appearance, over graded records with distinct responses, the best against the worst of
/// the others (earlier wins ties), kept if the margin is at least `min_margin`.
fn expected_pairs(graded: &[Record], min_margin: f64) -> Vec<Value> {
    type Group = (String, Option<String>);
    let mut order: Vec<Group> = Vec::new();
    let mut groups: HashMap<Group, Vec<(f64, String)>> = HashMap::new();
    for r in graded {
        let Some(score) = r.score.filter(|s| s.is_finite()) else { continue };
        let key = (r.prompt.clone(), r.context.clone());
        let group = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Vec::new()
        });
        if !group.iter().any(|(_, resp)| *resp == r.response) {
            group.push((score, r.response.clone()));
        }
    }
    let mut pairs = Vec::new();
    for key in order {
        let group = &groups[&key];
        if group.len() < 2 {
            continue;
        }
        let mut best = 0;
        for (i, c) in group.iter().enumerate() {
            if c.0 > group[best].0 {
                best = i;
            }
        }
        let mut worst = None::<usize>;
        for (i, c) in group.iter().enumerate() {
            if i != best && worst.is_none_or(|w| c.0 < group[w].0) {
                worst = Some(i);
            }
        }
        let (c, r) = (&group[best], &group[worst.unwrap()]);
        if c.0 - r.0 >= min_margin - 1e-9 {
            pairs.push(
                json!({"prompt": key.0, "chosen": c.1, "rejected": r.1, "score_chosen": c.0, "score_rejected": r.0}),
            );
        }
    }
    pairs
}

#[test]
fn inspect_and_export_read_a_finished_run() {
    let server = TestServer::start(Behaviour::default());
    let sb = Sandbox::new();
    sb.topics(8);
    let mut cfg = Cfg::new(&server.url());
    cfg.per_seed = 3;
    cfg.write(&sb);
    sb.run("out", &[]).expect_code(0);
    let dir = sb.path().join("out");
    let dataset_path = dir.join("dataset.parquet");
    let dataset = records(&dataset_path);
    assert!(dataset.len() >= 2, "{} kept", dataset.len());
    let ds = dataset_path.to_str().unwrap();

    // inspect --json: statistics measured from the file.
    let out = run(sb.cmd(&["inspect", ds, "--json"]));
    out.expect_code(0);
    let stats: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    assert_eq!(stats["records"], dataset.len());
    assert_eq!(stats["by_verdict"], json!({"kept": dataset.len()}));
    assert_eq!(stats["by_generation"], json!({"0": dataset.len()}));
    assert_eq!(stats["by_task"], json!({"essay": dataset.len()}));
    assert_eq!(stats["graded"], dataset.len());
    let mean = dataset.iter().map(|r| r.score.unwrap()).sum::<f64>() / dataset.len() as f64;
    assert!((stats["mean_score"].as_f64().unwrap() - mean).abs() < 1e-9);
    // inspect: the same for people, with the first records shown.
    let out = run(sb.cmd(&["inspect", ds, "--show", "2"]));
    out.expect_code(0);
    assert!(out.stdout.contains(&format!("{} records", dataset.len())), "{}", out.stdout);
    assert!(out.stdout.contains(&dataset[0].id) && out.stdout.contains(&dataset[1].id), "{}", out.stdout);

    // export: one line per kept record, in order.
    let messages = sb.path().join("messages.jsonl");
    run(sb.cmd(&["export", ds, messages.to_str().unwrap(), "--format", "messages"])).expect_code(0);
    let want: Vec<Value> = dataset
        .iter()
        .map(|r| json!({"messages": [{"role": "user", "content": r.prompt}, {"role": "assistant", "content": r.response}]}))
        .collect();
    assert_eq!(lines(&messages), want);
    let pc = sb.path().join("pc.jsonl");
    run(sb.cmd(&["export", ds, pc.to_str().unwrap(), "--format", "prompt-completion"])).expect_code(0);
    let want: Vec<Value> = dataset.iter().map(|r| json!({"prompt": r.prompt, "completion": r.response})).collect();
    assert_eq!(lines(&pc), want);

    // preference: pairs from the graded records, three samples per prompt.
    let graded_path = gen_dir(&dir, 0).join("graded.parquet");
    let graded = records(&graded_path);
    let pref = sb.path().join("pref.jsonl");
    let out = run(sb.cmd(&["export", graded_path.to_str().unwrap(), pref.to_str().unwrap(), "--format", "preference"]));
    out.expect_code(0);
    let want = expected_pairs(&graded, 0.1);
    assert!(!want.is_empty(), "some prompts have responses graded apart");
    assert_eq!(lines(&pref), want);
    assert!(out.stderr.contains(&format!("wrote {} rows", want.len())), "{}", out.stderr);

    // A format that does not exist is bad usage, and writes nothing.
    let nope = sb.path().join("nope.jsonl");
    run(sb.cmd(&["export", ds, nope.to_str().unwrap(), "--format", "alpaca"]))
        .expect_code(2)
        .expect_stderr(&["alpaca"]);
    assert!(!nope.exists());
    // So is a file that is not a dataset.
    run(sb.cmd(&["inspect", dir.join("summary.json").to_str().unwrap()])).expect_code(2);
}
