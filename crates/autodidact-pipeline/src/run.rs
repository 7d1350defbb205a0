//! A run: the loop over generations, the run directory, resume, the summary.
//!
//! ```text
//! DIR/config.toml  run.db  generations/NNN/{generated,graded,curated,rejected}.parquet, metrics.json
//!     dataset.parquet  dataset.jsonl  summary.json  report.html
//! ```
//!
//! The curator's history (every record kept so far, and the `[curate] remember` files) is
//! saved as `DIR/curate.index` after each generation, with the number of generations it holds
//! in the run store, so a resumed run loads it instead of reading and hashing every earlier
//! generation again.
//!
//! Each stage of each generation is written whole (to a `.partial` file renamed into place)
//! and then marked done in the run store, so a killed run resumes at the first stage not
//! done; the requests of an unfinished stage are answered from the run store's cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use autodidact_curate::Curator;
use autodidact_curate::select::SelectionReport;
use autodidact_data::{Record, RecordWriter, Verdict, open_records};
use autodidact_models::{AnyModel, UsageTotals};
use autodidact_store::RunStore;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, TaskKind};
use crate::context::{Context, RequestCounts};
use crate::error::PipelineError;
use crate::rubric::Rubric;
use crate::tasks::{Seed, Templates, builtin_seeds, read_seeds};

/// Version of `summary.json` and `metrics.json`.
pub const SUMMARY_VERSION: u32 = 1;

/// One generation's measurements (`generations/NNN/metrics.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GenerationMetrics {
    /// Format version.
    pub version: u32,
    /// The generation.
    pub generation: u32,
    /// Seeds written from.
    pub seeds: u64,
    /// Records written (including failed requests, as rejected records).
    pub generated: u64,
    /// Records whose request failed after retries.
    pub generation_failures: u64,
    /// Records given a grade.
    pub graded: u64,
    /// Records whose grading failed.
    pub grading_failures: u64,
    /// Rewrites made by `revise`.
    pub revisions: u64,
    /// Mean grade of graded records.
    pub mean_score: Option<f64>,
    /// Records kept.
    pub kept: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Rejections by reason.
    pub rejected_by: BTreeMap<String, u64>,
    /// Mean grade of kept records.
    pub kept_mean_score: Option<f64>,
    /// What `[curate] budget` chose when more records passed than it keeps: the diversity of
    /// the kept records against a random and a best-scored choice of the same size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<SelectionReport>,
    /// Requests per model in this generation (answered from the cache, sent, failed), as
    /// counted by the process that ran it.
    pub requests: BTreeMap<String, RequestCounts>,
    /// Wall time of this generation in the process that finished it.
    pub seconds: f64,
}

/// The whole run (`summary.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Format version.
    pub version: u32,
    /// The task.
    pub task: String,
    /// The run seed.
    pub seed: u64,
    /// Per-generation measurements.
    pub generations: Vec<GenerationMetrics>,
    /// Records in the final training set.
    pub dataset_records: u64,
    /// Sums over generations.
    pub totals: Totals,
    /// Token usage and cost of the requests this process sent, per model name.
    pub usage: BTreeMap<String, UsageTotals>,
}

/// Sums over all generations.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Totals {
    /// Records written.
    pub generated: u64,
    /// Records kept.
    pub kept: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Rejections by reason.
    pub rejected_by: BTreeMap<String, u64>,
}

/// The folder of generation `gen_no`.
pub fn generation_dir(out: &Path, gen_no: u32) -> PathBuf {
    out.join("generations").join(format!("{gen_no:03}"))
}

