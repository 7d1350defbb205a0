//! A scripted OpenAI-compatible chat server on 127.0.0.1 for the integration tests.
//!
//! Every answer is a pure function of the request body, so two runs that ask the same
//! questions get the same answers, and a test can recompute what the server said (a judge's
//! scores, which judge answers were garbage) from the records alone:
//! - a judge prompt (its user message contains `Rubric:`) gets scores per criterion derived
//!   from a hash of the graded response's first words ([`criterion_score`]), as JSON, as
//!   `name: 8/10` prose, or as garbage ([`judge_style`]);
//! - a revise prompt gets a text whose quality is higher than the original's ([`revised`]);
//! - anything else gets essay-like text derived from the prompt, the request's `seed` and
//!   the choice index ([`essay`]), `n` choices (or one, in `ignore_n` mode).
//!
//! It counts every request by a hash of its body and can be scripted to misbehave
//! ([`Fault`], [`Behaviour::faults`]) or to hold every request after a number of answers
//! ([`Behaviour::hold_after`]) so that a test can kill a client at a known point.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// The marker of a judge prompt (the rubric lines follow it).
const JUDGE_MARKER: &str = "Rubric:";
/// The first words of the revise template.
const REVISE_MARKER: &str = "A grader found the response below lacking";

/// What kind of request a body is, by its first user message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Write an essay (or anything that is neither of the others).
    Write,
    /// Grade a response against a rubric (first ask).
    Judge,
    /// The follow-up after an unreadable judge answer.
    JudgeFollowUp,
    /// Rewrite a response.
    Revise,
    /// Question-and-answer pairs about a document ([`qa_pairs`]).
    Qa,
    /// Is one claim supported by a document ([`claim_verdict`])?
    Claim,
    /// A further answer to a question about a document, for self-consistency ([`sample_answer`]).
    Sample,
    /// A math problem to solve (`autodidact eval-guards --config`): answered with the sum of
    /// the problem's whole numbers ([`solve`]).
    Solve,
    /// A programming problem (the `code` task): answered with the code its problem names
    /// ([`code_answer`]).
    Code,
}

/// A way to misbehave on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: 1`.
    RateLimit,
    /// 500 with a JSON error body.
    ServerError,
    /// Answers normally, but only after this long (longer than the client's timeout).
    Slow(Duration),
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 declaring a `Content-Length` larger than the bytes sent, then the connection
    /// is cut.
    Truncated,
    /// 500 whose body echoes the request's `Authorization` header back.
    EchoAuth,
}

/// What a fault plan sees of a request.
#[derive(Debug, Clone)]
pub struct Seen {
    /// 1-based position of this request among all requests the server received.
    pub total: u64,
    /// 1-based count of requests with this same body (2 = the first retry).
    pub attempt: u32,
    /// What the request asks for.
    pub kind: Kind,
    /// The hash of the body (the key of [`Stats::received`]).
    pub body_key: String,
}

/// Decides, per request, whether to misbehave.
pub type FaultPlan = Arc<dyn Fn(&Seen) -> Option<Fault> + Send + Sync>;

/// How the server behaves.
#[derive(Clone, Default)]
pub struct Behaviour {
    /// Every request is answered after this long.
    pub latency: Duration,
    /// Answer one choice whatever `n` asks for.
    pub ignore_n: bool,
    /// The judge answers some responses as prose, garbage once, or garbage twice
    /// ([`judge_style`]); otherwise always clean JSON.
    pub judge_quirks: bool,
    /// For some prompts ([`repeating_prompt`]) the first choice is always what the prompt's
    /// first seed got: a later generation (another seed) rewrites an earlier one's text word
    /// for word, as a collapsing model does.
    pub repeats: bool,
    /// Scripted faults.
    pub faults: Option<FaultPlan>,
    /// Once this many requests were answered, every new request is held forever (counted
    /// in [`Stats::held`], never answered) until [`TestServer::release`].
    pub hold_after: Option<u64>,
}

