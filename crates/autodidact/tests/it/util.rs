//! Shared helpers: a temp directory per test, configurations, running the real binary with
//! a time limit, and reading what it wrote.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use autodidact_data::{Record, open_records};
use serde_json::Value;

/// No single command of the suite should come near this; past it the child is killed and
/// the test fails with what it printed, instead of hanging the suite.
pub const LIMIT: Duration = Duration::from_secs(90);

/// What a finished command did.
#[derive(Debug)]
pub struct Output {
    /// The exit code; `None` if a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panics with everything printed unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless stderr has one clear `error: ` line: no panic, and no cause repeated
    /// (`a: b: b`), which happens when an error shows its source and the chain shows it again.
    #[track_caller]
    pub fn expect_clear_error(&self) -> &Self {
        assert!(!self.stderr.contains("panicked"), "a panic:\n{}", self.stderr);
        let errors: Vec<&str> = self.stderr.lines().filter(|l| l.starts_with("error: ")).collect();
        assert_eq!(errors.len(), 1, "one error line:\n{}", self.stderr);
        let parts: Vec<&str> = errors[0].split(": ").map(str::trim).filter(|p| p.len() > 12).collect();
        for (i, p) in parts.iter().enumerate() {
            assert!(!parts[i + 1..].contains(p), "the error repeats {p:?}:\n{}", errors[0]);
        }
        self
    }

    /// Panics unless stderr contains every needle.
    #[track_caller]
    pub fn expect_stderr(&self, needles: &[&str]) -> &Self {
        for n in needles {
            assert!(self.stderr.contains(n), "stderr lacks {n:?}:\n{}", self.stderr);
        }
        self
    }
}

/// A command of the binary under test, in `cwd`, with a clean logging environment.
pub fn autodidact(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autodidact"));
    cmd.args(args).current_dir(cwd).env("NO_COLOR", "1").env_remove("AUTODIDACT_LOG");
    cmd
}

