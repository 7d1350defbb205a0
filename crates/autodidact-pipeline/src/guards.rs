//! The hallucination guards of the grade stage: grounding, self-consistency and executable
//! verification, each a grade on the record (`grounding`, `consistency`, `verifier`), and the
//! policy that turns them into a verdict.
//!
//! - `grounding` (records with a context): the fast check of every claim
//!   ([`autodidact_guards::grounding`]), and with `judge = true` the judge asked claim by claim
//!   with structured output; a claim counts as supported when every check asked says so.
//! - `consistency`: `samples` further answers of the writer to the same prompt (one request
//!   with `n`, cached like every request); short answers vote, longer ones are scored by the
//!   n-gram support of their least supported sentence.
//! - `verify = "math"`: every equation recomputed, the final answer from the work;
//! - `verify = "code"`: the answer's solution run against the task's tests (the record's
//!   context), else the answer's own, in the sandbox ([`autodidact_sandbox`]), as many runs
//!   at once as the machine has cores; hostile code ends as a failed grade of its record.
//!
//! Under policy `any` a guard that could not grade a record (its samples failed, the
//! sandbox could not start) rejects it too: an unchecked record is not a checked one.
//!
//! Policy `any` rejects a record failing a guard, the reason naming the guard and what failed;
//! `weighted` makes the record's score the weighted mean of its grades.

use autodidact_data::{Grade, Record, Verdict};
use std::sync::Arc;

use autodidact_guards::{code, consistency, grounding, math};
use autodidact_sandbox::{Outcome, Sandbox, SandboxConfig, SandboxError, Status};
use autodidact_models::{ChatRequest, Message, ModelError};
use minijinja::context;
use serde::Serialize;

use crate::config::{Config, Policy, TaskKind, VerifyKind};
use crate::context::Context;
use crate::error::PipelineError;
use crate::generate::{derive_seed, run_ordered, stage_limit};
use crate::tasks::Templates;

/// What the guards did in one generation.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct GuardStats {
    /// Records rejected, by guard.
    pub rejected_by: std::collections::BTreeMap<String, u64>,
}

/// Answers of 12 words or fewer are compared by their final answer.
const SHORT_ANSWER_WORDS: usize = 12;

/// Runs the configured guards over the records not yet rejected.
pub async fn guard(cfg: &Config, cx: &Context, templates: &Templates, records: &mut [Record], gen_no: u32) -> Result<GuardStats, PipelineError> {
    let g = &cfg.grade;
    let mut stats = GuardStats::default();
    if !g.has_guards() {
        return Ok(stats);
    }
    let live: Vec<usize> = (0..records.len()).filter(|&i| records[i].verdict != Verdict::Rejected).collect();
    if let Some(gg) = &g.grounding {
        // A code record's context is its tests, not a document to ground claims in.
        let with_context: Vec<usize> = if cfg.generate.task == TaskKind::Code {
            Vec::new()
        } else {
            live.iter().copied().filter(|&i| records[i].context.is_some()).collect()
        };
        let mut checks: Vec<grounding::Grounding> =
            with_context.iter().map(|&i| grounding::check(&records[i].response, records[i].context.as_deref().unwrap_or(""))).collect();
        if gg.judge {
            let judge = cfg.judge_model().expect("validated: grounding.judge needs a judge");
            judge_claims(cfg, cx, templates, judge, records, &with_context, &mut checks, gen_no).await?;
        }
        for (&i, check) in with_context.iter().zip(checks) {
            let score = if check.claims.is_empty() {
                1.0
            } else {
                check.claims.iter().filter(|c| c.supported).count() as f64 / check.claims.len() as f64
            };
            let details = serde_json::json!({ "claims": check.claims, "judge": gg.judge });
            records[i].grades.push(Grade {
                grader: "grounding".into(),
                score: Some(score),
                explanation: check.reason(),
                error: None,
                details: Some(details.to_string()),
            });
        }
    }
    if let Some(cg) = &g.consistency {
        sample_and_score(cfg, cx, templates, cg, records, &live, gen_no).await?;
    }
    if g.verify == Some(VerifyKind::Math) {
        for &i in &live {
            let v = math::verify(&records[i].response, None);
            records[i].grades.push(Grade {
                grader: "verifier".into(),
                score: Some(if v.arithmetic_ok() && v.answer.is_some() { 1.0 } else { 0.0 }),
                explanation: v.reason(),
                error: None,
                details: Some(serde_json::to_string(&v).expect("verdict serializes")),
            });
        }
    }
    if g.verify == Some(VerifyKind::Code) {
        run_code(cfg, cx, records, &live, gen_no).await?;
    }
    decide(cfg, records, &live, &mut stats);
    Ok(stats)
}

