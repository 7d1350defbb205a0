//! `autodidact dedup` and `autodidact decontaminate`: curation on its own, on any JSONL or
//! Parquet file. Both run the curation stage's own [`Curator`] over the file's text field,
//! in batches, and write the rows kept with every field as it was, in input order; the rows
//! removed go to `<OUT stem>.rejected.jsonl` beside OUT, each with its reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use autodidact_curate::{CurateConfig, Curator, NearDupConfig};
use autodidact_data::{JsonlWriter, Record, RowWriter, Verdict, open_rows};
use autodidact_pipeline::Progress;

use crate::CliError;
use crate::printer::Bars;

/// Rows curated together: duplicates within a batch are clustered (the earliest kept), and
/// every batch is checked against all rows kept before it.
const BATCH: usize = 10_000;

/// Arguments of `autodidact dedup`.
#[derive(clap::Args)]
pub struct DedupArgs {
    /// The rows to deduplicate (JSONL or Parquet).
    input: PathBuf,
    /// Where the rows kept go (the input's format), every field as it was, in input order.
    output: PathBuf,
    /// The text field compared [default: `text`, else `response`].
    #[arg(long)]
    field: Option<String>,
    /// Estimated Jaccard similarity of word-shingle sets at or above which two rows are
    /// near duplicates (the later one is removed).
    #[arg(long, default_value_t = 0.8)]
    threshold: f64,
    /// Shingle size, in words.
    #[arg(long, default_value_t = 5)]
    ngram: usize,
    /// MinHash permutations (bands and rows of the LSH index are chosen for the threshold).
    #[arg(long, default_value_t = 128)]
    permutations: usize,
    /// Only exact duplicates (same text after lowercasing, collapsing whitespace and removing
    /// punctuation); no MinHash.
    #[arg(long)]
    exact_only: bool,
    /// Earlier kept data (JSONL or Parquet, the text in `text`, else `response`): rows
    /// duplicating any of its rows are removed too. Repeatable.
    #[arg(long, value_name = "FILE")]
    remember: Vec<PathBuf>,
    /// A persistent index of everything kept: loaded first when the file exists (so rows
    /// duplicating an earlier run's rows are removed), written back at the end with this run's
    /// kept rows added. Must be used with the same --ngram, --permutations and --field.
    #[arg(long, value_name = "FILE")]
    index: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Arguments of `autodidact decontaminate`.
#[derive(clap::Args)]
pub struct DecontaminateArgs {
    /// The rows to check (JSONL or Parquet).
    input: PathBuf,
    /// Where the rows kept go (the input's format), every field as it was, in input order.
    output: PathBuf,
    /// Evaluation sets (JSONL: every string of every object counts); a row sharing any word
    /// n-gram with one of them is removed.
    #[arg(long, required = true, num_args = 1..)]
    against: Vec<PathBuf>,
    /// The n-gram size, in words.
    #[arg(long, default_value_t = 13)]
    ngram: usize,
    /// The text field checked [default: `text`, else `response`].
    #[arg(long)]
    field: Option<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Only the checks asked for: no score, length or repetition filter.
fn bare() -> CurateConfig {
    CurateConfig {
        min_score: None,
        min_words: 0,
        max_words: None,
        max_repetition: 1.0,
        exact_duplicates: false,
        near_duplicates: None,
        ..CurateConfig::default()
    }
}

pub fn dedup(args: DedupArgs) -> Result<(), CliError> {
    let mut cfg = bare();
    cfg.exact_duplicates = true;
    if !args.exact_only {
        cfg.near_duplicates = Some(NearDupConfig {
            threshold: args.threshold,
            permutations: args.permutations,
            ngram: args.ngram,
            bands: None,
            rows: None,
        });
    }
    let history = History { remember: args.remember, index: args.index };
    filter("dedup", &args.input, &args.output, args.field.as_deref(), &cfg, &history, args.json)
}

/// What `dedup` checks against besides the input itself.
#[derive(Default)]
struct History {
    remember: Vec<PathBuf>,
    index: Option<PathBuf>,
}

pub fn decontaminate(args: DecontaminateArgs) -> Result<(), CliError> {
    let mut cfg = bare();
    cfg.decontaminate = args.against.clone();
    cfg.decontaminate_ngram = args.ngram;
    filter("decontaminate", &args.input, &args.output, args.field.as_deref(), &cfg, &History::default(), args.json)
}

/// `clean.parquet` → `clean.rejected.jsonl`, beside it.
fn rejected_path(output: &Path) -> PathBuf {
    let stem = output.file_stem().and_then(|s| s.to_str()).unwrap_or("output");
    output.with_file_name(format!("{stem}.rejected.jsonl"))
}

#[derive(serde::Serialize)]
struct Rejected {
    id: String,
    reason: String,
    text: String,
}

#[derive(serde::Serialize)]
struct FilterSummary {
    input: String,
    output: String,
    rejected_file: String,
    read: u64,
    kept: u64,
    removed: u64,
    removed_by: BTreeMap<String, u64>,
    /// Rows from earlier data (`--remember`, `--index`) checked against.
    earlier: u64,
    seconds: f64,
}

fn filter(
    what: &str,
    input: &Path,
    output: &Path,
    field: Option<&str>,
    cfg: &CurateConfig,
    history: &History,
    json: bool,
) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let mut curator = Curator::new(cfg).map_err(CliError::bad)?;
    if let Some(index) = history.index.as_deref().filter(|p| p.exists()) {
        curator.load_index(index).map_err(CliError::bad)?;
    }
    for file in &history.remember {
        curator.remember_file(file).map_err(CliError::bad)?;
    }
    let earlier = curator.history_len() as u64;
    let mut reader = open_rows(input, field).map_err(CliError::bad)?;
    let mut writer = RowWriter::create(output, &reader).map_err(CliError::bad)?;
    // Every row may be kept: room for all of them up front (the total counts lines, blank
    // ones included, so it is never short).
    curator.reserve(usize::try_from(reader.total()).unwrap_or(0));
    let rejected_file = rejected_path(output);
    let mut rejected: JsonlWriter<Rejected> = JsonlWriter::create(&rejected_file).map_err(CliError::failed)?;
    let bars = Bars::new();
    let bar = bars.start(what, reader.total());
    let (mut read, mut kept) = (0u64, 0u64);
    while let Some(mut batch) = reader.next_batch(BATCH).map_err(CliError::bad)? {
        let rows = batch.len() as u64;
        // The texts move into the records; the writer needs only the rows as read.
        let records: Vec<Record> = std::mem::take(&mut batch.texts)
            .into_iter()
            .zip(std::mem::take(&mut batch.names))
            .map(|(response, id)| Record { id, response, ..Record::default() })
            .collect();
        let decided = curator.curate(records);
        let keep: Vec<bool> = decided.iter().map(|r| r.verdict == Verdict::Kept).collect();
        writer.write(&batch, &keep).map_err(CliError::failed)?;
        for r in decided.into_iter().filter(|r| r.verdict == Verdict::Rejected) {
            let reason = r.reason.unwrap_or_else(|| "rejected".into());
            rejected
                .write(&Rejected { id: r.id, reason, text: r.response })
                .map_err(CliError::failed)?;
        }
        read += rows;
        kept += keep.iter().filter(|k| **k).count() as u64;
        bar.inc(rows);
    }
    bar.finish();
    writer.finish().map_err(CliError::failed)?;
    rejected.finish().map_err(CliError::failed)?;
    if let Some(index) = &history.index {
        curator.save_index(index).map_err(CliError::failed)?;
    }
    let summary = FilterSummary {
        input: input.display().to_string(),
        output: output.display().to_string(),
        rejected_file: rejected_file.display().to_string(),
        read,
        kept,
        removed: read - kept,
        removed_by: curator.stats().rejected_by.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        earlier,
        seconds: started.elapsed().as_secs_f64(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&summary).expect("summary serializes"));
    } else {
        let by: Vec<String> = summary.removed_by.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "{what}: read {read} rows, kept {kept}, removed {}{}{} ({:.1} s, {:.0} rows/s)\nkept rows: {}\nremoved rows, each with its reason: {}",
            summary.removed,
            if by.is_empty() { String::new() } else { format!(" ({})", by.join(", ")) },
            if earlier > 0 { format!(", checked against {earlier} earlier rows") } else { String::new() },
            summary.seconds,
            read as f64 / summary.seconds.max(1e-9),
            output.display(),
            rejected_file.display()
        );
        if let Some(index) = &history.index {
            println!("index of every row kept so far: {} ({} rows)", index.display(), curator.history_len());
        }
    }
    if read == 0 {
        return Err(CliError::bad(anyhow!("'{}' holds no rows", input.display())));
    }
    Ok(())
}