/// What the server saw, as a snapshot.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Requests received in total.
    pub total: u64,
    /// Requests received, by body hash.
    pub received: HashMap<String, u32>,
    /// Requests answered with a completion, by body hash.
    pub answered: HashMap<String, u32>,
    /// Requests received, by kind.
    pub by_kind: BTreeMap<Kind, u64>,
    /// The kind of each body received.
    pub body_kind: HashMap<String, Kind>,
    /// Faults served: (body hash, fault).
    pub faults: Vec<(String, Fault)>,
    /// When each body arrived, in order.
    pub arrivals: HashMap<String, Vec<Instant>>,
    /// `Authorization` header values (or `None`), with counts.
    pub auth: BTreeMap<Option<String>, u64>,
    /// Bodies of requests held (never answered).
    pub held: Vec<String>,
    /// Prompt tokens reported in `usage`, summed over completions answered.
    pub prompt_tokens: u64,
    /// Completion tokens reported in `usage`, summed over completions answered.
    pub completion_tokens: u64,
}

impl Stats {
    /// Answered completions in total.
    pub fn answered_total(&self) -> u64 {
        self.answered.values().map(|&n| u64::from(n)).sum()
    }

    /// Distinct bodies of a kind.
    pub fn bodies_of(&self, kind: Kind) -> usize {
        self.body_kind.values().filter(|&&k| k == kind).count()
    }
}

struct Shared {
    behaviour: Behaviour,
    /// The first seed each prompt was asked with (for `repeats`).
    first_seed: Mutex<HashMap<String, u64>>,
    hold_after: AtomicU64,
    stats: Mutex<Stats>,
}

/// A running server; stopped when dropped.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on a free port.
    pub fn start(behaviour: Behaviour) -> TestServer {
        TestServer::start_on(0, behaviour)
    }

    /// Starts a server on `port` (0: any free port). It listens when this returns.
    pub fn start_on(port: u16, behaviour: Behaviour) -> TestServer {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the test server");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let hold = behaviour.hold_after.unwrap_or(u64::MAX);
        let shared = Arc::new(Shared {
            behaviour,
            first_seed: Mutex::default(),
            hold_after: AtomicU64::new(hold),
            stats: Mutex::default(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test server runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = Router::new().route("/v1/chat/completions", post(chat)).with_state(state);
                tokio::select! {
                    r = axum::serve(listener, app) => r.expect("test server"),
                    _ = stopped => {}
                }
            });
            // Held and slow handlers are dropped here, not waited for.
            rt.shutdown_background();
        });
        TestServer { addr, shared, stop: Some(stop), thread: Some(thread) }
    }

    /// The API root to put in `base_url`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// What the server saw so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats.lock().unwrap().clone()
    }

    /// Stops holding requests: new ones are answered again (held ones stay unanswered).
    pub fn release(&self) {
        self.shared.hold_after.store(u64::MAX, Ordering::SeqCst);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Deterministic text.

/// FNV-1a over length-prefixed parts, then a SplitMix64 finaliser for well-mixed low bits.
pub fn hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for p in parts {
        for b in (p.len() as u64).to_le_bytes() {
            eat(b);
        }
        for &b in *p {
            eat(b);
        }
    }
    mix(h)
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The key under which a body is counted: 128 bits of two independent hashes.
pub fn body_key(body: &[u8]) -> String {
    format!("{:016x}{:016x}", hash(&[b"body-a", body]), hash(&[b"body-b", body]))
}

const WORDS: &[&str] = &[
    "argument",
    "evidence",
    "history",
    "society",
    "policy",
    "citizens",
    "freedom",
    "justice",
    "economy",
    "science",
    "language",
    "culture",
    "tradition",
    "progress",
    "risk",
    "benefit",
    "cost",
    "value",
    "education",
    "children",
    "teachers",
    "cities",
    "transport",
    "energy",
    "climate",
    "nuclear",
    "solar",
    "markets",
    "labour",
    "wages",
    "housing",
    "health",
    "medicine",
    "doctors",
    "patients",
    "privacy",
    "technology",
    "networks",
    "software",
    "machines",
    "automation",
    "farmers",
    "water",
    "forests",
    "oceans",
    "species",
    "research",
    "theory",
    "experiment",
    "measurement",
    "doubt",
    "trust",
    "institutions",
    "courts",
    "voters",
    "elections",
    "parliament",
    "taxes",
    "budget",
    "public",
    "private",
    "local",
    "global",
    "ancient",
    "modern",
    "careful",
    "bold",
    "clear",
    "vague",
    "strong",
    "weak",
    "rapid",
    "slow",
    "fair",
    "unfair",
    "costly",
    "cheap",
    "rare",
    "common",
    "because",
    "although",
    "therefore",
    "however",
    "moreover",
    "instead",
    "despite",
    "since",
    "unless",
    "whereas",
    "indeed",
    "perhaps",
    "clearly",
    "rarely",
    "often",
    "seldom",
    "always",
    "never",
    "critics",
    "supporters",
    "scholars",
    "engineers",
    "parents",
    "workers",
    "owners",
    "readers",
    "writers",
    "leaders",
    "neighbours",
    "strangers",
    "argue",
    "claim",
    "show",
    "suggest",
    "doubt",
    "prove",
    "measure",
    "build",
    "protect",
    "reduce",
    "increase",
    "balance",
    "weigh",
    "compare",
    "question",
    "answer",
    "defend",
    "reject",
    "accept",
    "change",
    "keep",
    "lose",
    "gain",
    "learn",
    "teach",
    "vote",
    "govern",
    "trade",
    "grow",
    "shrink",
    "share",
    "own",
    "rent",
    "travel",
    "walk",
    "drive",
    "cycle",
    "listen",
    "speak",
    "write",
    "read",
    "remember",
    "forget",
    "imagine",
    "plan",
    "decide",
    "the",
    "a",
    "their",
    "our",
    "every",
    "some",
    "many",
    "few",
    "most",
    "no",
    "such",
    "this",
    "that",
    "these",
    "those",
    "of",
    "in",
    "on",
    "for",
    "with",
    "against",
    "without",
    "between",
    "among",
    "through",
    "after",
    "before",
    "during",
    "within",
    "beyond",
    "toward",
    "village",
    "river",
    "mountain",
    "harbour",
    "library",
    "museum",
    "school",
    "hospital",
    "factory",
    "garden",
    "bridge",
    "road",
    "railway",
    "airport",
    "market",
    "festival",
    "law",
    "rule",
    "habit",
    "custom",
    "belief",
    "method",
    "model",
    "pattern",
    "signal",
    "noise",
    "data",
    "sample",
    "record",
];

/// Essay-like text from a key: 6 to 8 sentences of 8 to 13 words, drawn from a vocabulary
/// large enough that no 3-gram repeats by more than chance.
pub fn essay(key: u64) -> String {
    let mut state = key;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(state)
    };
    let sentences = 6 + next() % 3;
    let mut out = Vec::new();
    for _ in 0..sentences {
        let len = 8 + next() % 6;
        let mut words: Vec<String> =
            (0..len).map(|_| WORDS[(next() % WORDS.len() as u64) as usize].to_string()).collect();
        let first = &mut words[0];
        *first = first[..1].to_uppercase() + &first[1..];
        out.push(words.join(" ") + ".");
    }
    out.join(" ")
}