/// Builds the sandbox of `verify = "code"`, so that a missing interpreter or namespaces the
/// machine refuses are found before any request is sent. Errors name `[grade.sandbox]`.
pub fn sandbox(cfg: &SandboxConfig) -> Result<Sandbox, PipelineError> {
    Sandbox::new(cfg.clone()).map_err(|e| match e {
        SandboxError::Io { .. } | SandboxError::Setup { .. } | SandboxError::TempDir { .. } => {
            PipelineError::Input(format!("the code sandbox cannot start: {e}"))
        }
        e => PipelineError::Input(format!("[grade.sandbox]: {e}")),
    })
}

/// Bytes of a run's stdout and stderr kept in the grade's details.
const KEPT_OUTPUT: usize = 2000;

/// What became of one record's code.
enum CodeRun {
    /// The answer cannot be run: no code block, or no tests.
    NotRunnable(String),
    /// The sandbox could not run it (the record stays unverified).
    SandboxFailed(String),
    /// It ran.
    Ran(Outcome, bool),
}

/// `verify = "code"`: every live record's solution against its tests, in the sandbox.
async fn run_code(cfg: &Config, cx: &Context, records: &mut [Record], live: &[usize], gen_no: u32) -> Result<(), PipelineError> {
    let sandbox = Arc::new(sandbox(&cfg.grade.sandbox)?);
    let jobs: Vec<(usize, Result<code::CodeParts, String>)> =
        live.iter().map(|&i| (i, code::split_answer(&records[i].response, records[i].context.as_deref()))).collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bar = cx.progress.start(&format!("generation {gen_no}: running code"), jobs.len() as u64);
    let results = run_ordered(jobs, cores, bar.as_ref(), |_, (i, parts)| {
        let sandbox = Arc::clone(&sandbox);
        async move {
            let parts = match parts {
                Ok(p) => p,
                Err(why) => return (i, CodeRun::NotRunnable(why)),
            };
            if cx.cancel.is_cancelled() {
                return (i, CodeRun::SandboxFailed("interrupted".into()));
            }
            let given = parts.tests_given;
            let tests = with_import(&parts.tests);
            let run = tokio::task::spawn_blocking(move || sandbox.run_tests(&parts.solution, &tests)).await;
            let ran = match run {
                Ok(Ok(o)) => CodeRun::Ran(o, given),
                Ok(Err(e)) => CodeRun::SandboxFailed(format!("the sandbox could not run it: {e}")),
                Err(e) => CodeRun::SandboxFailed(format!("the sandbox's thread failed: {e}")),
            };
            (i, ran)
        }
    })
    .await;
    bar.finish();
    cx.check(None)?;
    let limits = &cfg.grade.sandbox;
    for (i, ran) in results {
        let grade = match ran {
            CodeRun::Ran(o, given) => Grade {
                grader: "verifier".into(),
                score: Some(if o.passed() { 1.0 } else { 0.0 }),
                explanation: failure(&o, limits),
                error: None,
                details: Some(outcome_details(&o, given).to_string()),
            },
            CodeRun::SandboxFailed(e) => Grade { grader: "verifier".into(), error: Some(e), ..Grade::default() },
            CodeRun::NotRunnable(why) => Grade { grader: "verifier".into(), score: Some(0.0), explanation: Some(why), error: None, details: None },
        };
        records[i].grades.push(grade);
    }
    Ok(())
}

/// Tests that do not import the solution get `from solution import *` first.
fn with_import(tests: &str) -> String {
    let imports = tests.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("from solution import") || l.starts_with("import solution")
    });
    if imports { tests.to_string() } else { format!("from solution import *\n{tests}") }
}