/// A running child whose output is being collected.
pub struct Running {
    pub child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

fn collect(mut from: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Starts `cmd` with piped output.
pub fn spawn(mut cmd: Command) -> Running {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start the autodidact binary");
    let stdout = Some(collect(child.stdout.take().unwrap()));
    let stderr = Some(collect(child.stderr.take().unwrap()));
    Running { child, stdout, stderr }
}

impl Running {
    /// Waits for the child to exit (killing it after `limit`) and returns its output.
    pub fn finish(mut self, limit: Duration) -> Output {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.stderr.take().unwrap().join().unwrap_or_default();
                panic!("autodidact did not finish within {limit:?}; stderr:\n{stderr}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Output {
            code: status.code(),
            stdout: self.stdout.take().unwrap().join().unwrap_or_default(),
            stderr: self.stderr.take().unwrap().join().unwrap_or_default(),
        }
    }
}

/// Runs `cmd` to the end.
pub fn run(cmd: Command) -> Output {
    spawn(cmd).finish(LIMIT)
}

/// Polls `cond` until it holds; panics with `what` after `limit`.
#[track_caller]
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A temp directory holding one test's configuration, seeds and runs.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox { dir: tempfile::Builder::new().prefix("autodidact-it-").tempdir().expect("temp dir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (relative to the sandbox) and returns its path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `topics.jsonl` with `n` distinct topics, one JSON object a line.
    pub fn topics(&self, n: usize) -> PathBuf {
        let lines: Vec<String> = (0..n)
            .map(|i| serde_json::json!({"topic": format!("Topic number {i}: should {} be taught in schools?", TOPICS[i % TOPICS.len()])}).to_string())
            .collect();
        self.write("topics.jsonl", &(lines.join("\n") + "\n"))
    }

    /// `autodidact <args>` in the sandbox.
    pub fn cmd(&self, args: &[&str]) -> Command {
        autodidact(self.path(), args)
    }

    /// `autodidact run run.toml --out <sandbox>/<out> [extra]`, to the end.
    pub fn run(&self, out: &str, extra: &[&str]) -> Output {
        run(self.run_cmd(out, extra))
    }

    pub fn run_cmd(&self, out: &str, extra: &[&str]) -> Command {
        let out = self.path().join(out);
        let mut args = vec!["run", "run.toml", "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.cmd(&args)
    }
}

const TOPICS: &[&str] = &["chess", "rhetoric", "astronomy", "cooking", "statistics", "poetry", "carpentry", "law"];

/// The knobs of a test configuration; `toml()` writes it.
#[derive(Clone)]
pub struct Cfg {
    pub url: String,
    pub generations: u32,
    pub seed: u64,
    pub per_seed: u32,
    pub judge: bool,
    pub revise: Option<(u32, f64)>,
    pub near_duplicates: bool,
    pub max_in_flight: usize,
    pub max_retries: u32,
    pub timeout_secs: f64,
    pub backoff_max_ms: u64,
    /// Extra lines for `[models.writer]`.
    pub model_extra: String,
    /// Extra lines for `[grade]`.
    pub grade_extra: String,
    /// Extra lines for `[curate]`.
    pub curate_extra: String,
}

impl Cfg {
    pub fn new(url: &str) -> Cfg {
        Cfg {
            url: url.to_string(),
            generations: 1,
            seed: 7,
            per_seed: 2,
            judge: true,
            revise: None,
            near_duplicates: true,
            max_in_flight: 4,
            max_retries: 3,
            timeout_secs: 20.0,
            backoff_max_ms: 100,
            model_extra: String::new(),
            grade_extra: String::new(),
            curate_extra: String::new(),
        }
    }

    pub fn toml(&self) -> String {
        let mut t = format!(
            r#"[run]
generations = {}
seed = {}

[models.writer]
backend = "openai"
model = "test-model"
base_url = "{}"
max_in_flight = {}
max_retries = {}
timeout_secs = {:?}
backoff_initial_ms = 10
backoff_max_ms = {}
{}
[generate]
task = "essay"
seeds = "topics.jsonl"
per_seed = {}
max_tokens = 300

[grade]
"#,
            self.generations,
            self.seed,
            self.url,
            self.max_in_flight,
            self.max_retries,
            self.timeout_secs,
            self.backoff_max_ms,
            self.model_extra,
            self.per_seed
        );
        if self.judge {
            t.push_str("judge = \"writer\"\n");
        }
        if let Some((rounds, below)) = self.revise {
            t.push_str(&format!("revise = {{ rounds = {rounds}, below = {below:?} }}\n"));
        }
        t.push_str(&self.grade_extra);
        t.push_str("\n[curate]\nmin_score = 0.7\n");
        if self.near_duplicates {
            t.push_str("near_duplicates = { threshold = 0.8, permutations = 64 }\n");
        } else {
            t.push_str("near_duplicates = false\n");
        }
        t.push_str(&self.curate_extra);
        t
    }

    /// Writes `run.toml` into the sandbox.
    pub fn write(&self, sb: &Sandbox) -> PathBuf {
        sb.write("run.toml", &self.toml())
    }
}

/// Every record of a JSONL or Parquet file, read with the product's reader.
#[track_caller]
pub fn records(path: &Path) -> Vec<Record> {
    open_records(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A JSON file.
#[track_caller]
pub fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The folder of generation `g` of a run.
pub fn gen_dir(out: &Path, g: u32) -> PathBuf {
    out.join("generations").join(format!("{g:03}"))
}

/// Ids with their multiplicities.
pub fn id_counts<'a>(rs: impl IntoIterator<Item = &'a Record>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in rs {
        *m.entry(r.id.clone()).or_default() += 1;
    }
    m
}

/// The ids of a record file, in order.
pub fn ids(path: &Path) -> Vec<String> {
    records(path).into_iter().map(|r| r.id).collect()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The category the pipeline files a rejection reason under (its documented prefixes).
pub fn category(reason: &str) -> &'static str {
    let known = [
        ("generation failed", "generation_failed"),
        ("grading failed", "grading_failed"),
        ("score", "score"),
        ("not graded", "not_graded"),
        ("too short", "length"),
        ("too long", "length"),
        ("repetitive", "repetition"),
        ("contaminated", "contaminated"),
        ("exact duplicate", "exact_duplicate"),
        ("near duplicate", "near_duplicate"),
    ];
    known.iter().find(|(p, _)| reason.starts_with(p)).map(|(_, c)| *c).unwrap_or("other")
}