/// Opens (or creates) a run directory for a configuration: writes `config.toml`, opens
/// `run.db`. A directory made with a different configuration is refused.
pub fn open_run_dir(cfg: &Config, out: &Path) -> Result<RunStore, PipelineError> {
    std::fs::create_dir_all(out).map_err(|source| PipelineError::Io { path: out.to_path_buf(), source })?;
    let store = RunStore::open(&out.join("run.db"))?;
    let text = cfg.to_toml();
    if !store.bind_config(&text)? {
        return Err(PipelineError::RunDir(format!(
            "'{}' holds a run of a different configuration (see its config.toml)\nhint: pass another --out, or delete '{}' to start over",
            out.display(),
            out.display()
        )));
    }
    let path = out.join("config.toml");
    let header = "# The resolved configuration of this run, as it ran. Written by autodidact.\n";
    std::fs::write(&path, format!("{header}{text}")).map_err(|source| PipelineError::Io { path, source })?;
    Ok(store)
}

/// Builds the models the configuration uses (the writer and the judge).
pub fn build_models(cfg: &Config, cancel: &CancellationToken) -> Result<BTreeMap<String, AnyModel>, PipelineError> {
    let mut used = vec![cfg.generate.writer.clone()];
    if let Some(j) = cfg.judge_model() {
        used.push(j.to_string());
    }
    let mut models = BTreeMap::new();
    for name in used {
        if models.contains_key(&name) {
            continue;
        }
        let m = cfg.models[&name]
            .build(&name, cancel.clone())
            .map_err(|source| PipelineError::ModelSetup { name: name.clone(), source })?;
        models.insert(name, m);
    }
    Ok(models)
}

fn load_seeds(cfg: &Config) -> Result<Vec<Seed>, PipelineError> {
    let mut seeds = match &cfg.generate.seeds {
        Some(p) => read_seeds(p, cfg.generate.task, cfg.generate.seed_field.as_deref())?,
        None => builtin_seeds(cfg.generate.task).unwrap_or_default(),
    };
    if let Some(max) = cfg.generate.max_seeds {
        seeds.truncate(max);
    }
    if seeds.is_empty() {
        let from = cfg.generate.seeds.as_ref().map(|p| format!("'{}'", p.display())).unwrap_or("the built-in list".into());
        return Err(PipelineError::Input(format!("no seeds in {from}")));
    }
    Ok(seeds)
}

fn read_all(path: &Path) -> Result<Vec<Record>, PipelineError> {
    Ok(open_records(path)?.collect::<Result<Vec<_>, _>>()?)
}

fn write_all<'a>(path: &Path, records: impl IntoIterator<Item = &'a Record>) -> Result<(), PipelineError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| PipelineError::Io { path: dir.to_path_buf(), source })?;
    }
    autodidact_data::write_records(path, records)?;
    Ok(())
}

