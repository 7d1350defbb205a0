//! `autodidact inspect`: what a dataset holds.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use autodidact_data::open_records;
use serde::Serialize;

use crate::CliError;

/// Arguments of `autodidact inspect`.
#[derive(clap::Args)]
pub struct InspectArgs {
    /// A JSONL or Parquet file of records (e.g. `runs/x/dataset.parquet`).
    file: PathBuf,
    /// How many records to show.
    #[arg(long, default_value_t = 3)]
    show: usize,
    /// Print the statistics as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Default, Serialize)]
struct Stats {
    records: u64,
    by_verdict: BTreeMap<String, u64>,
    by_origin: BTreeMap<String, u64>,
    by_generation: BTreeMap<u32, u64>,
    by_task: BTreeMap<String, u64>,
    graded: u64,
    mean_score: Option<f64>,
    mean_response_words: f64,
}

fn clip(s: &str, n: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    }
}

pub fn inspect(args: InspectArgs) -> Result<(), CliError> {
    let reader = open_records(&args.file).map_err(CliError::bad)?;
    let mut stats = Stats::default();
    let mut score_sum = 0.0;
    let mut words = 0u64;
    let mut shown = Vec::new();
    for r in reader {
        let r = r.map_err(CliError::bad)?;
        stats.records += 1;
        *stats.by_verdict.entry(r.verdict.as_str().to_string()).or_default() += 1;
        *stats.by_origin.entry(r.origin.as_str().to_string()).or_default() += 1;
        *stats.by_generation.entry(r.generation).or_default() += 1;
        *stats.by_task.entry(r.task.clone()).or_default() += 1;
        if let Some(s) = r.score {
            stats.graded += 1;
            score_sum += s;
        }
        words += r.response.split_whitespace().count() as u64;
        if shown.len() < args.show {
            shown.push(r);
        }
    }
    if stats.graded > 0 {
        stats.mean_score = Some(score_sum / stats.graded as f64);
    }
    if stats.records > 0 {
        stats.mean_response_words = words as f64 / stats.records as f64;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats).context("serializing").map_err(CliError::failed)?);
        return Ok(());
    }
    println!("{}: {} records", args.file.display(), stats.records);
    let join = |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    println!("  verdicts:    {}", join(&stats.by_verdict));
    println!("  origins:     {}", join(&stats.by_origin));
    println!("  tasks:       {}", join(&stats.by_task));
    println!(
        "  generations: {}",
        stats.by_generation.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
    );
    match stats.mean_score {
        Some(m) => println!("  graded:      {} (mean grade {m:.3})", stats.graded),
        None => println!("  graded:      0"),
    }
    println!("  response:    {:.1} words on average", stats.mean_response_words);
    for r in shown {
        println!();
        println!("[{}] generation {} · {} · score {}", r.id, r.generation, r.verdict.as_str(), r.score.map(|s| format!("{s:.2}")).unwrap_or("-".into()));
        println!("  prompt:   {}", clip(&r.prompt, 160));
        println!("  response: {}", clip(&r.response, 240));
        if let Some(reason) = &r.reason {
            println!("  reason:   {}", clip(reason, 160));
        }
    }
    Ok(())
}
