//! `autodidact eval-guards`: the hallucination guards measured on labelled real data.
//!
//! GSM8K worked solutions against corrupted copies (a step's result or the final answer
//! changed) for the math verifier; passages of a play and GSM8K questions as contexts, with
//! faithful answers against answers whose number, name or polarity was changed, for the
//! grounding check's fast path. Every figure is computed on the cases built in this run.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use autodidact_guards::eval::{self, CheckReport, GroundedCase, MathCase};

use crate::CliError;

/// Arguments of `autodidact eval-guards`.
#[derive(clap::Args)]
pub struct EvalGuardsArgs {
    /// GSM8K-style problems (JSONL with `question` and `answer`, the worked solution ending in
    /// `#### <number>`).
    #[arg(long, default_value = "../shared/data/gsm8k-test.jsonl")]
    gsm8k: PathBuf,
    /// A play in tinyshakespeare's form (`SPEAKER:` lines, speeches, blank lines between):
    /// speeches become grounding contexts.
    #[arg(long, default_value = "../shared/data/tinyshakespeare.txt")]
    text: PathBuf,
    /// Use at most this many problems and this many speeches.
    #[arg(long)]
    limit: Option<usize>,
    /// Seeds the corruptions.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// A run configuration whose models to measure too: answer consistency with its writer
    /// and the grounding judge with its judge (the writer without one).
    #[arg(long, value_name = "CONFIG")]
    config: Option<PathBuf>,
    /// With --config: answers sampled per problem [default: `[grade] consistency.samples`, else 5].
    #[arg(long)]
    samples: Option<u32>,
    /// With --config: the run directory whose run.db caches every answer, so a rerun sends
    /// nothing twice [default: runs/eval-guards].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Results {
    seed: u64,
    gsm8k: String,
    text: String,
    math_cases: usize,
    math_corrupted: usize,
    math: Vec<CheckReport>,
    grounding_cases: usize,
    grounding_corrupted: usize,
    grounding: Vec<CheckReport>,
    /// With --config: answer consistency and the grounding judge.
    #[serde(skip_serializing_if = "Option::is_none")]
    models: Option<Vec<CheckReport>>,
    seconds: f64,
}

fn read_gsm8k(path: &Path, limit: Option<usize>) -> Result<Vec<(String, String)>, CliError> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read '{}' (set --gsm8k)", path.display()))
        .map_err(CliError::bad)?;
    let mut rows = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("'{}' line {}", path.display(), i + 1)).map_err(CliError::bad)?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("'{}' line {}: not JSON", path.display(), i + 1))
            .map_err(CliError::bad)?;
        let field = |k: &str| {
            v.get(k).and_then(|x| x.as_str()).map(str::to_string).ok_or_else(|| {
                CliError::bad(anyhow!("'{}' line {}: no string field `{k}`", path.display(), i + 1))
            })
        };
        rows.push((field("question")?, field("answer")?));
        if limit.is_some_and(|l| rows.len() >= l) {
            break;
        }
    }
    if rows.is_empty() {
        return Err(CliError::bad(anyhow!("'{}' holds no problems", path.display())));
    }
    Ok(rows)
}

