//! `autodidact run`: the loop, resumable.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::anyhow;
use autodidact_tiny::ArithmeticConfig;
use autodidact_tiny::collapse::CollapseConfig;
use autodidact_pipeline::{Config, Context, PipelineError, Summary, build_models, open_run_dir};
use tokio_util::sync::CancellationToken;

use crate::printer::Bars;
use crate::{CliError, Exit};

/// Arguments of `autodidact run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The run configuration (TOML; `autodidact init` writes one). Without it, the built-in
    /// default: an embedded model teaches itself arithmetic (no network, about 10 minutes).
    config: Option<PathBuf>,
    /// A built-in run instead of CONFIG: `arithmetic` (the default) or `arithmetic-small`
    /// (the same loop in well under a minute); `collapse-text` (model collapse on
    /// ../shared/data/tinyshakespeare.txt, three arms) or `collapse-text-small`.
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    scenario: Option<String>,
    /// The run directory [default: runs/<config or scenario name>]. Running again on the same directory
    /// resumes: finished work is not redone and no stored request is sent again.
    #[arg(long)]
    pub(super) out: Option<PathBuf>,
    /// Overrides `[run] seed`.
    #[arg(long)]
    pub(super) seed: Option<u64>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub(super) json: bool,
}

pub fn run(args: RunArgs) -> Result<(), CliError> {
    let Some(config) = args.config.clone() else {
        let name = args.scenario.clone().unwrap_or_else(|| "arithmetic".into());
        let resume = format!("autodidact run --scenario {name}");
        let default_out = PathBuf::from("runs").join(&name);
        if let Some(cfg) = ArithmeticConfig::profile(&name) {
            return super::arithmetic::run(cfg, &args, &default_out, resume);
        }
        if let Some(cfg) = CollapseConfig::profile(&name) {
            return super::collapse::run(cfg, &args, &default_out, resume);
        }
        let names: Vec<&str> = ArithmeticConfig::PROFILES.iter().chain(&CollapseConfig::PROFILES).copied().collect();
        return Err(CliError::bad(anyhow!("no built-in scenario named `{name}`"))
            .hint(format!("the built-in scenarios are {}", names.join(", "))));
    };
    let text = std::fs::read_to_string(&config)
        .map_err(|e| CliError::bad(anyhow!("cannot read config '{}': {e}", config.display())))?;
    if ArithmeticConfig::is_arithmetic(&text) {
        let cfg = ArithmeticConfig::parse(&text, &config).map_err(CliError::bad)?;
        let stem = config.file_stem().and_then(|s| s.to_str()).unwrap_or("run");
        let resume = format!("autodidact run {}", shell_word(&config));
        return super::arithmetic::run(cfg, &args, &PathBuf::from("runs").join(stem), resume);
    }
    if CollapseConfig::is_collapse(&text) {
        let cfg = CollapseConfig::parse(&text, &config).map_err(CliError::bad)?;
        let stem = config.file_stem().and_then(|s| s.to_str()).unwrap_or("run");
        let resume = format!("autodidact run {}", shell_word(&config));
        return super::collapse::run(cfg, &args, &PathBuf::from("runs").join(stem), resume);
    }
    let mut cfg = Config::load(&config).map_err(CliError::bad)?;
    if let Some(seed) = args.seed {
        cfg.run.seed = seed;
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = config.file_stem().and_then(|s| s.to_str()).unwrap_or("run");
        PathBuf::from("runs").join(stem)
    });
    let resume_cmd = resume_command(&format!("autodidact run {}", shell_word(&config)), &out, args.seed);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(anyhow!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let on_signal = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping: no new requests; waiting for those under way (Ctrl-C again to quit at once)");
                on_signal.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(Exit::Interrupted as i32);
                }
            }
        });
        let store = open_run_dir(&cfg, &out)?;
        let models = build_models(&cfg, &cancel)?;
        let cx = Context::new(store, models, cancel).with_progress(Arc::new(Bars::new()));
        let result = autodidact_pipeline::run(&cfg, &cx, &out).await;
        let _ = cx.store.flush();
        result
    });
    match result {
        Ok(summary) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&summary).expect("summary serializes"));
            } else {
                print!("{}", human_summary(&summary, &out));
            }
            Ok(())
        }
        Err(PipelineError::Interrupted) => Err(CliError {
            exit: Exit::Interrupted,
            error: anyhow!("interrupted: every answer received so far is stored in {}", out.join("run.db").display()),
            hint: Some(format!("resume with `{resume_cmd}`")),
        }),
        Err(e @ PipelineError::Unreachable { .. }) => {
            Err(CliError::failed(e).hint(format!("start the server, then resume with `{resume_cmd}`")))
        }
        Err(e) if e.is_bad_input() => Err(CliError::bad(e)),
        Err(e) => Err(CliError::failed(e).hint(format!("resume with `{resume_cmd}`"))),
    }
}

/// A path as a shell word: quoted when it holds anything a shell would split or expand.
pub(super) fn shell_word(path: &Path) -> String {
    let s = path.display().to_string();
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain { s } else { format!("'{}'", s.replace('\'', "'\\''")) }
}

/// The command that resumes a run: `run` (how the run was named: `autodidact run CONFIG` or
/// `autodidact run --scenario NAME`) with its `--out` and `--seed`.
pub(super) fn resume_command(run: &str, out: &Path, seed: Option<u64>) -> String {
    let mut cmd = format!("{run} --out {}", shell_word(out));
    if let Some(s) = seed {
        let _ = write!(cmd, " --seed {s}");
    }
    cmd
}

fn human_summary(s: &Summary, out: &Path) -> String {
    let mut text = String::new();
    for g in &s.generations {
        let mean = g.mean_score.map(|m| format!(" (mean grade {m:.2})")).unwrap_or_default();
        let _ = write!(
            text,
            "generation {}: {} written, {} graded{mean}, {} kept, {} rejected",
            g.generation, g.generated, g.graded, g.kept, g.rejected
        );
        if !g.rejected_by.is_empty() {
            let by: Vec<String> = g.rejected_by.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = write!(text, " ({})", by.join(", "));
        }
        text.push('\n');
    }
    for (name, u) in &s.usage {
        let cost = u.cost_usd.map(|c| format!(", ${c:.4}")).unwrap_or_default();
        let _ = writeln!(
            text,
            "model {name}: {} requests sent, {} retries, {} failed, {} prompt + {} completion tokens{cost}",
            u.requests, u.retries, u.failures, u.prompt_tokens, u.completion_tokens
        );
    }
    let _ = writeln!(
        text,
        "dataset: {} records in {} (also dataset.jsonl); summary in {}",
        s.dataset_records,
        out.join("dataset.parquet").display(),
        out.join("summary.json").display()
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_command_quotes_paths_a_shell_would_split() {
        let named = |config: &str| format!("autodidact run {}", shell_word(Path::new(config)));
        assert_eq!(resume_command(&named("run.toml"), Path::new("runs/a"), None), "autodidact run run.toml --out runs/a");
        assert_eq!(
            resume_command(&named("my run.toml"), Path::new("it's"), Some(3)),
            "autodidact run 'my run.toml' --out 'it'\\''s' --seed 3"
        );
    }
}