/// The writer's text for a prompt, a request seed and a choice index.
pub fn written(prompt: &str, seed: u64, choice: u64) -> String {
    essay(hash(&[b"essay", prompt.as_bytes(), &seed.to_le_bytes(), &choice.to_le_bytes()]))
}

/// True if, for this prompt, the second choice is a near duplicate of the first.
pub fn near_duplicate_pair(prompt: &str) -> bool {
    hash(&[b"near-duplicate", prompt.as_bytes()]).is_multiple_of(4)
}

/// True if, with `repeats`, this prompt's first choice repeats its first seed's.
pub fn repeating_prompt(prompt: &str) -> bool {
    hash(&[b"repeat", prompt.as_bytes()]).is_multiple_of(3)
}

/// The first words of a response: what its quality is a function of, so that near
/// duplicates grade alike.
fn head(response: &str) -> String {
    response.split_whitespace().take(24).collect::<Vec<_>>().join(" ")
}

/// The quality of a response, 3 to 10.
pub fn quality(response: &str) -> u64 {
    3 + hash(&[b"quality", head(response).as_bytes()]) % 8
}

/// The score (0 to 10) the judge gives `response` on `criterion`: its quality, give or
/// take one.
pub fn criterion_score(response: &str, criterion: &str) -> f64 {
    let jitter = (hash(&[b"jitter", head(response).as_bytes(), criterion.as_bytes()]) % 3) as i64 - 1;
    (quality(response) as i64 + jitter).clamp(0, 10) as f64
}

