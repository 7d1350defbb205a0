//! Builds `report.html` from a run's summary and records.

use std::path::Path;

use autodidact_data::{Record, open_records};
use autodidact_report::{Chart, Report, Sample, Samples, Section, Series, Table};

use crate::error::PipelineError;
use crate::run::{Summary, generation_dir};

fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into())
}

fn sample(r: &Record) -> Sample {
    let mut label = format!("generation {} · {} · score {}", r.generation, r.verdict.as_str(), opt(r.score));
    if let Some(p) = &r.parent {
        label.push_str(&format!(" · seed {}", &p[..p.len().min(8)]));
    }
    let note = match (&r.reason, r.grades.last().and_then(|g| g.explanation.clone())) {
        (Some(reason), _) => format!("rejected: {reason}"),
        (None, Some(expl)) => format!("judge: {expl}"),
        (None, None) => String::new(),
    };
    Sample { label, prompt: r.prompt.clone(), response: r.response.clone(), note }
}

/// Writes `out/report.html`.
pub fn write_report(summary: &Summary, out: &Path) -> Result<(), PipelineError> {
    let mut report = Report::new(format!("autodidact run: {}", summary.task));
    report.subtitle = format!(
        "{} generation(s), seed {}, {} records in the final dataset. Every number on this page was measured in this run.",
        summary.generations.len(),
        summary.seed,
        summary.dataset_records
    );
    let gens: Vec<String> = summary.generations.iter().map(|g| g.generation.to_string()).collect();
    report.sections.push(Section::Table(Table {
        title: "Generations".into(),
        header: ["generation", "written", "failed", "graded", "grading failed", "revisions", "mean grade", "kept", "rejected", "kept mean grade"]
            .map(String::from)
            .to_vec(),
        rows: summary
            .generations
            .iter()
            .map(|g| {
                vec![
                    g.generation.to_string(),
                    g.generated.to_string(),
                    g.generation_failures.to_string(),
                    g.graded.to_string(),
                    g.grading_failures.to_string(),
                    g.revisions.to_string(),
                    opt(g.mean_score),
                    g.kept.to_string(),
                    g.rejected.to_string(),
                    opt(g.kept_mean_score),
                ]
            })
            .collect(),
    }));
    let series = |name: &str, f: &dyn Fn(&crate::run::GenerationMetrics) -> Option<f64>| Series {
        name: name.into(),
        values: summary.generations.iter().map(f).collect(),
    };
    report.sections.push(Section::Chart(Chart {
        title: "Records per generation".into(),
        x_labels: gens.clone(),
        series: vec![
            series("written", &|g| Some(g.generated as f64)),
            series("kept", &|g| Some(g.kept as f64)),
            series("rejected", &|g| Some(g.rejected as f64)),
        ],
        y_max: None,
    }));
    report.sections.push(Section::Chart(Chart {
        title: "Judge grade per generation (0 to 1)".into(),
        x_labels: gens,
        series: vec![series("all graded", &|g| g.mean_score), series("kept", &|g| g.kept_mean_score)],
        y_max: Some(1.0),
    }));
    let mut reasons: Vec<String> = summary.totals.rejected_by.keys().cloned().collect();
    reasons.sort();
    if !reasons.is_empty() {
        let mut header = vec!["generation".to_string()];
        header.extend(reasons.iter().cloned());
        report.sections.push(Section::Table(Table {
            title: "Rejections by reason".into(),
            header,
            rows: summary
                .generations
                .iter()
                .map(|g| {
                    let mut row = vec![g.generation.to_string()];
                    row.extend(reasons.iter().map(|r| g.rejected_by.get(r).copied().unwrap_or(0).to_string()));
                    row
                })
                .collect(),
        }));
    }
    let chose: Vec<_> = summary.generations.iter().filter_map(|g| g.selection.as_ref().map(|s| (g.generation, s))).collect();
    if !chose.is_empty() {
        let d = |x: f64| format!("{x:.3}");
        report.sections.push(Section::Table(Table {
            title: "Diversity-aware selection: the kept records against a random and a best-scored choice of the same size (distance = 1 − estimated Jaccard of word sets; higher is more diverse)".into(),
            header: [
                "generation", "method", "passed", "budget", "mean distance: kept", "random", "best-scored",
                "nearest-neighbour distance: kept", "random", "best-scored", "distinct words: kept", "random", "best-scored",
            ]
            .map(String::from)
            .to_vec(),
            rows: chose
                .iter()
                .map(|(g, s)| {
                    vec![
                        g.to_string(),
                        s.method.clone(),
                        s.candidates.to_string(),
                        s.budget.to_string(),
                        d(s.kept.mean_distance),
                        d(s.random.mean_distance),
                        d(s.by_score.mean_distance),
                        d(s.kept.mean_nearest),
                        d(s.random.mean_nearest),
                        d(s.by_score.mean_nearest),
                        s.kept.distinct_words.to_string(),
                        s.random.distinct_words.to_string(),
                        s.by_score.distinct_words.to_string(),
                    ]
                })
                .collect(),
        }));
    }
    if !summary.usage.is_empty() {
        report.sections.push(Section::Table(Table {
            title: "Requests sent by this process".into(),
            header: ["model", "requests", "retries", "failures", "prompt tokens", "completion tokens", "cost (USD)"].map(String::from).to_vec(),
            rows: summary
                .usage
                .iter()
                .map(|(name, u)| {
                    vec![
                        name.clone(),
                        u.requests.to_string(),
                        u.retries.to_string(),
                        u.failures.to_string(),
                        u.prompt_tokens.to_string(),
                        u.completion_tokens.to_string(),
                        u.cost_usd.map(|c| format!("{c:.4}")).unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect(),
        }));
    }
    if let Some(last) = summary.generations.last() {
        let dir = generation_dir(out, last.generation);
        let mut kept: Vec<Record> = read_some(&dir.join("curated.parquet"), 200)?;
        kept.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(std::cmp::Ordering::Equal));
        report.sections.push(Section::Samples(Samples {
            title: format!("Kept in generation {} (best graded first)", last.generation),
            items: kept.iter().take(3).map(sample).collect(),
        }));
        let rejected = read_some(&dir.join("rejected.parquet"), 2000)?;
        report.sections.push(Section::Samples(Samples {
            title: format!("Rejected in generation {}, with reasons", last.generation),
            items: rejected.iter().take(3).map(sample).collect(),
        }));
        // One example per hallucination guard that rejected something.
        let guards = ["grounding", "consistency", "verifier"];
        let examples: Vec<Sample> = guards
            .iter()
            .filter_map(|g| rejected.iter().find(|r| r.reason.as_deref().is_some_and(|x| x.starts_with(&format!("{g}:")))))
            .map(sample)
            .collect();
        if !examples.is_empty() {
            report.sections.push(Section::Samples(Samples {
                title: format!("Hallucination guards: an example of what each rejected in generation {}", last.generation),
                items: examples,
            }));
        }
    }
    let path = out.join("report.html");
    std::fs::write(&path, report.render()).map_err(|source| PipelineError::Io { path, source })
}

fn read_some(path: &Path, n: usize) -> Result<Vec<Record>, PipelineError> {
    let mut v = Vec::new();
    for r in open_records(path)?.take(n) {
        v.push(r?);
    }
    Ok(v)
}
