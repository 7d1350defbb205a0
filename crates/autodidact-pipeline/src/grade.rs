//! The grade stage: a judge model scores each record against a rubric and explains; when the
//! judge is the writer, that is self-grading. Records that grade low can be revised with
//! the judge's reasons and graded again.
//!
//! Then the hallucination guards configured (`grounding`, `consistency`, `verify`; see
//! [`crate::guards`]) add their grades and, by the policy, reject or rescore.
//!
//! A malformed judge answer gets one follow-up request; if that fails too, the record is
//! rejected with the reason `grading failed: …` — recorded, counted, never a crash.

use autodidact_data::{Grade, Record, Verdict};
use autodidact_models::{ChatRequest, Message, ModelError};
use minijinja::context;
use serde::Serialize;

use crate::config::Config;
use crate::context::Context;
use crate::error::PipelineError;
use crate::generate::{derive_seed, run_ordered, stage_limit};
use crate::judgement::parse_judgement;
use crate::rubric::Rubric;
use crate::tasks::Templates;

/// What the grade stage did in one generation.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct GradeStats {
    /// Records given a grade.
    pub graded: u64,
    /// Records whose grading failed (request failed or answer unreadable).
    pub failed: u64,
    /// Judge answers that needed the follow-up request to be read.
    pub malformed_answers: u64,
    /// Rewrites made by `revise`.
    pub revisions: u64,
    /// Records whose score rose above the bar after revision.
    pub revised_above_bar: u64,
    /// Mean grade of the graded records (after revision).
    pub mean_score: Option<f64>,
}

struct Outcome {
    grade: Grade,
    malformed: bool,
}

/// Grades the pending records of a generation (records already rejected pass through).
pub async fn grade(
    cfg: &Config,
    cx: &Context,
    templates: &Templates,
    rubric: &Rubric,
    mut records: Vec<Record>,
    gen_no: u32,
) -> Result<(Vec<Record>, GradeStats), PipelineError> {
    let mut stats = GradeStats::default();
    let Some(judge) = cfg.judge_model() else {
        crate::guards::guard(cfg, cx, templates, &mut records, gen_no).await?;
        return Ok((records, stats));
    };
    let todo: Vec<usize> = (0..records.len()).filter(|&i| records[i].verdict != Verdict::Rejected).collect();
    judge_all(cfg, cx, templates, rubric, judge, &mut records, &todo, 0, gen_no, &mut stats).await?;

    if let Some(revise) = &cfg.grade.revise {
        let writer = cfg.generate.writer.as_str();
        for round in 1..=revise.rounds {
            let low: Vec<usize> = (0..records.len())
                .filter(|&i| records[i].verdict != Verdict::Rejected && records[i].score.is_some_and(|s| s < revise.below))
                .collect();
            if low.is_empty() {
                break;
            }
            let mut jobs = Vec::with_capacity(low.len());
            for &i in &low {
                let r = &records[i];
                let explanation = r.grades.last().and_then(|g| g.explanation.clone()).unwrap_or_default();
                let prompt = templates.render(
                    "revise",
                    context! { prompt => &r.prompt, response => &r.response, context => &r.context,
                               score => r.score.unwrap_or(0.0), explanation => explanation },
                )?;
                jobs.push((i, r.id.clone(), prompt));
            }
            let bar = cx.progress.start(&format!("generation {gen_no}: revising (round {round})"), jobs.len() as u64);
            let results = run_ordered(jobs, stage_limit(cfg, writer), bar.as_ref(), |_, (i, id, prompt)| async move {
                let req = ChatRequest {
                    messages: vec![Message::user(prompt)],
                    temperature: Some(cfg.generate.temperature),
                    max_tokens: Some(cfg.generate.max_tokens),
                    n: 1,
                    seed: Some(derive_seed(cfg.run.seed, &["revise", &round.to_string(), &id])),
                    ..ChatRequest::default()
                };
                (i, cx.chat(writer, &req).await)
            })
            .await;
            bar.finish();
            let mut revised = Vec::new();
            let mut last_err = None;
            for (i, res) in results {
                match res {
                    Ok(resp) => {
                        let text = resp.choices.into_iter().next().map(|c| c.text).unwrap_or_default();
                        if !text.trim().is_empty() {
                            let r = &mut records[i];
                            r.response = text.trim().to_string();
                            r.rehash();
                            revised.push(i);
                        }
                    }
                    // The record keeps its earlier version and grade.
                    Err(e) => last_err = Some(e),
                }
            }
            cx.check(last_err.as_ref().map(|e| (writer, e)))?;
            stats.revisions += revised.len() as u64;
            judge_all(cfg, cx, templates, rubric, judge, &mut records, &revised, round, gen_no, &mut stats).await?;
            stats.revised_above_bar +=
                revised.iter().filter(|&&i| records[i].score.is_some_and(|s| s >= revise.below)).count() as u64;
        }
    }
    crate::guards::guard(cfg, cx, templates, &mut records, gen_no).await?;
    let scores: Vec<f64> = records.iter().filter_map(|r| r.score).collect();
    stats.graded = scores.len() as u64;
    stats.mean_score = (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64);
    Ok((records, stats))
}