/// Copies `from` to `to` through a partial file renamed into place, as every written file.
fn copy_file(from: &Path, to: &Path) -> Result<(), PipelineError> {
    let tmp = to.with_extension("partial");
    std::fs::copy(from, &tmp).map_err(|source| PipelineError::Io { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, to).map_err(|source| PipelineError::Io { path: to.to_path_buf(), source })
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), PipelineError> {
    let text = serde_json::to_string_pretty(value).expect("metrics serialize");
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, text + "\n").map_err(|source| PipelineError::Io { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, path).map_err(|source| PipelineError::Io { path: path.to_path_buf(), source })
}

/// Runs (or resumes) the loop in `out` and writes the final dataset and summary.
pub async fn run(cfg: &Config, cx: &Context, out: &Path) -> Result<Summary, PipelineError> {
    let templates = Templates::load(&cfg.generate.templates)?;
    if cfg.grade.verify == Some(crate::config::VerifyKind::Code) {
        // Before any request: a missing interpreter is found now, not after the writing.
        crate::guards::sandbox(&cfg.grade.sandbox)?;
    }
    let rubric = match &cfg.grade.rubric {
        Some(p) => Rubric::load(p)?,
        None => Rubric::builtin(cfg.generate.task),
    };
    let seeds = load_seeds(cfg)?;
    let mut curate_cfg = cfg.curate.clone();
    if cfg.grade.judge.is_none() {
        // Without a judge there are no scores; a score threshold would reject everything.
        curate_cfg.min_score = None;
    }
    let mut curator = Curator::new(&curate_cfg).map_err(|e| PipelineError::Input(e.to_string()))?;
    let mut pool: Vec<Seed> = Vec::new();
    let mut all_metrics = Vec::new();
    let mut history = History::open(cx, out, &mut curator)?;

    for gen_no in 0..cfg.run.generations {
        let dir = generation_dir(out, gen_no);
        let store = &cx.store;
        if store.stage_done(gen_no, "curate")? {
            let kept = read_all(&dir.join("curated.parquet"))?;
            if gen_no >= history.generations {
                curator.remember(&kept);
                history.generations = gen_no + 1;
                history.stale = true;
            }
            extend_pool(cfg, &mut pool, &kept);
            let metrics = match std::fs::read_to_string(dir.join("metrics.json")).ok().and_then(|t| serde_json::from_str(&t).ok()) {
                Some(m) => m,
                None => GenerationMetrics { generation: gen_no, ..GenerationMetrics::default() },
            };
            cx.progress.note(&format!("generation {gen_no}: done earlier, skipped"));
            all_metrics.push(metrics);
            continue;
        }
        let started = Instant::now();
        let before = cx.counts();

        let generated_path = dir.join("generated.parquet");
        let graded_path = dir.join("graded.parquet");
        // Without a judge or a guard, grading changes nothing: graded.parquet is a copy of
        // generated.parquet, and both are written on a thread of their own while curation runs.
        let pass_through = cfg.judge_model().is_none() && !cfg.grade.has_guards();
        let (records, fresh) = if store.stage_done(gen_no, "generate")? {
            cx.progress.note(&format!("generation {gen_no}: writing done earlier, read back"));
            (read_all(&generated_path)?, false)
        } else {
            let records = crate::generate::generate(cfg, cx, &templates, &seeds, &pool, gen_no).await?;
            tracing::debug!(generation = gen_no, seconds = started.elapsed().as_secs_f64(), "written by the writer");
            (records, true)
        };
        let write_generated = |records: &[Record]| -> Result<(), PipelineError> {
            if fresh {
                write_all(&generated_path, records)?;
                store.mark_stage_done(gen_no, "generate")?;
            }
            Ok(())
        };

        let (decided, selection) = if pass_through && !store.stage_done(gen_no, "grade")? {
            let mut records = records;
            let decisions = std::thread::scope(|s| {
                let files = s.spawn(|| -> Result<(), PipelineError> {
                    write_generated(&records)?;
                    copy_file(&generated_path, &graded_path)?;
                    store.mark_stage_done(gen_no, "grade")?;
                    Ok(())
                });
                let decisions = curator.decide(&records);
                files.join().expect("the file writer does not panic").map(|()| decisions)
            })?;
            decisions.apply(&mut records);
            let decided = records;
            tracing::debug!(generation = gen_no, seconds = started.elapsed().as_secs_f64(), "curated, generated.parquet and graded.parquet written");
            (decided, curator.last_selection().cloned())
        } else {
            write_generated(&records)?;
            let graded = if store.stage_done(gen_no, "grade")? {
                read_all(&graded_path)?
            } else {
                let (graded, _) = crate::grade::grade(cfg, cx, &templates, &rubric, records, gen_no).await?;
                write_all(&graded_path, &graded)?;
                store.mark_stage_done(gen_no, "grade")?;
                graded
            };
            let decided = curator.curate(graded);
            tracing::debug!(generation = gen_no, seconds = started.elapsed().as_secs_f64(), "graded and curated");
            (decided, curator.last_selection().cloned())
        };
        let (kept, rejected): (Vec<Record>, Vec<Record>) = decided.into_iter().partition(|r| r.verdict == Verdict::Kept);
        std::thread::scope(|s| {
            let rejected_file = s.spawn(|| write_all(&dir.join("rejected.parquet"), &rejected));
            write_all(&dir.join("curated.parquet"), &kept)?;
            rejected_file.join().expect("the file writer does not panic")
        })?;
        tracing::debug!(generation = gen_no, seconds = started.elapsed().as_secs_f64(), "curated.parquet and rejected.parquet written");
        extend_pool(cfg, &mut pool, &kept);

        let after = cx.counts();
        let requests = after
            .iter()
            .map(|(k, a)| {
                let b = before.get(k).cloned().unwrap_or_default();
                (k.clone(), RequestCounts { cached: a.cached - b.cached, sent: a.sent - b.sent, failed: a.failed - b.failed })
            })
            .collect();
        let mut metrics = measure(gen_no, seeds.len(), &kept, &rejected, requests, started.elapsed().as_secs_f64());
        metrics.selection = selection;
        write_json(&dir.join("metrics.json"), &metrics)?;
        store.put_metrics(gen_no, &serde_json::to_string(&metrics).expect("metrics serialize"))?;
        store.mark_stage_done(gen_no, "curate")?;
        history.generations = gen_no + 1;
        history.save(cx, &curator)?;
        all_metrics.push(metrics);
    }
    // A run resumed past its last generation may have loaded an older index: bring it up to date.
    if history.stale {
        history.save(cx, &curator)?;
    }

    // The final training set: every generation's kept records (accumulated), in order.
    let mut dataset_records = 0u64;
    let mut parquet = RecordWriter::create(&out.join("dataset.parquet"))?;
    let mut jsonl = RecordWriter::create(&out.join("dataset.jsonl"))?;
    for gen_no in 0..cfg.run.generations {
        for r in open_records(&generation_dir(out, gen_no).join("curated.parquet"))? {
            let r = r?;
            parquet.write(&r)?;
            jsonl.write(&r)?;
            dataset_records += 1;
        }
    }
    parquet.finish()?;
    jsonl.finish()?;

    let mut totals = Totals::default();
    for m in &all_metrics {
        totals.generated += m.generated;
        totals.kept += m.kept;
        totals.rejected += m.rejected;
        for (k, v) in &m.rejected_by {
            *totals.rejected_by.entry(k.clone()).or_default() += v;
        }
    }
    let usage = cx.models.iter().map(|(name, m)| (name.clone(), m.usage())).collect();
    let summary = Summary {
        version: SUMMARY_VERSION,
        task: cfg.generate.task.name().to_string(),
        seed: cfg.run.seed,
        generations: all_metrics,
        dataset_records,
        totals,
        usage,
    };
    write_json(&out.join("summary.json"), &summary)?;
    crate::report::write_report(&summary, out)?;
    Ok(summary)
}

/// The curator's history on disk (`DIR/curate.index`) and how many generations it holds
/// (`curate_index_generations` in the run store's meta; the `remember` files come first).
struct History {
    path: PathBuf,
    /// Generations whose kept records are in the curator's history.
    generations: u32,
    /// Whether the file holds less than the curator.
    stale: bool,
}

const INDEX_META: &str = "curate_index_generations";

impl History {
    /// Fills the curator's history: from the saved index when there is one (and it loads),
    /// else from the `remember` files (the generations done are added by the caller).
    fn open(cx: &Context, out: &Path, curator: &mut Curator) -> Result<Self, PipelineError> {
        let path = out.join("curate.index");
        let saved = cx.store.get_meta(INDEX_META)?.and_then(|v| v.parse::<u32>().ok());
        // An index holding a generation whose curation is not done (stage state reset by
        // hand) would make that generation's records duplicates of themselves.
        let mut done = 0;
        while cx.store.stage_done(done, "curate")? {
            done += 1;
        }
        if let Some(generations) = saved.filter(|&g| g <= done)
            && path.exists()
        {
            match curator.load_index(&path) {
                Ok(n) => {
                    cx.progress.note(&format!("curation index: {n} earlier records from {}", path.display()));
                    return Ok(History { path, generations, stale: false });
                }
                // Rebuilt from the run directory below; the file is rewritten after the next
                // generation.
                Err(e) => cx.progress.note(&format!("{e}; rebuilding it from the run directory")),
            }
        }
        for file in &curator.config().remember.clone() {
            let n = curator.remember_file(file).map_err(|e| PipelineError::Input(e.to_string()))?;
            cx.progress.note(&format!("remembered {n} rows of {} as earlier data", file.display()));
        }
        Ok(History { path, generations: 0, stale: true })
    }

    fn save(&mut self, cx: &Context, curator: &Curator) -> Result<(), PipelineError> {
        curator.save_index(&self.path).map_err(PipelineError::Index)?;
        cx.store.set_meta(INDEX_META, &self.generations.to_string())?;
        self.stale = false;
        Ok(())
    }
}

/// For `self-instruct`, kept instructions join the example pool of later generations.
fn extend_pool(cfg: &Config, pool: &mut Vec<Seed>, kept: &[Record]) {
    if cfg.generate.task != TaskKind::SelfInstruct {
        return;
    }
    let mut seen: std::collections::HashSet<String> = pool.iter().map(|s| s.id.clone()).collect();
    for r in kept {
        let s = Seed::new(r.prompt.clone());
        if seen.insert(s.id.clone()) {
            pool.push(s);
        }
    }
}

/// The category of a rejection reason, for counting.
pub fn reason_category(reason: &str) -> String {
    let head = reason.split(':').next().unwrap_or(reason);
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
        ("not selected", "budget"),
        ("grounding", "grounding"),
        ("consistency", "consistency"),
        ("verifier", "verifier"),
    ];
    for (prefix, name) in known {
        if head.starts_with(prefix) || reason.starts_with(prefix) {
            return name.to_string();
        }
    }
    "other".to_string()
}

