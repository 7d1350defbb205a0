//! Bad input gets exit status 2 and a message naming the file, line or key; a server that
//! cannot be reached gets exit status 1, and the run resumes once it listens.

use crate::server::{Behaviour, TestServer};
use crate::util::{Cfg, Sandbox, json};

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

#[test]
fn bad_configs_and_seeds_exit_2_naming_where() {
    let server = TestServer::start(Behaviour::default());
    let base = Cfg::new(&server.url()).toml();
    let good_seeds = "{\"topic\": \"Tea\"}\n{\"topic\": \"Coffee\"}\n";
    // (what, config text, seeds text, text the error must name)
    let cases: Vec<(&str, String, &str, Vec<String>)> = vec![
        (
            "malformed seed line",
            base.clone(),
            "{\"topic\": \"Tea\"}\n{\"topic\": \"Coffee\"\n{\"topic\": \"Milk\"}\n",
            vec!["topics.jsonl".into(), "line 2".into()],
        ),
        (
            "seed without a text field",
            base.clone(),
            "{\"topic\": \"Tea\"}\n\n{\"title\": \"Coffee\"}\n",
            vec!["topics.jsonl".into(), "line 3".into(), "seed_field".into()],
        ),
        ("missing config file", String::new(), good_seeds, vec!["run.toml".into()]),
        (
            "missing seed file",
            base.replace("seeds = \"topics.jsonl\"", "seeds = \"nope.jsonl\""),
            good_seeds,
            vec!["nope.jsonl".into()],
        ),
        {
            let text = base.replace("[run]\n", "[run]\ngenrations = 3\n");
            let line = line_of(&text, "genrations");
            ("unknown key", text, good_seeds, vec!["genrations".into(), "run.toml".into(), format!("line {line}")])
        },
        {
            let text = base.replace("task = \"essay\"", "task = \"poem\"");
            let line = line_of(&text, "poem");
            ("bad value", text, good_seeds, vec!["poem".into(), "run.toml".into(), format!("line {line}")])
        },
        {
            let text = base.replace("judge = \"writer\"", "judge = \"critic\"");
            let line = line_of(&text, "critic");
            ("undefined judge", text, good_seeds, vec!["critic".into(), "grade.judge".into(), format!("line {line}")])
        },
        (
            "bad base_url",
            base.replace(&server.url(), "localhost:8000"),
            good_seeds,
            vec!["base_url".into(), "localhost:8000".into()],
        ),
    ];
    for (what, config, seeds, needles) in cases {
        let sb = Sandbox::new();
        if !config.is_empty() {
            sb.write("run.toml", &config);
        }
        sb.write("topics.jsonl", seeds);
        let out = sb.run("out", &[]);
        assert_eq!(out.code, Some(2), "{what}: expected exit 2\n{}", out.stderr);
        assert!(out.stderr.starts_with("error: "), "{what}: {}", out.stderr);
        out.expect_clear_error();
        for n in &needles {
            assert!(out.stderr.contains(n.as_str()), "{what}: stderr lacks {n:?}:\n{}", out.stderr);
        }
        assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{what}: nothing on stdout: {}", out.stdout);
    }
    assert_eq!(server.stats().total, 0, "bad input is found before any request is sent");
}

#[test]
fn an_unreachable_server_exits_1_and_the_run_resumes_once_it_listens() {
    // A port nothing listens on (bound, then freed), where the server will start later.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sb = Sandbox::new();
    sb.topics(4);
    let mut cfg = Cfg::new(&format!("http://127.0.0.1:{port}/v1"));
    cfg.max_retries = 2;
    cfg.write(&sb);

    let out = sb.run("out", &[]);
    out.expect_code(1).expect_stderr(&["unreachable", &port.to_string(), "hint: start the server", "--out"]);
    out.expect_clear_error();
    assert!(!sb.path().join("out/dataset.parquet").exists());

    let server = TestServer::start_on(port, Behaviour::default());
    sb.run("out", &[]).expect_code(0);
    let summary = json(&sb.path().join("out/summary.json"));
    assert_eq!(summary["totals"]["generated"], 8);
    assert_eq!(summary["generations"][0]["generation_failures"], 0, "no record carries the outage");
    assert!(server.stats().total >= 4 + 8, "the resumed run did the work");
}