/// Why a run failed, in words for the rejection reason; `None` when it passed.
fn failure(o: &Outcome, limits: &SandboxConfig) -> Option<String> {
    Some(match o.status {
        Status::Passed => return None,
        Status::Failed { exit_code } => {
            // The traceback's last lines (the failing line and the exception), without
            // Python 3.11's `^^^^` position markers.
            let tail: Vec<&str> =
                o.stderr.lines().map(str::trim).filter(|l| !l.is_empty() && !l.chars().all(|c| matches!(c, '^' | '~'))).collect();
            let last = tail[tail.len().saturating_sub(2)..].join(" / ");
            let last: String = last.chars().take(300).collect();
            if last.is_empty() { format!("the tests fail (exit status {exit_code})") } else { format!("the tests fail: {last}") }
        }
        Status::Signaled { signal } => format!("killed by signal {signal}"),
        Status::WallTimeout => format!("still running after {} s (the wall-clock limit)", limits.wall_time_secs),
        Status::CpuTimeout => format!("used {} s of CPU (the limit)", limits.cpu_time_secs),
        Status::MemoryLimit => format!("ran out of memory (the limit is {} MiB)", limits.memory_mb),
        Status::OutputLimit => format!("printed more than {} bytes", limits.max_output_bytes),
    })
}

/// A run's outcome for the grade's details, its output cut to its last [`KEPT_OUTPUT`] bytes.
fn outcome_details(o: &Outcome, tests_given: bool) -> serde_json::Value {
    let tail = |s: &str| {
        let mut at = s.len().saturating_sub(KEPT_OUTPUT);
        while !s.is_char_boundary(at) {
            at += 1;
        }
        s[at..].to_string()
    };
    serde_json::json!({
        "status": o.status,
        "stdout": tail(&o.stdout),
        "stderr": tail(&o.stderr),
        "stdout_truncated": o.stdout_truncated || o.stdout.len() > KEPT_OUTPUT,
        "stderr_truncated": o.stderr_truncated || o.stderr.len() > KEPT_OUTPUT,
        "wall_ms": o.wall_ms,
        "cpu_ms": o.cpu_ms,
        "isolation": o.isolation,
        "tests_given": tests_given,
    })
}

/// The bar of each guard under policy `any`.
fn bar(cfg: &Config, grader: &str) -> Option<f64> {
    match grader {
        "grounding" => cfg.grade.grounding.as_ref().map(|g| g.min),
        "consistency" => cfg.grade.consistency.as_ref().map(|c| c.min),
        "verifier" => cfg.grade.verify.map(|_| 1.0),
        _ => None,
    }
}

fn decide(cfg: &Config, records: &mut [Record], live: &[usize], stats: &mut GuardStats) {
    for &i in live {
        let r = &mut records[i];
        match cfg.grade.policy {
            Policy::Any => {
                let failed = r.grades.iter().find(|gr| {
                    bar(cfg, &gr.grader).is_some_and(|b| gr.score.is_none_or(|s| s < b))
                });
                if let Some(gr) = failed {
                    let name = gr.grader.clone();
                    let why = match (&gr.explanation, &gr.error, gr.score) {
                        (Some(e), _, _) => e.clone(),
                        (None, Some(err), _) => format!("not checked: {err}"),
                        (None, None, s) => format!("grade {:.2}", s.unwrap_or(0.0)),
                    };
                    *stats.rejected_by.entry(name.clone()).or_default() += 1;
                    r.reject(format!("{name}: {why}"));
                }
            }
            Policy::Weighted => {
                let (mut sum, mut total) = (0.0, 0.0);
                // The judge's latest grade, and each guard's.
                let judge = r.grades.iter().rev().find(|gr| gr.grader == "judge").and_then(|gr| gr.score);
                let guards = r.grades.iter().filter(|gr| gr.grader != "judge").filter_map(|gr| gr.score.map(|s| (gr.grader.as_str(), s)));
                for (name, s) in judge.map(|s| ("judge", s)).into_iter().chain(guards) {
                    let w = cfg.grade.weights.get(name).copied().unwrap_or(1.0);
                    sum += w * s;
                    total += w;
                }
                if total > 0.0 {
                    r.score = Some(sum / total);
                }
            }
        }
    }
}

/// The JSON schema of a claim verdict, for `response_format`.
fn claim_format() -> serde_json::Value {
    serde_json::json!({
        "type": "json_schema",
        "json_schema": {
            "name": "claim_verdict",
            "strict": true,
            "schema": {
                "type": "object",
                "properties": { "verdict": { "type": "string", "enum": ["supported", "contradicted", "not_in_context"] } },
                "required": ["verdict"],
                "additionalProperties": false
            }
        }
    })
}

