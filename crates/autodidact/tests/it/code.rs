//! The `code` task with `verify = "code"`: answers run against their tests in the sandbox,
//! hostile ones among them, each ending as a rejected record with its reason and the run
//! healthy.

use std::net::TcpListener;

use serde_json::json;

use crate::server::{Behaviour, Kind, TestServer};
use crate::util::{Sandbox, gen_dir, json, records, run};

fn config(url: &str, grade_extra: &str) -> String {
    format!(
        r#"[run]
generations = 1
seed = 5

[models.writer]
backend = "openai"
model = "test-model"
base_url = "{url}"
max_in_flight = 4
max_retries = 1
backoff_initial_ms = 10

[generate]
task = "code"
seeds = "problems.jsonl"
per_seed = 1

[grade]
verify = "code"
{grade_extra}

[grade.sandbox]
wall_time_secs = 4
cpu_time_secs = 2
memory_mb = 256
max_processes = 16
max_output_bytes = 4096

[curate]
min_score = false
near_duplicates = false
exact_duplicates = false
"#
    )
}

#[test]
fn hostile_code_is_rejected_with_its_reason_and_the_run_stays_healthy() {
    let server = TestServer::start(Behaviour::default());
    let sb = Sandbox::new();
    let outside = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let tests = "assert add(2, 3) == 5\nassert add(0, 0) == 0";
    let problem = |behave: &str| format!("Write a function `add(a, b)` that returns the sum of a and b. BEHAVE:{behave} OUTSIDE:{} PORT:{port}", outside.path().display());
    let cases = ["right", "wrong", "loop", "sleep", "fork", "memory", "flood", "escape", "socket"];
    let mut lines: Vec<String> = cases.iter().map(|c| json!({"problem": problem(c), "tests": tests}).to_string()).collect();
    // Without given tests: the answer's own tests are run.
    lines.push(json!({"problem": problem("right")}).to_string());
    sb.write("problems.jsonl", &(lines.join("\n") + "\n"));
    sb.write("code.toml", &config(&server.url(), ""));
    let out = sb.path().join("out");
    let started = std::time::Instant::now();
    let o = run(sb.cmd(&["run", "code.toml", "--out", out.to_str().unwrap()]));
    o.expect_code(0);
    // Nine runs at most 4 s each, two at a time: a hostile one cannot hold the run up.
    assert!(started.elapsed().as_secs() < 40, "took {:?}", started.elapsed());
    assert_eq!(server.stats().bodies_of(Kind::Code), cases.len() + 1);

    let g0 = gen_dir(&out, 0);
    let kept = records(&g0.join("curated.parquet"));
    let rejected = records(&g0.join("rejected.parquet"));
    assert_eq!(kept.len() + rejected.len(), cases.len() + 1, "every record accounted for");
    let behave = |r: &autodidact_data::Record| r.prompt.split("BEHAVE:").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let mut kept_names: Vec<String> = kept.iter().map(behave).collect();
    kept_names.sort();
    assert_eq!(kept_names, ["right", "right"], "{rejected:#?}");
    assert!(kept.iter().any(|r| r.context.is_none()), "the answer's own tests passed too");
    for r in &kept {
        let v = r.grades.iter().find(|g| g.grader == "verifier").unwrap();
        assert_eq!(v.score, Some(1.0));
        let d: serde_json::Value = serde_json::from_str(v.details.as_deref().unwrap()).unwrap();
        assert_eq!(d["status"]["kind"], "passed");
        assert_eq!(d["tests_given"], r.context.is_some());
    }
    for r in &rejected {
        let reason = r.reason.as_deref().unwrap();
        assert!(reason.starts_with("verifier: "), "{reason}");
        let expected = match behave(r).as_str() {
            "wrong" => "the tests fail: assert add(2, 3) == 5 / AssertionError",
            "loop" => "used 2 s of CPU",
            "sleep" => "still running after 4 s",
            "memory" => "ran out of memory",
            // Its output was cut at the cap, and the CPU limit ended it.
            "flood" => "used 2 s of CPU",
            "escape" => "could not escape",
            "socket" => "the tests fail:",
            // The fork bomb ends by a limit or by failing; whichever, it is recorded.
            "fork" => "verifier: ",
            other => panic!("{other} was rejected: {reason}"),
        };
        assert!(reason.contains(expected), "{}: {reason}", behave(r));
        let v = r.grades.iter().find(|g| g.grader == "verifier").unwrap();
        assert_eq!(v.score, Some(0.0), "{r:?}");
    }
    let flood = rejected.iter().find(|r| behave(r) == "flood").unwrap();
    let d: serde_json::Value = serde_json::from_str(flood.grades.iter().find(|g| g.grader == "verifier").unwrap().details.as_deref().unwrap()).unwrap();
    assert_eq!(d["stdout_truncated"], true);
    assert!(d["stdout"].as_str().unwrap().len() <= 2000);
    // Nothing got out.
    assert!(!outside.path().join("escaped.txt").exists());
    assert!(!std::path::Path::new("/etc/autodidact-escaped").exists());
    assert!(matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "the socket reached the host");
    let m = json(&g0.join("metrics.json"));
    assert_eq!(m["rejected_by"]["verifier"], 8, "{m}");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("verifier"), "the report shows the guard");
}

#[test]
fn a_missing_interpreter_is_bad_config_before_any_request() {
    let server = TestServer::start(Behaviour::default());
    let sb = Sandbox::new();
    sb.write("problems.jsonl", &(json!({"problem": "Write add(a, b).", "tests": "assert add(1, 1) == 2"}).to_string() + "\n"));
    sb.write("code.toml", &config(&server.url(), "").replace("[grade.sandbox]\n", "[grade.sandbox]\npython = \"/nonexistent/python3\"\n"));
    let o = run(sb.cmd(&["run", "code.toml", "--out", sb.path().join("out").to_str().unwrap()]));
    o.expect_code(2).expect_clear_error().expect_stderr(&["grade.sandbox", "/nonexistent/python3"]);
    assert_eq!(server.stats().total, 0, "no request was sent");
    // An unknown sandbox key names itself.
    sb.write("code.toml", &config(&server.url(), "").replace("[grade.sandbox]\n", "[grade.sandbox]\nwall_seconds = 3\n"));
    let o = run(sb.cmd(&["run", "code.toml", "--out", sb.path().join("o2").to_str().unwrap()]));
    o.expect_code(2).expect_stderr(&["wall_seconds"]);
}