fn measure(
    gen_no: u32,
    seeds: usize,
    kept: &[Record],
    rejected: &[Record],
    requests: BTreeMap<String, RequestCounts>,
    seconds: f64,
) -> GenerationMetrics {
    let all = || kept.iter().chain(rejected.iter());
    let reason = |r: &Record| r.reason.clone().unwrap_or_default();
    let scores: Vec<f64> = all().filter_map(|r| r.score).collect();
    let kept_scores: Vec<f64> = kept.iter().filter_map(|r| r.score).collect();
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let mut rejected_by = BTreeMap::new();
    for r in rejected {
        *rejected_by.entry(reason_category(&reason(r))).or_default() += 1;
    }
    GenerationMetrics {
        version: SUMMARY_VERSION,
        generation: gen_no,
        seeds: seeds as u64,
        generated: (kept.len() + rejected.len()) as u64,
        generation_failures: all().filter(|r| reason(r).starts_with("generation failed")).count() as u64,
        graded: scores.len() as u64,
        grading_failures: all().filter(|r| reason(r).starts_with("grading failed")).count() as u64,
        revisions: all().map(|r| r.grades.iter().filter(|g| g.grader == "judge").count().saturating_sub(1) as u64).sum(),
        mean_score: mean(&scores),
        kept: kept.len() as u64,
        rejected: rejected.len() as u64,
        rejected_by,
        kept_mean_score: mean(&kept_scores),
        selection: None,
        requests,
        seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_categorised() {
        assert_eq!(reason_category("generation failed: HTTP 500"), "generation_failed");
        assert_eq!(reason_category("score 0.55 below min_score 0.70"), "score");
        assert_eq!(reason_category("near duplicate of abc (estimated Jaccard 0.9)"), "near_duplicate");
        assert_eq!(reason_category("too short: 3 words < min_words 20"), "length");
        assert_eq!(reason_category("something new"), "other");
    }
}
