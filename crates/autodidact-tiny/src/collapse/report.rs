//! `report.html` of a collapse run: every monitor metric by generation and arm, the stop
//! decisions, and excerpts of the samples (escaped by [`autodidact_report`]).

use autodidact_monitor::{Status, TextMetrics};
use autodidact_report::{Chart, Report, Sample, Samples, Section, Series, Table};

use super::config::CollapseConfig;
use super::summary::{GenerationMetrics, SMALL_MARGIN, Summary, pct_change};

/// One curve: its title and how to read it off a generation (and off real text, if it is a
/// measurement of text).
struct Curve {
    title: &'static str,
    of: fn(&GenerationMetrics) -> f64,
    real: Option<fn(&TextMetrics) -> f64>,
}

const CURVES: &[Curve] = &[
    Curve { title: "Held-out real loss (bits/char; lower is better)", of: |g| g.real_loss, real: None },
    Curve { title: "Tail coverage: share of the real text's rarest character 4-grams the samples produce", of: |g| g.text.tail_coverage, real: Some(|t| t.tail_coverage) },
    Curve { title: "Distinct-1 (distinct words / words)", of: |g| g.text.distinct[0], real: Some(|t| t.distinct[0]) },
    Curve { title: "Distinct-2 (word bigrams)", of: |g| g.text.distinct[1], real: Some(|t| t.distinct[1]) },
    Curve { title: "Distinct-3 (word 3-grams)", of: |g| g.text.distinct[2], real: Some(|t| t.distinct[2]) },
    Curve { title: "Distinct-4 (word 4-grams)", of: |g| g.text.distinct[3], real: Some(|t| t.distinct[3]) },
    Curve { title: "Compression ratio of the samples (gzip; higher is more redundant)", of: |g| g.text.compression_ratio, real: Some(|t| t.compression_ratio) },
    Curve { title: "Repetition rate (word 3-grams repeated within a sample)", of: |g| g.text.repetition_rate, real: Some(|t| t.repetition_rate) },
    Curve { title: "KL(real ‖ samples), character 1-grams (nats)", of: |g| g.text.kl_char[0], real: Some(|t| t.kl_char[0]) },
    Curve { title: "KL(real ‖ samples), character 2-grams (nats)", of: |g| g.text.kl_char[1], real: Some(|t| t.kl_char[1]) },
    Curve { title: "KL(real ‖ samples), character 3-grams (nats)", of: |g| g.text.kl_char[2], real: Some(|t| t.kl_char[2]) },
    Curve { title: "KL(real ‖ samples), words (nats)", of: |g| g.text.kl_word, real: Some(|t| t.kl_word) },
    Curve { title: "Own loss of the samples under the model that wrote them (bits/char; falls as it grows sure of itself)", of: |g| g.self_loss, real: None },
];

