//! Resume after a crash: a run killed with SIGKILL and run again asks no answered question
//! twice and ends with the dataset of an uninterrupted run.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use crate::server::{Behaviour, TestServer};
use crate::util::{Cfg, Sandbox, ids, json, spawn, wait_for};

const SEEDS: usize = 16;

fn config(url: &str) -> Cfg {
    let mut cfg = Cfg::new(url);
    cfg.generations = 2;
    cfg.revise = Some((1, 0.7));
    cfg.max_in_flight = 4;
    cfg
}

/// Committed responses in a run store, read beside the live writer.
fn stored_responses(db: &Path) -> Option<u64> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.busy_timeout(Duration::from_secs(5)).ok()?;
    conn.query_row("SELECT COUNT(*) FROM responses", [], |row| row.get::<_, i64>(0)).ok().map(|n| n as u64)
}

#[test]
fn a_killed_run_resumes_without_asking_an_answered_question_again() {
    // The uninterrupted run, against its own server.
    let reference = TestServer::start(Behaviour { repeats: true, ..Behaviour::default() });
    let ref_sb = Sandbox::new();
    ref_sb.topics(SEEDS);
    config(&reference.url()).write(&ref_sb);
    ref_sb.run("out", &[]).expect_code(0);
    let ref_out = ref_sb.path().join("out");
    let ref_dataset = std::fs::read(ref_out.join("dataset.jsonl")).unwrap();
    let ref_ids = ids(&ref_out.join("dataset.parquet"));
    assert!(!ref_ids.is_empty());
    let ref_stats = reference.stats();
    let ref_bodies: HashSet<String> = ref_stats.answered.keys().cloned().collect();
    let total = ref_stats.answered_total();

    // Killed while writing generation 0, while grading it, and in generation 1: (answers
    // before the kill, files that exist then, files that do not).
    let g0 = |f: &str| format!("generations/000/{f}");
    let g1 = |f: &str| format!("generations/001/{f}");
    let points = [
        (total / 10, vec![], vec![g0("generated.parquet")]),
        (total / 3, vec![g0("generated.parquet")], vec![g0("graded.parquet")]),
        (total * 3 / 4, vec![g0("curated.parquet"), g1("generated.parquet")], vec![g1("graded.parquet")]),
    ];
    for (hold_after, present, absent) in points {
        let server =
            TestServer::start(Behaviour { hold_after: Some(hold_after), repeats: true, ..Behaviour::default() });
        let sb = Sandbox::new();
        sb.topics(SEEDS);
        config(&server.url()).write(&sb);
        let out = sb.path().join("out");

        let mut child = spawn(sb.run_cmd("out", &[]));
        // Once the server holds a request it answers nothing more. Once every request it
        // received is answered or held, and every answer is committed, nothing can change
        // until the kill but more requests being held.
        wait_for("a held request", Duration::from_secs(60), || !server.stats().held.is_empty());
        wait_for("the answers to be stored", Duration::from_secs(30), || {
            let s = server.stats();
            s.total == s.answered_total() + s.held.len() as u64
                && stored_responses(&out.join("run.db")) == Some(s.answered_total())
        });
        child.child.kill().unwrap();
        let killed = child.finish(Duration::from_secs(30));
        assert_eq!(killed.code, None, "killed by a signal, not finished: {}", killed.stderr);
        assert!(!out.join("dataset.parquet").exists(), "killed mid-run (after {hold_after} answers)");
        for f in &present {
            assert!(out.join(f).exists(), "killed after {hold_after} answers: {f} should exist");
        }
        for f in &absent {
            assert!(!out.join(f).exists(), "killed after {hold_after} answers: {f} should not exist yet");
        }
        let held: Vec<String> = server.stats().held;

        server.release();
        sb.run("out", &[]).expect_code(0);
        let stats = server.stats();
        for (body, n) in &stats.answered {
            assert_eq!(*n, 1, "after {hold_after} answers: body {body} was answered {n} times");
        }
        for (body, n) in &stats.received {
            let want = 1 + held.iter().filter(|h| *h == body).count() as u32;
            assert_eq!(*n, want, "after {hold_after} answers: body received {n} times (held: {})", want - 1);
        }
        let bodies: HashSet<String> = stats.answered.keys().cloned().collect();
        assert_eq!(bodies, ref_bodies, "after {hold_after} answers: the same questions as an uninterrupted run");

        assert_eq!(ids(&out.join("dataset.parquet")), ref_ids, "after {hold_after} answers: same dataset, same order");
        let dataset = std::fs::read(out.join("dataset.jsonl")).unwrap();
        assert!(
            dataset == ref_dataset,
            "after {hold_after} answers: dataset.jsonl differs from the uninterrupted run's"
        );
        let (a, b) = (json(&out.join("summary.json")), json(&ref_out.join("summary.json")));
        assert_eq!(a["totals"], b["totals"]);
        assert_eq!(a["dataset_records"], b["dataset_records"]);
    }
}