/// A verdict read defensively: the JSON field, else the first verdict word in the text.
fn read_verdict(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    let from_json = serde_json::from_str::<serde_json::Value>(text.trim())
        .ok()
        .and_then(|v| v.get("verdict").and_then(|x| x.as_str()).map(str::to_lowercase));
    let hay = from_json.as_deref().unwrap_or(&lower);
    let mut best: Option<(usize, &'static str)> = None;
    for (word, verdict) in [("not_in_context", "not_in_context"), ("not in the context", "not_in_context"), ("contradicted", "contradicted"), ("unsupported", "not_in_context"), ("supported", "supported")] {
        if let Some(p) = hay.find(word)
            && best.is_none_or(|(q, _)| p < q)
        {
            best = Some((p, verdict));
        }
    }
    best.map(|(_, v)| v)
}

#[allow(clippy::too_many_arguments)]
async fn judge_claims(
    cfg: &Config,
    cx: &Context,
    templates: &Templates,
    judge: &str,
    records: &[Record],
    which: &[usize],
    checks: &mut [grounding::Grounding],
    gen_no: u32,
) -> Result<(), PipelineError> {
    let mut jobs = Vec::new();
    for (k, &i) in which.iter().enumerate() {
        for (c, claim) in checks[k].claims.iter().enumerate() {
            let prompt = templates.render("claim", context! { context => &records[i].context, claim => &claim.claim })?;
            jobs.push((k, c, records[i].id.clone(), prompt));
        }
    }
    let bar = cx.progress.start(&format!("generation {gen_no}: checking claims"), jobs.len() as u64);
    let results = run_ordered(jobs, stage_limit(cfg, judge), bar.as_ref(), |_, (k, c, id, prompt)| async move {
        let mut req = ChatRequest {
            messages: vec![Message::user(prompt)],
            temperature: Some(cfg.grade.temperature),
            max_tokens: Some(64),
            n: 1,
            seed: Some(derive_seed(cfg.run.seed, &["claim", &id, &c.to_string()])),
            response_format: Some(claim_format()),
            ..ChatRequest::default()
        };
        let res = match cx.chat(judge, &req).await {
            Err(ModelError::Http { status: 400, .. }) => {
                req.response_format = None;
                cx.chat(judge, &req).await
            }
            other => other,
        };
        (k, c, res)
    })
    .await;
    bar.finish();
    let mut last_err = None;
    for (k, c, res) in results {
        let claim = &mut checks[k].claims[c];
        let verdict = match res {
            Ok(resp) => read_verdict(&resp.choices.into_iter().next().map(|x| x.text).unwrap_or_default()),
            Err(e) => {
                last_err = Some(e);
                None
            }
        };
        match verdict {
            Some("supported") => {}
            Some(v) => {
                claim.supported = false;
                claim.missing.push(format!("the judge says {}", v.replace('_', " ")));
            }
            None => {
                claim.supported = false;
                claim.missing.push("the judge's answer could not be read".into());
            }
        }
    }
    cx.check(last_err.as_ref().map(|e| (judge, e)))?;
    Ok(())
}

async fn sample_and_score(
    cfg: &Config,
    cx: &Context,
    templates: &Templates,
    cg: &crate::config::ConsistencyGuard,
    records: &mut [Record],
    which: &[usize],
    gen_no: u32,
) -> Result<(), PipelineError> {
    let writer = cfg.generate.writer.as_str();
    let mut jobs = Vec::with_capacity(which.len());
    for &i in which {
        let r = &records[i];
        // A code record's context is its tests, which its prompt already shows.
        let context = if cfg.generate.task == TaskKind::Code { None } else { r.context.as_ref() };
        let prompt = templates.render("sample", context! { prompt => &r.prompt, context => context })?;
        jobs.push((i, r.id.clone(), prompt));
    }
    let bar = cx.progress.start(&format!("generation {gen_no}: sampling for consistency"), jobs.len() as u64);
    let results = run_ordered(jobs, stage_limit(cfg, writer), bar.as_ref(), |_, (i, id, prompt)| async move {
        let req = ChatRequest {
            messages: vec![Message::user(prompt)],
            temperature: Some(cg.temperature.unwrap_or(cfg.generate.temperature)),
            max_tokens: Some(cfg.generate.max_tokens),
            n: cg.samples,
            seed: Some(derive_seed(cfg.run.seed, &["consistency", &id])),
            ..ChatRequest::default()
        };
        (i, cx.chat(writer, &req).await)
    })
    .await;
    bar.finish();
    let mut last_err = None;
    for (i, res) in results {
        let r = &mut records[i];
        let samples: Vec<String> = match res {
            Ok(resp) => resp.choices.into_iter().map(|c| c.text).filter(|t| !t.trim().is_empty()).collect(),
            Err(e) => {
                r.grades.push(Grade { grader: "consistency".into(), error: Some(format!("sampling failed: {e}")), ..Grade::default() });
                last_err = Some(e);
                continue;
            }
        };
        let short = cfg.grade.verify == Some(VerifyKind::Math) || r.response.split_whitespace().count() <= SHORT_ANSWER_WORDS;
        let grade = if samples.is_empty() {
            Grade { grader: "consistency".into(), error: Some("the writer returned no samples".into()), ..Grade::default() }
        } else if short {
            let mine = consistency::normalize_answer(&r.response);
            let theirs: Vec<String> = samples.iter().map(|s| consistency::normalize_answer(s)).collect();
            let agree = theirs.iter().filter(|t| **t == mine).count();
            let score = agree as f64 / theirs.len() as f64;
            let majority = consistency::majority(&theirs);
            Grade {
                grader: "consistency".into(),
                score: Some(score),
                explanation: (score < cg.min).then(|| {
                    format!("{agree} of {} samples give the answer {mine:?}; the samples' majority is {:?}", theirs.len(), majority.map(|m| m.answer).unwrap_or_default())
                }),
                error: None,
                details: Some(serde_json::json!({ "answer": mine, "samples": theirs }).to_string()),
            }
        } else {
            let refs: Vec<&str> = samples.iter().map(String::as_str).collect();
            let support = consistency::sentence_support(&r.response, &refs);
            let score = consistency::support_score(&support);
            let weakest = support.iter().min_by(|a, b| a.support.total_cmp(&b.support));
            Grade {
                grader: "consistency".into(),
                score: Some(score),
                explanation: (score < cg.min).then(|| {
                    let w = weakest.map(|s| s.sentence.as_str()).unwrap_or("");
                    format!("the samples support \"{w}\" at {score:.2} only")
                }),
                error: None,
                details: Some(serde_json::json!({ "sentences": support, "samples": samples.len() }).to_string()),
            }
        };
        r.grades.push(grade);
    }
    cx.check(last_err.as_ref().map(|e| (writer, e)))?;
    Ok(())
}

/// The model-based paths of `autodidact eval-guards`, on its labelled cases: answer
/// consistency on the math cases (`samples` answers of the writer per problem; a solution is
/// flagged when its final answer is not the samples' majority) and the judge on the grounded
/// cases (claim by claim; flagged when the judge does not call every claim supported), alone
/// and together with the fast path.
pub async fn eval_with_models(
    cfg: &Config,
    cx: &Context,
    templates: &Templates,
    math_cases: &[autodidact_guards::eval::MathCase],
    grounded: &[autodidact_guards::eval::GroundedCase],
    samples: u32,
) -> Result<Vec<autodidact_guards::eval::CheckReport>, PipelineError> {
    use autodidact_guards::eval::report;
    let writer = cfg.generate.writer.as_str();
    let judge = cfg.judge_model().unwrap_or(writer);
    let mut questions: Vec<&str> = math_cases.iter().map(|c| c.question.as_str()).collect();
    questions.sort_unstable();
    questions.dedup();
    let bar = cx.progress.start("eval-guards: sampling answers", questions.len() as u64);
    let temperature = cfg.grade.consistency.as_ref().and_then(|c| c.temperature).unwrap_or(cfg.generate.temperature);
    let results = run_ordered(questions, stage_limit(cfg, writer), bar.as_ref(), |_, q| async move {
        let req = ChatRequest {
            messages: vec![Message::user(format!(
                "Solve the problem step by step, then give the final answer on its own line as `#### <number>`.\n\nProblem: {q}"
            ))],
            temperature: Some(temperature),
            max_tokens: Some(cfg.generate.max_tokens),
            n: samples,
            seed: Some(derive_seed(cfg.run.seed, &["eval-consistency", q])),
            ..ChatRequest::default()
        };
        (q, cx.chat(writer, &req).await)
    })
    .await;
    bar.finish();
    let mut majority: std::collections::HashMap<&str, Option<String>> = std::collections::HashMap::new();
    let mut last_err = None;
    for (q, res) in results {
        let m = match res {
            Ok(resp) => {
                let answers: Vec<String> = resp.choices.iter().map(|c| consistency::normalize_answer(&c.text)).collect();
                consistency::majority(&answers).map(|m| m.answer)
            }
            Err(e) => {
                last_err = Some(e);
                None
            }
        };
        majority.insert(q, m);
    }
    cx.check(last_err.as_ref().map(|e| (writer, e)))?;
    let consistency_report = report(
        &format!("answer consistency ({samples} samples of {writer})"),
        math_cases.iter().map(|c| {
            let mine = consistency::normalize_answer(&c.solution);
            let m = majority.get(c.question.as_str()).cloned().flatten();
            let flagged = m.as_deref() != Some(mine.as_str());
            let tail = c.solution.lines().last().unwrap_or("").to_string();
            (c.corruption.clone(), flagged, format!("{tail} [samples' majority: {}]", m.unwrap_or_else(|| "none".into())))
        }),
    );

    // The judge, claim by claim.
    let mut jobs = Vec::new();
    for (k, c) in grounded.iter().enumerate() {
        for (j, claim) in autodidact_guards::claims::split_claims(&c.answer).into_iter().enumerate() {
            let prompt = templates.render("claim", context! { context => &c.context, claim => &claim })?;
            jobs.push((k, j, prompt));
        }
    }
    let bar = cx.progress.start("eval-guards: checking claims", jobs.len() as u64);
    let results = run_ordered(jobs, stage_limit(cfg, judge), bar.as_ref(), |_, (k, j, prompt)| async move {
        let mut req = ChatRequest {
            messages: vec![Message::user(prompt)],
            temperature: Some(cfg.grade.temperature),
            max_tokens: Some(64),
            n: 1,
            seed: Some(derive_seed(cfg.run.seed, &["eval-claim", &k.to_string(), &j.to_string()])),
            response_format: Some(claim_format()),
            ..ChatRequest::default()
        };
        let res = match cx.chat(judge, &req).await {
            Err(ModelError::Http { status: 400, .. }) => {
                req.response_format = None;
                cx.chat(judge, &req).await
            }
            other => other,
        };
        (k, res)
    })
    .await;
    bar.finish();
    let mut judged = vec![false; grounded.len()];
    let mut last_err = None;
    for (k, res) in results {
        let verdict = match res {
            Ok(resp) => read_verdict(&resp.choices.into_iter().next().map(|x| x.text).unwrap_or_default()),
            Err(e) => {
                last_err = Some(e);
                None
            }
        };
        judged[k] |= verdict != Some("supported");
    }
    cx.check(last_err.as_ref().map(|e| (judge, e)))?;
    let fast: Vec<bool> = grounded.iter().map(|c| grounding::check(&c.answer, &c.context).score < 1.0).collect();
    let decisions = |either: bool| {
        grounded
            .iter()
            .enumerate()
            .map(|(k, c)| (c.corruption.clone(), judged[k] || (either && fast[k]), c.answer.clone()))
            .collect::<Vec<_>>()
    };
    Ok(vec![
        consistency_report,
        report(&format!("grounding judge ({judge}), all sources"), decisions(false)),
        report(&format!("grounding fast path or judge ({judge}), all sources"), decisions(true)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_verdicts_are_read_defensively() {
        assert_eq!(read_verdict(r#"{"verdict": "supported"}"#), Some("supported"));
        assert_eq!(read_verdict(r#"{"verdict": "not_in_context"}"#), Some("not_in_context"));
        assert_eq!(read_verdict("The claim is contradicted by the document."), Some("contradicted"));
        assert_eq!(read_verdict("Unsupported."), Some("not_in_context"));
        assert_eq!(read_verdict("It is not in the context, so not supported."), Some("not_in_context"));
        assert_eq!(read_verdict("no idea"), None);
    }
}