/// Renders the report.
pub fn render(cfg: &CollapseConfig, s: &Summary) -> String {
    let mut report = Report::new("autodidact · model collapse on real text");
    let c = &cfg.curate;
    report.subtitle = format!(
        "A {}-parameter character-level transformer trains from scratch on {} characters of {} (held out: {} characters, every {}th block of {}, never trained on). \
         Each generation trains a new model, with the same budget ({} steps of {} sequences), on text sampled from the one before (temperature {}, {} samples of {} characters). \
         replace: only the previous samples. accumulate: the real text plus all samples so far. curated: accumulate with {:.0}% of every batch real, and the samples curated \
         (drop the {:.0}% with the lowest and {:.0}% with the highest loss under their writer, loops, exact and near duplicates, then keep {:.0}% chosen for new character 4-grams). Seed {}, {:.0} s.",
        s.parameters,
        s.text.train_chars,
        s.text.path,
        s.text.held_out_chars,
        cfg.text.held_out_every,
        cfg.text.block_chars,
        cfg.train.steps,
        cfg.train.batch_size,
        cfg.text.temperature,
        cfg.text.train_chars.div_ceil(cfg.model.max_seq_len),
        cfg.model.max_seq_len,
        100.0 * c.real_fraction,
        100.0 * c.drop_lowest_loss,
        100.0 * c.drop_highest_loss,
        100.0 * c.select,
        s.seed,
        s.seconds,
    );
    let mut findings = String::from("What this run shows: ");
    findings += &s.findings.statements.join(". ");
    findings += &format!(
        ". (The literature: replace collapses, accumulate stays within a small margin — here {:.0}% — of generation 0.) The \"real text\" lines measure real training text cut into pieces like the samples: what a model that wrote like the real text would score.",
        100.0 * SMALL_MARGIN
    );
    report.sections.push(Section::Text(findings));

    // The summary table: each arm's first and last generation.
    let mut rows = Vec::new();
    for a in &s.arms {
        let (first, last) = (&a.generations[0], a.generations.last().expect("generation 0"));
        rows.push(vec![
            a.arm.clone(),
            last.generation.to_string(),
            format!("{:.3} → {:.3} ({})", first.real_loss, last.real_loss, pct_change(Some((last.real_loss - first.real_loss) / first.real_loss))),
            format!("{:.3} → {:.3}", first.text.tail_coverage, last.text.tail_coverage),
            format!("{:.3} → {:.3}", first.text.distinct[1], last.text.distinct[1]),
            format!("{:.3} → {:.3}", first.text.kl_char[2], last.text.kl_char[2]),
            match &a.stopped {
                Some(stop) => format!("stopped at generation {}", stop.generation),
                None => format!("{:?}", last.decision.status).to_lowercase(),
            },
        ]);
    }
    let r = &s.text.real_text;
    rows.push(vec![
        "real text".into(),
        "–".into(),
        "–".into(),
        format!("{:.3}", r.tail_coverage),
        format!("{:.3}", r.distinct[1]),
        format!("{:.3}", r.kl_char[2]),
        "–".into(),
    ]);
    report.sections.push(Section::Table(Table {
        title: "Summary (generation 0 → last)".into(),
        header: ["arm", "last generation", "held-out real loss", "tail coverage", "distinct-2", "char 3-gram KL", "monitor"]
            .map(String::from)
            .to_vec(),
        rows,
    }));

    // Every metric by generation.
    let x_labels: Vec<String> = (0..=s.generations).map(|g| g.to_string()).collect();
    for curve in CURVES {
        let mut series: Vec<Series> = s
            .arms
            .iter()
            .map(|a| {
                let mut values = vec![None; s.generations + 1];
                for g in &a.generations {
                    values[g.generation] = Some((curve.of)(g));
                }
                Series { name: a.arm.clone(), values }
            })
            .collect();
        if let Some(real) = curve.real {
            series.push(Series {
                name: "real text".into(),
                values: vec![Some(real(r)); s.generations + 1],
            });
        }
        report.sections.push(Section::Chart(Chart {
            title: curve.title.into(),
            x_labels: x_labels.clone(),
            series,
            y_max: None,
        }));
    }

    // The monitor's decisions.
    let mut rows = Vec::new();
    for a in &s.arms {
        for g in a.generations.iter().skip(1) {
            rows.push(vec![
                a.arm.clone(),
                g.generation.to_string(),
                match g.decision.status {
                    Status::Go => "go".into(),
                    Status::Warn => "warn".into(),
                    Status::Stop => "STOP".into(),
                },
                if g.decision.reasons.is_empty() { "–".into() } else { g.decision.reasons.join("; ") },
            ]);
        }
    }
    report.sections.push(Section::Table(Table {
        title: "Monitor decisions (against the arm's generation 0; a stop ends the arm)".into(),
        header: ["arm", "generation", "status", "reasons"].map(String::from).to_vec(),
        rows,
    }));

    // Every generation in numbers.
    let mut rows = Vec::new();
    for a in &s.arms {
        for g in &a.generations {
            rows.push(vec![
                a.arm.clone(),
                g.generation.to_string(),
                g.real_chars.to_string(),
                g.synthetic_chars.to_string(),
                format!("{:.0}%", 100.0 * g.real_share),
                format!("{:.3} → {:.3}", g.train.first_loss, g.train.last_loss),
                format!("{:.3}", g.real_loss),
                format!("{:.3}", g.self_loss),
                g.kept.to_string(),
                g.rejected.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "),
                format!("{:.0}", g.seconds),
            ]);
        }
    }
    report.sections.push(Section::Table(Table {
        title: "Generations (generation 0 is shared by every arm)".into(),
        header: [
            "arm", "gen", "real chars", "synthetic chars", "real share", "train loss (nats)", "held-out bits/char", "own loss of samples", "samples taken by next", "curation rejected", "seconds",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }));

    // Excerpts.
    for g in 0..=s.generations {
        let mut items = Vec::new();
        for a in &s.arms {
            if g == 0 && !items.is_empty() {
                break;
            }
            if let Some(m) = a.generations.iter().find(|m| m.generation == g) {
                for e in &m.excerpts {
                    items.push(Sample {
                        label: if g == 0 { "generation 0 (every arm)".into() } else { format!("{} · generation {g}", a.arm) },
                        prompt: String::new(),
                        response: e.clone(),
                        note: String::new(),
                    });
                }
            }
        }
        if !items.is_empty() {
            report.sections.push(Section::Samples(Samples {
                title: format!("Samples of generation {g}"),
                items,
            }));
        }
    }
    report.render()
}
