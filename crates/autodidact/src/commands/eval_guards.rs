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
    println!("\n({:.1} s; a flag counts as a positive: precision = flagged that were corrupted, recall = corrupted that were flagged)", results.seconds);
    Ok(())
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