/// The grade in 0..=1 of `response` under weighted criteria (what the pipeline should
/// compute from the judge's scores, on a scale of 10).
pub fn expected_grade(response: &str, criteria: &[(&str, f64)]) -> f64 {
    let total: f64 = criteria.iter().map(|(_, w)| w).sum();
    criteria.iter().map(|(c, w)| w * criterion_score(response, c)).sum::<f64>() / total / 10.0
}

/// How a quirky judge answers about a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JudgeStyle {
    /// `{"scores": {...}, "explanation": "..."}`.
    Json,
    /// `name: 8/10` lines.
    Prose,
    /// Garbage, then JSON on the follow-up.
    GarbageOnce,
    /// Garbage on the ask and on the follow-up.
    GarbageTwice,
}

/// The style of a judge with `judge_quirks` for this response.
pub fn judge_style(response: &str) -> JudgeStyle {
    match hash(&[b"style", response.as_bytes()]) % 6 {
        0 => JudgeStyle::GarbageTwice,
        1 => JudgeStyle::GarbageOnce,
        2 => JudgeStyle::Prose,
        _ => JudgeStyle::Json,
    }
}

/// The revision of `response` asked with revise prompt `prompt`: a text of quality at least
/// three above the original's (up to 10).
pub fn revised(prompt: &str, response: &str) -> String {
    let target = (quality(response) + 3).min(10);
    for nonce in 0u64.. {
        let text = essay(hash(&[b"revise", prompt.as_bytes(), &nonce.to_le_bytes()]));
        if quality(&text) >= target {
            return text;
        }
    }
    unreachable!("the nonces are unbounded")
}

/// The text between `"""` fences after `label` (e.g. `Response:`), as the templates write it.
/// The document of a prompt: the first `"""` fence after `Document:`.
fn document_of(prompt: &str) -> String {
    fenced_after(prompt, "Document:").unwrap_or_default()
}

