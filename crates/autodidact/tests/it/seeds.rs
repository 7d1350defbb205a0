//! `--seed`: results hold for any seed; the same seed gives the same dataset.

use std::collections::HashSet;

use crate::server::{Behaviour, TestServer};
use crate::util::{Cfg, Sandbox, gen_dir, ids, json};

#[test]
fn the_seed_flag_changes_the_dataset_and_the_same_seed_repeats_it() {
    let server = TestServer::start(Behaviour::default());
    let sb = Sandbox::new();
    sb.topics(6);
    let mut cfg = Cfg::new(&server.url());
    cfg.revise = Some((1, 0.7));
    cfg.write(&sb);

    let a = sb.run("a", &["--seed", "1"]);
    a.expect_code(0);
    sb.run("b", &["--seed", "1"]).expect_code(0);
    sb.run("c", &["--seed", "2"]).expect_code(0);
    let (a_dir, b_dir, c_dir) = (sb.path().join("a"), sb.path().join("b"), sb.path().join("c"));

    let read = |d: &std::path::Path, f: &str| std::fs::read(d.join(f)).unwrap();
    assert!(!ids(&a_dir.join("dataset.parquet")).is_empty());
    assert!(read(&a_dir, "dataset.jsonl") == read(&b_dir, "dataset.jsonl"), "the same seed gave different datasets");
    assert_eq!(ids(&gen_dir(&a_dir, 0).join("generated.parquet")), ids(&gen_dir(&b_dir, 0).join("generated.parquet")));
    let a_ids: HashSet<String> = ids(&gen_dir(&a_dir, 0).join("generated.parquet")).into_iter().collect();
    let c_ids: HashSet<String> = ids(&gen_dir(&c_dir, 0).join("generated.parquet")).into_iter().collect();
    assert!(a_ids.is_disjoint(&c_ids), "another seed wrote the same records");
    assert_ne!(ids(&a_dir.join("dataset.parquet")), ids(&c_dir.join("dataset.parquet")));

    assert_eq!(json(&a_dir.join("summary.json"))["seed"], 1);
    assert_eq!(json(&c_dir.join("summary.json"))["seed"], 2);
    let config = std::fs::read_to_string(a_dir.join("config.toml")).unwrap();
    assert!(config.lines().any(|l| l.trim() == "seed = 1"), "the resolved config holds the seed that ran:\n{config}");

    // Without --json, a summary for people on stdout.
    let records = json(&a_dir.join("summary.json"))["dataset_records"].as_u64().unwrap();
    assert!(a.stdout.contains(&format!("dataset: {records} records")), "{}", a.stdout);

    // A run directory belongs to one configuration: another seed there is refused.
    let out = sb.run("a", &["--seed", "3"]);
    out.expect_code(2).expect_stderr(&["different configuration"]);
    assert_eq!(json(&a_dir.join("summary.json"))["seed"], 1, "the refused run changed nothing");
}