#[allow(clippy::too_many_arguments)]
async fn judge_all(
    cfg: &Config,
    cx: &Context,
    templates: &Templates,
    rubric: &Rubric,
    judge: &str,
    records: &mut [Record],
    which: &[usize],
    round: u32,
    gen_no: u32,
    stats: &mut GradeStats,
) -> Result<(), PipelineError> {
    let mut jobs = Vec::with_capacity(which.len());
    for &i in which {
        let r = &records[i];
        let prompt = templates.render(
            "judge",
            context! { prompt => &r.prompt, response => &r.response, context => &r.context,
                       criteria => &rubric.criteria, scale => rubric.scale },
        )?;
        jobs.push((i, prompt));
    }
    let label = if round == 0 { format!("generation {gen_no}: grading") } else { format!("generation {gen_no}: grading (round {round})") };
    let bar = cx.progress.start(&label, jobs.len() as u64);
    let results = run_ordered(jobs, stage_limit(cfg, judge), bar.as_ref(), |_, (i, prompt)| {
        let id = records[i].id.clone();
        async move { (i, judge_one(cfg, cx, rubric, judge, &id, prompt, round).await) }
    })
    .await;
    bar.finish();
    let mut last_err = None;
    for (i, outcome) in results {
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                let o = Outcome { grade: failed_grade(format!("judge request failed: {e}")), malformed: false };
                last_err = Some(e);
                o
            }
        };
        stats.malformed_answers += outcome.malformed as u64;
        let r = &mut records[i];
        r.score = outcome.grade.score;
        if let Some(err) = &outcome.grade.error {
            stats.failed += 1;
            r.reject(format!("grading failed: {err}"));
        }
        r.grades.push(outcome.grade);
    }
    cx.check(last_err.as_ref().map(|e| (judge, e)))?;
    Ok(())
}

fn failed_grade(error: String) -> Grade {
    Grade { grader: "judge".into(), error: Some(error), ..Grade::default() }
}

async fn judge_one(
    cfg: &Config,
    cx: &Context,
    rubric: &Rubric,
    judge: &str,
    record_id: &str,
    prompt: String,
    round: u32,
) -> Result<Outcome, ModelError> {
    let mut req = ChatRequest {
        messages: vec![Message::user(prompt)],
        temperature: Some(cfg.grade.temperature),
        max_tokens: Some(cfg.grade.max_tokens),
        n: 1,
        seed: Some(derive_seed(cfg.run.seed, &["judge", record_id])),
        response_format: Some(rubric.response_format()),
        ..ChatRequest::default()
    };
    let resp = match cx.chat(judge, &req).await {
        // Some servers refuse `response_format`; ask again without it and parse defensively.
        Err(ModelError::Http { status: 400, .. }) => {
            req.response_format = None;
            cx.chat(judge, &req).await?
        }
        other => other?,
    };
    let text = resp.choices.into_iter().next().map(|c| c.text).unwrap_or_default();
    let is_self = judge == cfg.generate.writer;
    match parse_judgement(&text, rubric) {
        Ok(j) => Ok(Outcome { grade: to_grade(cfg, rubric, judge, is_self, round, j), malformed: false }),
        Err(why) => {
            // One follow-up: show the judge its answer and what was wrong with it.
            req.messages.push(Message::assistant(text));
            req.messages.push(Message::user(format!(
                "Your answer could not be read: {why}. Reply with only the JSON object, with a number from 0 to {} for every criterion: {}.",
                rubric.scale,
                rubric.criteria.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
            let resp = cx.chat(judge, &req).await?;
            let text = resp.choices.into_iter().next().map(|c| c.text).unwrap_or_default();
            match parse_judgement(&text, rubric) {
                Ok(j) => Ok(Outcome { grade: to_grade(cfg, rubric, judge, is_self, round, j), malformed: true }),
                Err(why2) => Ok(Outcome { grade: failed_grade(format!("malformed judge answer twice: {why2}")), malformed: true }),
            }
        }
    }
}

fn to_grade(cfg: &Config, rubric: &Rubric, judge: &str, is_self: bool, round: u32, j: crate::judgement::Judgement) -> Grade {
    let score = rubric.grade(&j.scores);
    let details = serde_json::json!({
        "judge": judge,
        "model": cfg.models[judge].model,
        "self_grading": is_self,
        "round": round,
        "scores": j.scores,
    });
    Grade {
        grader: "judge".into(),
        score: Some(score),
        explanation: (!j.explanation.is_empty()).then_some(j.explanation),
        error: None,
        details: Some(details.to_string()),
    }
}