/// The sentences of a document (split at `. `).
fn sentences(doc: &str) -> Vec<String> {
    doc.split_inclusive(". ").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// The fabricated answer every document's second pair gets: nothing of it is in the document.
pub const FABRICATED: &str = "The document also reports that Zanzibar exported 4217 tonnes of saffron in 1871.";

/// `count` pairs about the document of a `qa` prompt: question `i` asks about sentence `i`
/// and the answer is that sentence, except the second answer, which is [`FABRICATED`].
fn qa_pairs(prompt: &str) -> String {
    let count: usize = prompt
        .split_whitespace()
        .skip_while(|w| *w != "write")
        .nth(1)
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    let sents = sentences(&document_of(prompt));
    let pairs: Vec<Value> = (0..count)
        .map(|i| {
            let answer = if i == 1 { FABRICATED.to_string() } else { sents.get(i % sents.len().max(1)).cloned().unwrap_or_default() };
            json!({"question": format!("What does sentence {} of the document say?", i + 1), "answer": answer})
        })
        .collect();
    json!({"pairs": pairs}).to_string()
}

/// `supported` when every word of the claim is in the document, else `not_in_context`.
fn claim_verdict(prompt: &str) -> String {
    let doc = document_of(prompt).to_lowercase();
    let claim = prompt.split("\nClaim: ").nth(1).and_then(|t| t.lines().next()).unwrap_or("").to_lowercase();
    let words = |t: &str| t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect::<Vec<_>>();
    let known = words(&doc);
    let ok = words(&claim).iter().all(|w| known.contains(w));
    json!({"verdict": if ok { "supported" } else { "not_in_context" }}).to_string()
}

/// The answer to `What does sentence N of the document say?`: that sentence.
fn sample_answer(prompt: &str) -> String {
    let n: usize = prompt
        .split("sentence ")
        .last()
        .and_then(|t| t.split_whitespace().next())
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    let sents = sentences(&document_of(prompt));
    sents.get((n - 1) % sents.len().max(1)).cloned().unwrap_or_default()
}

/// A worked answer to a `Solve` prompt: the sum of the whole numbers after `Problem:`, as
/// `#### N`.
pub fn solve(prompt: &str) -> String {
    let problem = prompt.split("Problem:").nth(1).unwrap_or("");
    let sum: u64 = problem.split(|c: char| !c.is_ascii_digit()).filter_map(|t| t.parse::<u64>().ok()).sum();
    format!("Adding the numbers of the problem gives {sum}.\n#### {sum}")
}

/// The answer to a `code` prompt. Every problem asks for `add(a, b)`; a problem holding
/// `BEHAVE:<name>` gets the solution of that name, hostile ones included ([`CODE_ANSWERS`]);
/// the others a right one. Without given tests, the answer carries its own.
pub fn code_answer(prompt: &str) -> String {
    let problem = fenced_after(prompt, "Problem:").unwrap_or_default();
    let name = problem.split("BEHAVE:").nth(1).and_then(|t| t.split_whitespace().next()).unwrap_or("right");
    let value = |key: &str| problem.split(key).nth(1).and_then(|t| t.split_whitespace().next()).unwrap_or("").to_string();
    let body = CODE_ANSWERS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("def add(a, b):\n    return a + b\n", |(_, b)| b)
        .replace("PATH_OUTSIDE", &value("OUTSIDE:"))
        .replace("PORT", &value("PORT:"));
    let own_tests = if prompt.contains("It will be checked against these tests") {
        String::new()
    } else {
        "\nAnd its tests:\n```python\nassert add(2, 3) == 5\nassert add(-1, 1) == 0\n```\n".to_string()
    };
    format!("Here is a solution.\n```python\n{body}```\n{own_tests}")
}

/// Scripted solutions by name. The hostile ones misbehave when the solution is imported;
/// `PATH_OUTSIDE` and `PORT` are replaced by the problem's `OUTSIDE:` and `PORT:` values.
pub const CODE_ANSWERS: &[(&str, &str)] = &[
    ("wrong", "def add(a, b):\n    return a - b\n"),
    ("loop", "while True:\n    pass\n"),
    ("sleep", "import time\ntime.sleep(60)\n"),
    ("fork", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"),
    ("memory", "blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 1024 * 1024))\n"),
    ("flood", "while True:\n    print('x' * 1000)\n"),
    (
        "escape",
        "import os\nfor path in ['PATH_OUTSIDE/escaped.txt', '/etc/autodidact-escaped', os.path.expanduser('~root/escaped')]:\n    try:\n        open(path, 'w').write('out')\n    except OSError:\n        pass\ndef add(a, b):\n    return a + b\nassert os.path.exists('PATH_OUTSIDE/escaped.txt'), 'could not escape'\n",
    ),
    (
        "socket",
        "import socket\ns = socket.create_connection(('127.0.0.1', PORT), timeout=2)\ndef add(a, b):\n    return a + b\n",
    ),
];

fn fenced_after(text: &str, label: &str) -> Option<String> {
    let start = text.find(&format!("\n{label}\n\"\"\"\n"))? + label.len() + 6;
    let end = text[start..].find("\n\"\"\"")? + start;
    Some(text[start..end].to_string())
}

/// The criteria named in the rubric lines `- name (weight ...`.
fn rubric_criteria(prompt: &str) -> Vec<String> {
    let Some(at) = prompt.rfind(JUDGE_MARKER) else { return Vec::new() };
    prompt[at..]
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .filter_map(|l| l.split_once(" (weight").map(|(name, _)| name.trim().to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The handler.

fn kind_of(first_user: &str, messages: usize) -> Kind {
    if first_user.contains("question-and-answer pair") {
        Kind::Qa
    } else if first_user.starts_with("Check one claim against a document.") {
        Kind::Claim
    } else if first_user.starts_with("Answer the question using the document below.") {
        Kind::Sample
    } else if first_user.starts_with("Solve the problem step by step") {
        Kind::Solve
    } else if first_user.starts_with("Write a Python 3 solution") {
        Kind::Code
    } else if first_user.contains(JUDGE_MARKER) {
        if messages > 1 { Kind::JudgeFollowUp } else { Kind::Judge }
    } else if first_user.starts_with(REVISE_MARKER) {
        Kind::Revise
    } else {
        Kind::Write
    }
}

fn error_json(status: StatusCode, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], json!({"error": {"message": message}}).to_string())
        .into_response()
}

fn words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = body_key(&body);
    let auth = headers.get(header::AUTHORIZATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let request: Option<Value> = serde_json::from_slice(&body).ok();
    let messages: Vec<(String, String)> = request
        .as_ref()
        .and_then(|r| r.get("messages"))
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .map(|m| {
                    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                    (s("role"), s("content"))
                })
                .collect()
        })
        .unwrap_or_default();
    let first_user = messages.iter().find(|(r, _)| r == "user").map(|(_, c)| c.clone()).unwrap_or_default();
    let kind = kind_of(&first_user, messages.len());

    let seen = {
        let mut st = shared.stats.lock().unwrap();
        st.total += 1;
        let attempt = {
            let n = st.received.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        *st.by_kind.entry(kind).or_default() += 1;
        st.body_kind.insert(key.clone(), kind);
        st.arrivals.entry(key.clone()).or_default().push(Instant::now());
        *st.auth.entry(auth.clone()).or_default() += 1;
        let hold = st.answered_total() >= shared.hold_after.load(Ordering::SeqCst);
        if hold {
            st.held.push(key.clone());
        }
        (Seen { total: st.total, attempt, kind, body_key: key.clone() }, hold)
    };
    let (seen, hold) = seen;
    if hold {
        // Held: never answered; dropped when the client goes away or the server stops.
        std::future::pending::<()>().await;
    }
    if !shared.behaviour.latency.is_zero() {
        tokio::time::sleep(shared.behaviour.latency).await;
    }
    let Some(request) = request else {
        return error_json(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    if messages.is_empty() {
        return error_json(StatusCode::BAD_REQUEST, "no messages");
    }

    let fault = shared.behaviour.faults.as_ref().and_then(|plan| plan(&seen));
    if let Some(f) = &fault {
        shared.stats.lock().unwrap().faults.push((key.clone(), f.clone()));
        match f {
            Fault::RateLimit => {
                let mut r = error_json(StatusCode::TOO_MANY_REQUESTS, "slow down");
                r.headers_mut().insert(header::RETRY_AFTER, "1".parse().unwrap());
                return r;
            }
            Fault::ServerError => return error_json(StatusCode::INTERNAL_SERVER_ERROR, "the model crashed"),
            Fault::Malformed => {
                return (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    "{\"choices\": [{\"message\": oops",
                )
                    .into_response();
            }
            Fault::EchoAuth => {
                let echo = format!("unauthorised request; you sent Authorization: {}", auth.unwrap_or_default());
                return error_json(StatusCode::INTERNAL_SERVER_ERROR, &echo);
            }
            Fault::Slow(d) => tokio::time::sleep(*d).await,
            Fault::Truncated => {}
        }
    }

    let n = request.get("n").and_then(Value::as_u64).unwrap_or(1).max(1);
    let n = if shared.behaviour.ignore_n { 1 } else { n };
    let seed = request.get("seed").and_then(Value::as_u64).unwrap_or(0);
    let texts: Vec<String> = match kind {
        Kind::Write => {
            let mut texts: Vec<String> = (0..n).map(|i| written(&first_user, seed, i)).collect();
            if shared.behaviour.repeats && repeating_prompt(&first_user) {
                let first = *shared.first_seed.lock().unwrap().entry(first_user.clone()).or_insert(seed);
                texts[0] = written(&first_user, first, 0);
            }
            if n >= 2 && near_duplicate_pair(&first_user) {
                texts[1] = format!("{} Indeed, this matters.", texts[0]);
            }
            texts
        }
        Kind::Revise => {
            let original = fenced_after(&first_user, "Response:").unwrap_or_default();
            vec![revised(&first_user, &original)]
        }
        Kind::Qa => vec![qa_pairs(&first_user)],
        Kind::Claim => vec![claim_verdict(&first_user)],
        Kind::Sample => (0..n).map(|_| sample_answer(&first_user)).collect(),
        Kind::Solve => (0..n).map(|_| solve(&first_user)).collect(),
        Kind::Code => (0..n).map(|_| code_answer(&first_user)).collect(),
        Kind::Judge | Kind::JudgeFollowUp => {
            let response = fenced_after(&first_user, "Response:").unwrap_or_default();
            let criteria = rubric_criteria(&first_user);
            let style = if shared.behaviour.judge_quirks { judge_style(&response) } else { JudgeStyle::Json };
            let garbage = "I would rather not grade this one; it reads fine I suppose.".to_string();
            let text = match (style, kind) {
                (JudgeStyle::GarbageTwice, _) | (JudgeStyle::GarbageOnce, Kind::Judge) => garbage,
                (JudgeStyle::Prose, _) => {
                    let lines: Vec<String> = criteria
                        .iter()
                        .map(|c| format!("{}{}: {}/10", c[..1].to_uppercase(), &c[1..], criterion_score(&response, c)))
                        .collect();
                    format!("Here is my assessment.\n{}\nOverall a solid attempt.", lines.join("\n"))
                }
                _ => {
                    let scores: serde_json::Map<String, Value> =
                        criteria.iter().map(|c| (c.clone(), json!(criterion_score(&response, c)))).collect();
                    json!({"scores": scores, "explanation": format!("quality {} of 10", quality(&response))})
                        .to_string()
                }
            };
            vec![text]
        }
    };
    let prompt_tokens: u64 = messages.iter().map(|(_, c)| words(c)).sum();
    let completion_tokens: u64 = texts.iter().map(|t| words(t)).sum();
    let choices: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}))
        .collect();
    let payload = json!({
        "id": format!("chatcmpl-{}", &key[..12]),
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model").cloned().unwrap_or(Value::Null),
        "choices": choices,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    })
    .to_string();

    if fault == Some(Fault::Truncated) {
        // Half the body, a pause (so that the head and that half are flushed), then an error:
        // hyper cuts the connection short of the declared length.
        let cut = Bytes::from(payload.as_bytes()[..payload.len() / 2].to_vec());
        let parts = futures::stream::unfold(Some(cut), |half| async move {
            match half {
                Some(half) => Some((Ok(half), None)),
                None => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((Err(std::io::Error::other("cut mid-body")), None))
                }
            }
        });
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, payload.len())
            .body(Body::from_stream(parts))
            .unwrap();
    }
    if fault.is_none() {
        let mut st = shared.stats.lock().unwrap();
        *st.answered.entry(key).or_default() += 1;
        st.prompt_tokens += prompt_tokens;
        st.completion_tokens += completion_tokens;
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], payload).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_text_and_criteria_are_found() {
        let prompt = "Grade.\n\nPrompt:\n\"\"\"\nP\n\"\"\"\n\nResponse:\n\"\"\"\nline one\nline two\n\"\"\"\n\nRubric:\n- thesis (weight 2): x\n- language (weight 1): y\n\nReply";
        assert_eq!(fenced_after(prompt, "Response:").as_deref(), Some("line one\nline two"));
        assert_eq!(rubric_criteria(prompt), ["thesis", "language"]);
    }

    /// One raw HTTP/1.1 exchange: (head, body bytes read until the server closed).
    fn raw_post(server: &TestServer, body: &str) -> (String, Vec<u8>) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all);
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head") + 4;
        (String::from_utf8_lossy(&all[..split]).to_lowercase(), all[split..].to_vec())
    }

    #[test]
    fn faults_are_what_they_say() {
        let request = r#"{"model": "m", "messages": [{"role": "user", "content": "Write."}], "n": 2, "seed": 3}"#;
        let with = |fault: Fault| {
            let plan: FaultPlan = Arc::new(move |_: &Seen| Some(fault.clone()));
            TestServer::start(Behaviour { faults: Some(plan), ..Behaviour::default() })
        };
        let (head, body) = raw_post(&with(Fault::Truncated), request);
        let declared: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .expect("a declared length")
            .trim()
            .parse()
            .unwrap();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!body.is_empty() && body.len() < declared, "{} of {declared} bytes", body.len());
        let (head, body) = raw_post(&with(Fault::RateLimit), request);
        assert!(head.starts_with("http/1.1 429") && head.contains("retry-after: 1"), "{head}");
        assert!(serde_json::from_slice::<Value>(&body).is_ok());
        let (head, body) = raw_post(&with(Fault::Malformed), request);
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(serde_json::from_slice::<Value>(&body).is_err());
        // Well behaved: n choices, usage, all counted.
        let server = TestServer::start(Behaviour::default());
        let (head, body) = raw_post(&server, request);
        assert!(head.starts_with("http/1.1 200"), "{head}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["choices"].as_array().unwrap().len(), 2);
        assert_eq!(v["choices"][0]["message"]["content"], written("Write.", 3, 0));
        assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 80);
        let stats = server.stats();
        assert_eq!((stats.total, stats.answered_total(), stats.bodies_of(Kind::Write)), (1, 1, 1));
    }

    #[test]
    fn revisions_are_better() {
        for i in 0..20u64 {
            let original = essay(i);
            let better = revised(&format!("p{i}"), &original);
            assert!(quality(&better) >= (quality(&original) + 3).min(10));
        }
    }
}
