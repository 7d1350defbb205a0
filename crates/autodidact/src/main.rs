//! The `autodidact` command line: a self-learning synthetic data engine.
//!
//! Only this crate knows about terminals and exit codes: library crates return errors, and
//! stages report progress through a trait that the printer here draws.

mod commands;
mod printer;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit statuses: the contract scripts rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked.
    Success = 0,
    /// Something failed while running (a server unreachable after retries, a disk error).
    Failure = 1,
    /// Bad usage, configuration or input.
    BadInput = 2,
    /// Stopped by Ctrl-C; the run can be resumed.
    Interrupted = 130,
}

/// An error with the exit status it maps to and an optional hint.
#[derive(Debug)]
pub struct CliError {
    /// The status to exit with.
    pub exit: Exit,
    /// The error, with context.
    pub error: anyhow::Error,
    /// A next step that helps, printed as `hint: …`.
    pub hint: Option<String>,
}

impl CliError {
    /// A bad-input error (exit 2).
    pub fn bad(error: impl Into<anyhow::Error>) -> Self {
        CliError { exit: Exit::BadInput, error: error.into(), hint: None }
    }
    /// A failure while running (exit 1).
    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        CliError { exit: Exit::Failure, error: error.into(), hint: None }
    }
    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[derive(Parser)]
#[command(name = "autodidact", version, about = "A self-learning synthetic data engine: a model writes training data, grades its own work, and the best survives.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the configured loop (generate -> grade -> curate), or resume it in its run directory;
    /// without a configuration, the built-in default (an embedded model teaches itself arithmetic).
    Run(commands::run::RunArgs),
    /// Write a commented starter configuration.
    Init(commands::init::InitArgs),
    /// Show what a dataset (JSONL or Parquet of records) holds.
    Inspect(commands::inspect::InspectArgs),
    /// Export records for training: chat messages (SFT), prompt/completion, or preference pairs (DPO).
    Export(commands::export::ExportArgs),
    /// Remove exact and near duplicates (MinHash) from any JSONL or Parquet file.
    Dedup(commands::dedup::DedupArgs),
    /// Remove rows that share a word n-gram with evaluation sets, from any JSONL or Parquet file.
    Decontaminate(commands::dedup::DecontaminateArgs),
    /// Measure the hallucination guards on labelled real data (GSM8K solutions and grounded
    /// answers, correct and corrupted): precision and recall of each check.
    EvalGuards(commands::eval_guards::EvalGuardsArgs),
}

/// An error and its causes, joined by `: `. Library errors often show their cause in their
/// own message too (thiserror's `{source}`), and anyhow's `{:#}` would then print it twice;
/// a cause whose text is already there is skipped.
fn chain(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

fn main() -> ExitCode {
    // SAFETY: first thing in main, before any other thread exists or any tensor is made.
    unsafe { autodidact_nn::set_thread_defaults() };
    printer::init_logging();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { Exit::BadInput as u8 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Init(args) => commands::init::init(args),
        Command::Inspect(args) => commands::inspect::inspect(args),
        Command::Export(args) => commands::export::export(args),
        Command::Dedup(args) => commands::dedup::dedup(args),
        Command::Decontaminate(args) => commands::dedup::decontaminate(args),
        Command::EvalGuards(args) => commands::eval_guards::eval_guards(args),
    };
    match result {
        Ok(()) => ExitCode::from(Exit::Success as u8),
        Err(e) => {
            if e.exit != Exit::Interrupted {
                eprintln!("error: {}", chain(&e.error));
            } else {
                eprintln!("{}", chain(&e.error));
            }
            if let Some(h) = &e.hint {
                eprintln!("hint: {h}");
            }
            ExitCode::from(e.exit as u8)
        }
    }
}
