//! `autodidact init`: a commented starter configuration.

use std::path::PathBuf;

use anyhow::anyhow;

use crate::CliError;

const STARTER: &str = include_str!("starter.toml");

const VERIFY_MATH: &str = "# verify = \"math\"                            # worked solutions: every equation recomputed, the final answer from the work; \"code\": Python run against its tests in the sandbox";
const VERIFY_CODE: &str = "verify = \"code\"                              # run each answer's Python against the problem's tests (else its own) in the sandbox below";
const SANDBOX_TABLE: &str = "\n[grade.sandbox]                          # the limits of each run of verify = \"code\"
# python = \"/usr/bin/python3\"           # default: /usr/bin/python3 if it exists, else python3 on PATH
wall_time_secs = 10
cpu_time_secs = 5
memory_mb = 512                          # address space per process
max_processes = 32
max_output_bytes = 65536                 # per stream; the rest is discarded
# isolation = \"auto\"                   # namespaces where permitted (no network, no host files), else the fallback (rlimits, own uid, seccomp, Landlock)
";

/// Arguments of `autodidact init`.
#[derive(clap::Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(default_value = "autodidact.toml")]
    path: PathBuf,
    /// The task: `essay`, `self-instruct`, `qa-from-docs` or `code`.
    #[arg(long, default_value = "essay")]
    task: String,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

/// The starter configuration for a task, with `file` as its own name in the comments.
pub fn starter(task: &str, file: &str) -> Result<String, CliError> {
    let (comment, seeds) = match task {
        "essay" => (
            "                          # essay | self-instruct | qa-from-docs | code\nkind = \"essay\"                           # essay | thesis | mixed",
            "# seeds = \"topics.jsonl\"                # one topic a line (JSONL {\"topic\": ...} or text); default: built-in topics",
        ),
        "self-instruct" => (
            "                  # essay | self-instruct | qa-from-docs | code\n# instructions = 24                     # new instructions per generation; default: one per seed\nexamples = 3                             # example instructions shown per request",
            "# seeds = \"instructions.jsonl\"          # seed instructions (JSONL {\"instruction\": ...} or text); default: built-in",
        ),
        "qa-from-docs" => (
            "                   # essay | self-instruct | qa-from-docs | code",
            "seeds = \"docs.jsonl\"                     # required: documents (JSONL {\"document\": ...}, or text with blank lines between)",
        ),
        "code" => (
            "                          # essay | self-instruct | qa-from-docs | code",
            "# seeds = \"problems.jsonl\"              # programming problems (JSONL {\"problem\": ..., \"tests\": \"assert ...\"}; without tests the writer writes its own); default: built-in",
        ),
        other => {
            return Err(CliError::bad(anyhow!("unknown task '{other}'"))
                .hint("use --task essay, --task self-instruct, --task qa-from-docs or --task code"));
        }
    };
    let stem = std::path::Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or("run");
    Ok(STARTER
        .replace("{{file}}", file)
        .replace("{{stem}}", stem)
        .replace("{{task}}", task)
        .replace("{{task_comment}}", comment)
        .replace("{{seeds_line}}", seeds)
        .replace("{{template_name}}", match task {
            "qa-from-docs" => "qa",
            "code" => "code",
            _ => "judge",
        })
        .replace("{{verify_line}}", if task == "code" { VERIFY_CODE } else { VERIFY_MATH })
        .replace("{{sandbox_table}}", if task == "code" { SANDBOX_TABLE } else { "" }))
}

pub fn init(args: InitArgs) -> Result<(), CliError> {
    let text = starter(&args.task, &args.path.display().to_string())?;
    if args.path.exists() && !args.force {
        return Err(CliError::bad(anyhow!("'{}' exists already", args.path.display())).hint("pass --force to overwrite it"));
    }
    std::fs::write(&args.path, text)
        .map_err(|e| CliError::failed(anyhow!("cannot write '{}': {e}", args.path.display())))?;
    eprintln!(
        "wrote {} ({} task); set [models.writer] to your server, then run `autodidact run {}`",
        args.path.display(),
        args.task,
        args.path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starters_parse_as_configs() {
        let dir = tempfile::tempdir().unwrap();
        for task in ["essay", "self-instruct", "qa-from-docs", "code"] {
            let path = dir.path().join(format!("{task}.toml"));
            std::fs::write(&path, starter(task, "x.toml").unwrap()).unwrap();
            let cfg = autodidact_pipeline::Config::load(&path).unwrap_or_else(|e| panic!("{task}: {e}"));
            assert_eq!(cfg.generate.task.name(), task);
            assert_eq!(cfg.grade.judge.as_deref(), Some("writer"));
        }
        assert!(starter("poem", "x.toml").is_err());
    }
}
