//! `report.html` of an arithmetic run: self-contained, inline SVG, model text escaped.

use std::path::Path;

use autodidact_data::{Record, open_records};
use autodidact_report::{Chart, Report, Sample, Samples, Section, Series, Table};

use crate::TinyError;
use crate::config::ArithmeticConfig;
use crate::summary::{LEARNED, PRECISION_TARGET, Summary};

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), |x| format!("{:.1}%", 100.0 * x))
}

/// Renders the report from the summary and the run directory's record files.
pub fn render(cfg: &ArithmeticConfig, summary: &Summary, out: &Path) -> Result<String, TinyError> {
    let l0 = summary.start_length;
    let max_len = l0 + summary.generations;
    let mut report = Report::new("autodidact · arithmetic self-learning");
    let f = &summary.findings;
    report.subtitle = format!(
        "An embedded {}-parameter transformer learns addition from labelled problems of 1–{l0} digits, then teaches itself one digit longer at a time ({} generations, seed {}). \
         Arms differ only in what they keep of their own answers. `oracle` uses the true sum and is the ceiling, not a method. \
         Result: self-graded learned {} lengths beyond {l0} (≥{:.0}% accuracy), unguarded {}, oracle {}; lowest precision of the self-grading filter {} (target {:.0}%).",
        summary.base.parameters,
        summary.generations,
        summary.seed,
        f.self_graded_lengths_at_90,
        100.0 * LEARNED,
        f.unguarded_lengths_at_90,
        f.oracle_lengths_at_90,
        pct(f.self_graded_min_precision),
        100.0 * PRECISION_TARGET,
    );
    let g = &cfg.grade;
    let mut filter = format!(
        " What each arm keeps: unguarded, its greedy answer always; self-graded (never sees the truth), the majority of {} answers (greedy a+b and b+a, then sampled at temperature {}) when at least {:.0}% agree",
        g.samples,
        g.temperature,
        100.0 * g.agreement
    );
    if g.plausibility {
        filter += ", the digit count is possible";
    }
    if g.decomposition {
        filter += ", and its own answers to the blocks (both operands cut into blocks of L0−1 digits, added block by block with the carries: problems of the lengths it learned from real data) compose to the same sum";
    }
    filter += "; oracle, one of the same number of answers that the true sum confirms (the ceiling of choosing among its own answers).";
    let a = &cfg.arithmetic;
    if a.advance_at > 0.0 {
        filter += &format!(
            " Curriculum: after training, each arm checks its new model on {} fresh problems of the length it attempted, graded as it grades; it moves one digit longer when it keeps at least {:.0}% of them, and attempts the same length again otherwise.",
            a.check_problems,
            100.0 * a.advance_at
        );
    }
    report.subtitle += &filter;
    let lengths: Vec<String> = (1..=max_len).map(|n| n.to_string()).collect();

    // The summary table.
    let mut rows = Vec::new();
    for a in &summary.arms {
        let last = a.generations.last();
        rows.push(vec![
            a.arm.clone(),
            a.lengths_learned_beyond_start.len().to_string(),
            last.map_or("–".into(), |g| {
                g.accuracy
                    .iter()
                    .filter(|x| x.length > l0)
                    .map(|x| format!("{}: {:.0}%", x.length, 100.0 * x.accuracy))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            pct(a.min_precision),
            a.generations
                .iter()
                .map(|g| pct(g.kept_error_rate))
                .collect::<Vec<_>>()
                .join(" · "),
        ]);
    }
    report.sections.push(Section::Table(Table {
        title: "Summary".into(),
        header: vec![
            "arm".into(),
            format!("lengths > {l0} at ≥{:.0}%", 100.0 * LEARNED),
            "final accuracy beyond L0 (by length)".into(),
            "lowest precision of kept data".into(),
            "kept-data error rate by generation".into(),
        ],
        rows,
    }));

    // Accuracy by length, one chart per arm, one line per generation.
    for a in &summary.arms {
        let mut series = vec![Series {
            name: "generation 0".into(),
            values: summary.base.accuracy.iter().map(|x| Some(x.accuracy)).collect(),
        }];
        for g in &a.generations {
            series.push(Series {
                name: format!("generation {}", g.generation),
                values: g.accuracy.iter().map(|x| Some(x.accuracy)).collect(),
            });
        }
        report.sections.push(Section::Chart(Chart {
            title: format!("{}: held-out accuracy by operand length (x), each generation", a.arm),
            x_labels: lengths.clone(),
            series,
            y_max: Some(1.0),
        }));
    }

    // Per generation, by arm.
    let gens: Vec<String> = (1..=summary.generations).map(|g| g.to_string()).collect();
    let per_gen = |f: &dyn Fn(&crate::summary::ArmGeneration) -> Option<f64>| -> Vec<Series> {
        summary
            .arms
            .iter()
            .map(|a| Series {
                name: a.arm.clone(),
                values: a.generations.iter().map(f).collect(),
            })
            .collect()
    };
    report.sections.push(Section::Chart(Chart {
        title: "Kept-data error rate by generation (hallucinated answers the next model learns)".into(),
        x_labels: gens.clone(),
        series: per_gen(&|g| g.kept_error_rate),
        y_max: None,
    }));
    let mut pr = Vec::new();
    for a in &summary.arms {
        pr.push(Series {
            name: format!("{} precision", a.arm),
            values: a.generations.iter().map(|g| g.precision).collect(),
        });
        pr.push(Series {
            name: format!("{} recall", a.arm),
            values: a.generations.iter().map(|g| g.recall).collect(),
        });
    }
    report.sections.push(Section::Chart(Chart {
        title: "Filter precision and recall against the truth, by generation".into(),
        x_labels: gens.clone(),
        series: pr,
        y_max: Some(1.0),
    }));
    report.sections.push(Section::Chart(Chart {
        title: "Accuracy at the length each generation attempts, before training on it (greedy, oracle-measured)".into(),
        x_labels: gens,
        series: per_gen(&|g| Some(g.greedy_accuracy)),
        y_max: Some(1.0),
    }));

    // Every generation in numbers.
    let mut rows = Vec::new();
    for a in &summary.arms {
        for g in &a.generations {
            rows.push(vec![
                g.generation.to_string(),
                a.arm.clone(),
                g.length.to_string(),
                g.attempted.to_string(),
                pct(Some(g.greedy_accuracy)),
                g.kept.to_string(),
                pct(g.kept_error_rate),
                pct(g.precision),
                pct(g.recall),
                g.mean_agreement.map_or("–".into(), |x| format!("{x:.2}")),
                format!("{:.3} → {:.3}", g.train.first_loss, g.train.last_loss),
                match g.check {
                    Some(c) => format!("{} ({})", pct(Some(c)), if g.advanced { "next length" } else { "again" }),
                    None => "–".into(),
                },
                format!("{:.0}", g.seconds),
            ]);
        }
    }
    report.sections.push(Section::Table(Table {
        title: "Generations".into(),
        header: [
            "gen", "arm", "length", "attempted", "greedy right", "kept", "kept wrong", "precision",
            "recall", "agreement", "train loss", "check", "seconds",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }));

    // A few records of the last generation, kept and rejected.
    let last = summary.generations;
    if last > 0 {
        let mut items = Vec::new();
        for arm in &cfg.run.arms {
            let dir = out
                .join("generations")
                .join(format!("{last:03}"))
                .join(arm.name());
            for (file, what) in [("curated.parquet", "kept"), ("rejected.parquet", "rejected")] {
                for r in first_records(&dir.join(file), 3)? {
                    let oracle = r
                        .grade("oracle")
                        .and_then(|g| g.explanation.clone())
                        .unwrap_or_default();
                    items.push(Sample {
                        label: format!("{} · {what}", arm.name()),
                        prompt: r.prompt.clone(),
                        response: r.response.clone(),
                        note: match &r.reason {
                            Some(reason) => format!("{reason}; oracle: {oracle}"),
                            None => format!("oracle: {oracle}"),
                        },
                    });
                }
            }
        }
        report.sections.push(Section::Samples(Samples {
            title: format!("Records of generation {last} (problems written most significant digit first)"),
            items,
        }));
    }
    Ok(report.render())
}

fn first_records(path: &Path, n: usize) -> Result<Vec<Record>, TinyError> {
    let mut out = Vec::with_capacity(n);
    for r in open_records(path)?.take(n) {
        out.push(r?);
    }
    Ok(out)
}
