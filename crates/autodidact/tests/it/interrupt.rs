//! Ctrl-C: the run stops with status 130, keeps every answer it received, says how to
//! resume, and the command it names finishes the run.

use std::process::Command;
use std::time::Duration;

use crate::server::{Behaviour, TestServer};
use crate::util::{Cfg, Sandbox, autodidact, gen_dir, json, records, run, spawn, wait_for};

#[test]
fn ctrl_c_exits_130_and_the_hinted_command_resumes() {
    let server = TestServer::start(Behaviour { latency: Duration::from_millis(40), ..Behaviour::default() });
    let sb = Sandbox::new();
    sb.topics(16);
    Cfg::new(&server.url()).write(&sb);

    let child = spawn(sb.run_cmd("out", &[]));
    wait_for("the run to be under way", Duration::from_secs(60), || server.stats().total >= 8);
    let pid = child.child.id().to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status().expect("run kill");
    assert!(status.success());
    let out = child.finish(Duration::from_secs(60));
    out.expect_code(130).expect_stderr(&["resume"]);
    let dir = sb.path().join("out");
    assert!(!dir.join("dataset.parquet").exists(), "stopped before the end");

    // The hint is a command that works.
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("resume with `"))
        .unwrap_or_else(|| panic!("no resume command:\n{}", out.stderr));
    let hinted = line.split('`').nth(1).unwrap();
    let mut words = hinted.split_whitespace();
    assert_eq!(words.next(), Some("autodidact"), "{hinted}");
    let args: Vec<&str> = words.collect();
    assert!(args.contains(&dir.to_str().unwrap()), "the hint names the run directory: {hinted}");
    run(autodidact(sb.path(), &args)).expect_code(0);

    // Every answer received before Ctrl-C was kept: nothing was asked twice.
    let stats = server.stats();
    assert!(stats.received.values().all(|&n| n == 1), "a request was sent again after Ctrl-C");
    let summary = json(&dir.join("summary.json"));
    assert_eq!(summary["totals"]["generated"], 32);
    let dataset = records(&dir.join("dataset.parquet"));
    assert_eq!(dataset, records(&gen_dir(&dir, 0).join("curated.parquet")));
    assert_eq!(summary["dataset_records"], dataset.len());
}
