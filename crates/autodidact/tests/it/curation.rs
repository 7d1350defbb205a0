//! Curation across runs: earlier data remembered, the index kept in the run directory, and a
//! budget that chooses for diversity.

use autodidact_curate::{CurateConfig, Curator, NearDupConfig};
use autodidact_data::Verdict;

use crate::server::{Behaviour, TestServer};
use crate::util::{Cfg, Output, Sandbox, gen_dir, json, records, run};

/// The curator settings of `Cfg` (64 permutations), to read a run's index back.
fn curator() -> Curator {
    let near = NearDupConfig { threshold: 0.8, permutations: 64, ..NearDupConfig::default() };
    Curator::new(&CurateConfig { near_duplicates: Some(near), ..CurateConfig::default() }).unwrap()
}

/// Runs `out` again with the run's notes on stderr.
fn rerun(sb: &Sandbox, out: &str) -> Output {
    let mut cmd = sb.run_cmd(out, &[]);
    cmd.env("AUTODIDACT_LOG", "info");
    run(cmd)
}

#[test]
fn remembered_data_rejects_its_copies_and_the_index_is_kept_in_the_run_directory() {
    let server = TestServer::start(Behaviour::default());
    let sb = Sandbox::new();
    sb.topics(8);
    Cfg::new(&server.url()).write(&sb);
    sb.run("a", &[]).expect_code(0);
    let a_kept = records(&sb.path().join("a/dataset.jsonl"));
    assert!(!a_kept.is_empty());

    // The same deterministic server writes the same texts again: against run a's dataset,
    // each text run a kept is a duplicate of earlier data.
    let mut cfg = Cfg::new(&server.url());
    cfg.curate_extra = "remember = [\"a/dataset.jsonl\"]\n".into();
    cfg.write(&sb);
    let out = sb.run("b", &[]);
    out.expect_code(0);
    let rejected = records(&gen_dir(&sb.path().join("b"), 0).join("rejected.parquet"));
    for k in &a_kept {
        let r = rejected.iter().find(|r| r.response == k.response).expect("run a's kept text was written again");
        assert_eq!(r.reason.as_deref(), Some(format!("exact duplicate of {}", k.id).as_str()));
    }
    assert!(records(&sb.path().join("b/dataset.jsonl")).is_empty());

    // The index holds what was remembered and kept, and a rerun loads it.
    let index = sb.path().join("b/curate.index");
    let mut c = curator();
    assert_eq!(c.load_index(&index).unwrap(), a_kept.len());
    let again = rerun(&sb, "b");
    again.expect_code(0);
    assert!(again.stderr.contains(&format!("curation index: {} earlier records", a_kept.len())), "{}", again.stderr);

    // A broken index is rebuilt from the run directory, not trusted.
    std::fs::write(&index, b"garbage").unwrap();
    let again = rerun(&sb, "b");
    again.expect_code(0);
    assert!(again.stderr.contains("rebuilding it from the run directory"), "{}", again.stderr);
    assert_eq!(curator().load_index(&index).unwrap(), a_kept.len());
}

#[test]
fn a_budget_keeps_that_many_and_reports_diversity_against_random() {
    let server = TestServer::start(Behaviour::default());
    let sb = Sandbox::new();
    sb.topics(12);
    let mut cfg = Cfg::new(&server.url());
    cfg.per_seed = 3;
    cfg.curate_extra = "budget = 5\n".into();
    cfg.write(&sb);
    sb.run("out", &[]).expect_code(0);
    let dir = sb.path().join("out");
    let kept = records(&gen_dir(&dir, 0).join("curated.parquet"));
    let rejected = records(&gen_dir(&dir, 0).join("rejected.parquet"));
    assert_eq!(kept.len(), 5);
    let not_selected: Vec<_> = rejected.iter().filter(|r| r.reason.as_deref().is_some_and(|s| s.starts_with("not selected"))).collect();
    assert!(!not_selected.is_empty());
    let m = json(&gen_dir(&dir, 0).join("metrics.json"));
    assert_eq!(m["rejected_by"]["budget"], not_selected.len());
    let s = &m["selection"];
    assert_eq!(s["method"], "diverse");
    assert_eq!(s["budget"], 5);
    assert_eq!(s["candidates"], 5 + not_selected.len());
    assert_eq!(s["kept"]["records"], 5);
    assert_eq!(s["random"]["records"], 5);
    for k in ["mean_distance", "mean_nearest"] {
        let (kept, random) = (s["kept"][k].as_f64().unwrap(), s["random"][k].as_f64().unwrap());
        assert!((0.0..=1.0).contains(&kept) && (0.0..=1.0).contains(&random), "{s}");
        // Greedy k-center maximises the smallest distance; a random choice cannot beat it by
        // more than estimation noise.
        if k == "mean_nearest" {
            assert!(kept + 0.05 >= random, "{s}");
        }
    }
    assert!(kept.iter().all(|r| r.verdict == Verdict::Kept));
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("Diversity-aware selection"));
}