pub fn eval_guards(args: EvalGuardsArgs) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let problems = read_gsm8k(&args.gsm8k, args.limit)?;
    let play = std::fs::read_to_string(&args.text)
        .with_context(|| format!("cannot read '{}' (set --text)", args.text.display()))
        .map_err(CliError::bad)?;
    let mut speeches = eval::speeches(&play, 3);
    if speeches.is_empty() {
        return Err(CliError::bad(anyhow!("'{}' holds no speeches of 3 lines or more (`SPEAKER:` then lines)", args.text.display())));
    }
    let mut names: Vec<String> = speeches.iter().filter_map(|(s, _)| eval::speaker_name(s)).collect();
    names.sort();
    names.dedup();
    if let Some(l) = args.limit {
        speeches.truncate(l);
    }
    // GSM8K names for GSM8K questions: the capitalised words that start a question.
    let mut gsm_names: Vec<String> = problems
        .iter()
        .filter_map(|(q, _)| q.split_whitespace().next())
        .map(|w| w.trim_matches(|c: char| !c.is_alphabetic()).trim_end_matches("’s").trim_end_matches("'s").to_string())
        .filter(|w| w.len() > 2 && w.chars().next().is_some_and(char::is_uppercase) && !autodidact_guards::words::is_stopword(&w.to_lowercase()))
        .collect();
    gsm_names.sort();
    gsm_names.dedup();

    let math_cases: Vec<MathCase> = eval::math_cases(&problems, args.seed);
    let math = eval::evaluate_math(&math_cases);
    let passages: Vec<(String, String)> = speeches.into_iter().map(|(_, s)| ("shakespeare".to_string(), s)).collect();
    let mut grounded: Vec<GroundedCase> = eval::grounded_cases(&passages, &names, args.seed);
    let questions: Vec<(String, String)> = problems.iter().map(|(q, _)| ("gsm8k".to_string(), q.clone())).collect();
    grounded.extend(eval::grounded_cases(&questions, &gsm_names, args.seed ^ 1));
    let grounding = eval::evaluate_grounding(&grounded);
    let models = match &args.config {
        Some(config) => Some(with_models(config, &args, &math_cases, &grounded)?),
        None => None,
    };

    let results = Results {
        seed: args.seed,
        gsm8k: args.gsm8k.display().to_string(),
        text: args.text.display().to_string(),
        math_cases: math_cases.len(),
        math_corrupted: math_cases.iter().filter(|c| c.corruption.is_some()).count(),
        math,
        grounding_cases: grounded.len(),
        grounding_corrupted: grounded.iter().filter(|c| c.corruption.is_some()).count(),
        grounding,
        models,
        seconds: started.elapsed().as_secs_f64(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results).expect("results serialize"));
        return Ok(());
    }
    println!(
        "Math verifier on {} GSM8K solutions: {} as written, {} corrupted (a step's result or the final answer changed)",
        results.math_cases,
        results.math_cases - results.math_corrupted,
        results.math_corrupted
    );
    print_table(&results.math);
    println!(
        "\nGrounding fast path on {} answers: {} faithful, {} corrupted (a number, a name or the polarity changed)",
        results.grounding_cases,
        results.grounding_cases - results.grounding_corrupted,
        results.grounding_corrupted
    );
    print_table(&results.grounding);
    if let Some(m) = &results.models {
        println!("\nWith the models of {}: answer consistency on the math cases, the judge on the grounded answers", args.config.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
        print_table(m);
    }
    println!("\n({:.1} s; a flag counts as a positive: precision = flagged that were corrupted, recall = corrupted that were flagged)", results.seconds);
    Ok(())
}

/// The model-based paths, through the pipeline's context (cache, retries, progress).
fn with_models(config: &Path, args: &EvalGuardsArgs, math: &[MathCase], grounded: &[GroundedCase]) -> Result<Vec<CheckReport>, CliError> {
    use std::sync::Arc;

    use autodidact_pipeline::{Config, Context, PipelineError, build_models, open_run_dir, tasks::Templates};

    let cfg = Config::load(config).map_err(CliError::bad)?;
    let samples = args.samples.or(cfg.grade.consistency.as_ref().map(|c| c.samples)).unwrap_or(5);
    if samples == 0 {
        return Err(CliError::bad(anyhow!("--samples must be at least 1")));
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs/eval-guards"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(anyhow!("cannot start the async runtime: {e}")))?;
    let result: Result<Vec<CheckReport>, PipelineError> = runtime.block_on(async {
        let cancel = tokio_util::sync::CancellationToken::new();
        let store = open_run_dir(&cfg, &out)?;
        let models = build_models(&cfg, &cancel)?;
        let cx = Context::new(store, models, cancel).with_progress(Arc::new(crate::printer::Bars::new()));
        let templates = Templates::load(&cfg.generate.templates)?;
        let r = autodidact_pipeline::guards::eval_with_models(&cfg, &cx, &templates, math, grounded, samples).await;
        let _ = cx.store.flush();
        r
    });
    result.map_err(|e| if e.is_bad_input() { CliError::bad(e) } else { CliError::failed(e) })
}

fn print_table(reports: &[CheckReport]) {
    println!("| check | precision | recall | flagged | corrupted | recall by corruption |");
    println!("|---|---|---|---|---|---|");
    for r in reports {
        let c = &r.confusion;
        let kinds: Vec<String> = r.recall_by_kind.iter().map(|(k, v)| format!("{k} {v:.3}")).collect();
        println!(
            "| {} | {:.3} | {:.3} | {} | {} | {} |",
            r.check,
            r.precision,
            r.recall,
            c.true_positives + c.false_positives,
            c.true_positives + c.false_negatives,
            kinds.join(", ")
        );
    }
    for r in reports {
        for (what, list) in [("false alarm", &r.false_alarms), ("miss", &r.misses)] {
            for e in list.iter().take(2) {
                println!("  {} ({what}): {}", r.check, truncate(e, 240));
            }
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    let one_line = s.replace('\n', " / ");
    if one_line.chars().count() <= n { one_line } else { one_line.chars().take(n).collect::<String>() + "…" }
}
