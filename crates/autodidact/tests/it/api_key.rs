//! The API key goes to the server and nowhere else: not into a file of the run directory,
//! not into a log line, not into a record's reason, even when the server echoes it back.

use std::sync::{Arc, Mutex};

use crate::server::{Behaviour, Fault, FaultPlan, Kind, Seen, TestServer};
use crate::util::{Cfg, Sandbox, files_under, gen_dir, records, run};

const VAR: &str = "AUTODIDACT_TEST_KEY";
const SECRET: &str = "sk-test-9f3a71c2e5d84b06";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_api_key_is_sent_and_written_nowhere() {
    // The first writer request's body is answered, every time, by a 500 that echoes the
    // Authorization header: its records fail, and their reason quotes the server.
    let echoed: Arc<Mutex<Option<String>>> = Arc::default();
    let plan: FaultPlan = {
        let echoed = echoed.clone();
        Arc::new(move |s: &Seen| {
            if s.kind != Kind::Write {
                return None;
            }
            let mut e = echoed.lock().unwrap();
            let body = e.get_or_insert_with(|| s.body_key.clone());
            (*body == s.body_key).then_some(Fault::EchoAuth)
        })
    };
    let server = TestServer::start(Behaviour { faults: Some(plan), ..Behaviour::default() });
    let sb = Sandbox::new();
    sb.topics(4);
    let mut cfg = Cfg::new(&server.url());
    cfg.max_retries = 1;
    cfg.model_extra = format!("api_key_env = \"{VAR}\"\n");
    cfg.write(&sb);

    let mut cmd = sb.run_cmd("out", &[]);
    // Trace logs: the most the binary (and its HTTP stack) ever says about its requests.
    cmd.env(VAR, SECRET).env("AUTODIDACT_LOG", "trace");
    let out = run(cmd);
    out.expect_code(0);

    let stats = server.stats();
    assert_eq!(stats.auth.len(), 1, "one Authorization value: {:?}", stats.auth.keys());
    assert_eq!(stats.auth.get(&Some(format!("Bearer {SECRET}"))), Some(&stats.total));

    let dir = sb.path().join("out");
    let rejected = records(&gen_dir(&dir, 0).join("rejected.parquet"));
    let failed: Vec<_> =
        rejected.iter().filter(|r| r.reason.as_deref().unwrap_or("").starts_with("generation failed")).collect();
    assert_eq!(failed.len(), 2, "the echoed seed's two samples failed");
    for r in failed {
        let reason = r.reason.as_deref().unwrap();
        assert!(reason.contains("Bearer <redacted>"), "the echo is in the reason, redacted: {reason}");
    }
    assert!(out.stderr.contains("<redacted>"), "the echo reached the log, redacted");

    let files = files_under(&dir);
    assert!(files.iter().any(|f| f.ends_with("run.db")));
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(!contains(&bytes, SECRET.as_bytes()), "{} holds the API key", f.display());
    }
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains(VAR), "the variable's name is kept: {config}");
    assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET), "the key was printed");
}

#[test]
fn a_missing_api_key_variable_exits_2_naming_it() {
    let server = TestServer::start(Behaviour::default());
    let sb = Sandbox::new();
    sb.topics(2);
    let mut cfg = Cfg::new(&server.url());
    cfg.model_extra = format!("api_key_env = \"{VAR}\"\n");
    cfg.write(&sb);
    let mut cmd = sb.run_cmd("out", &[]);
    cmd.env_remove(VAR);
    run(cmd).expect_code(2).expect_stderr(&[VAR, "writer"]).expect_clear_error();
    let mut cmd = sb.run_cmd("out", &[]);
    cmd.env(VAR, "  ");
    run(cmd).expect_code(2).expect_stderr(&[VAR]);
    assert_eq!(server.stats().total, 0);
}
