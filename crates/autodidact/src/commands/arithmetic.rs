//! `autodidact run` on an arithmetic configuration: the embedded model teaching itself
//! addition (the built-in default run).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::anyhow;
use autodidact_tiny::summary::{LEARNED, PRECISION_TARGET};
use autodidact_tiny::{ArithmeticConfig, Summary, TinyError};

use super::run::{RunArgs, resume_command};
use crate::printer::Bars;
use crate::{CliError, Exit};

/// Set by the first Ctrl-C; the loop stops at the next training step.
pub(super) static STOP: AtomicBool = AtomicBool::new(false);

/// Runs `cfg` (with `--seed` and `--out` from `args`) in `default_out` unless `--out` says
/// otherwise. `resume` is the command that resumes it, without `--out`/`--seed`.
pub fn run(mut cfg: ArithmeticConfig, args: &RunArgs, default_out: &Path, resume: String) -> Result<(), CliError> {
    if let Some(seed) = args.seed {
        cfg.run.seed = seed;
    }
    let out: PathBuf = args.out.clone().unwrap_or_else(|| default_out.to_path_buf());
    let resume_cmd = resume_command(&resume, &out, args.seed);
    watch_ctrl_c();
    let bars = Bars::new();
    let result = autodidact_tiny::run(&cfg, &out, &bars, &STOP);
    finish(result, args.json, &out, &resume_cmd, human_summary)
}

/// Prints a finished embedded run's summary (JSON with `--json`, else `human`), or turns its
/// error into the CLI's: interrupted (130, with the command that resumes), bad input (2), or
/// a failure (1, with the command that resumes).
pub(super) fn finish<S: serde::Serialize>(
    result: Result<S, TinyError>,
    json: bool,
    out: &Path,
    resume_cmd: &str,
    human: fn(&S, &Path) -> String,
) -> Result<(), CliError> {
    match result {
        Ok(summary) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&summary).expect("summary serializes"));
            } else {
                print!("{}", human(&summary, out));
            }
            Ok(())
        }
        Err(TinyError::Interrupted) => Err(CliError {
            exit: Exit::Interrupted,
            error: anyhow!("interrupted: finished generations are kept in {}", out.display()),
            hint: Some(format!("resume with `{resume_cmd}`")),
        }),
        Err(e) if e.is_bad_input() => Err(CliError::bad(e)),
        Err(e) => Err(CliError::failed(e).hint(format!("resume with `{resume_cmd}`"))),
    }
}

/// First Ctrl-C: stop after the current training step; second: quit at once.
pub(super) fn watch_ctrl_c() {
    std::thread::spawn(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping after the current training step (Ctrl-C again to quit at once)");
                STOP.store(true, Ordering::Relaxed);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(Exit::Interrupted as i32);
                }
            }
        });
    });
}

fn human_summary(s: &Summary, out: &Path) -> String {
    let mut text = String::new();
    let l0 = s.start_length;
    let _ = writeln!(
        text,
        "generation 0: {} real problems (1-{l0} digits), {}-parameter model; accuracy {}",
        s.base.real_problems,
        s.base.parameters,
        accuracies(&s.base.accuracy, l0 + s.generations)
    );
    for a in &s.arms {
        let _ = writeln!(text, "{}:", a.arm);
        for g in &a.generations {
            let p = g.precision.map_or("-".into(), |p| format!("{:.1}%", 100.0 * p));
            let check = match g.check {
                Some(c) if g.advanced => format!("; check {:.0}%: next length", 100.0 * c),
                Some(c) => format!("; check {:.0}%: this length again", 100.0 * c),
                None => String::new(),
            };
            let _ = writeln!(
                text,
                "  generation {} (length {}): kept {}/{} (precision {p}); accuracy {}{check}",
                g.generation,
                g.length,
                g.kept,
                g.attempted,
                accuracies(&g.accuracy, l0 + s.generations)
            );
        }
    }
    let f = &s.findings;
    let _ = writeln!(
        text,
        "lengths beyond {l0} learned (>= {:.0}% accuracy): self-graded {}, unguarded {}, oracle {} (the ceiling)",
        100.0 * LEARNED,
        f.self_graded_lengths_at_90,
        f.unguarded_lengths_at_90,
        f.oracle_lengths_at_90
    );
    if let Some(p) = f.self_graded_min_precision {
        let _ = writeln!(
            text,
            "self-grading precision: lowest {:.2}% over generations (target {:.0}%: {})",
            100.0 * p,
            100.0 * PRECISION_TARGET,
            if f.precision_target_met { "met" } else { "not met" }
        );
    }
    text + &files_line(out, s.seconds)
}

/// The last line of an embedded run's summary: where its files are, and how long it took.
pub(super) fn files_line(out: &Path, seconds: f64) -> String {
    format!(
        "report: {}; summary: {}; dataset: {} ({seconds:.0} s)\n",
        out.join("report.html").display(),
        out.join("summary.json").display(),
        out.join("dataset.parquet").display(),
    )
}

/// `1:100 2:99 3:97 4:41`-style accuracies in percent.
fn accuracies(acc: &[autodidact_tiny::eval::LengthAccuracy], up_to: usize) -> String {
    acc.iter()
        .filter(|a| a.length <= up_to)
        .map(|a| format!("{}:{:.0}", a.length, 100.0 * a.accuracy))
        .collect::<Vec<_>>()
        .join(" ")
}
