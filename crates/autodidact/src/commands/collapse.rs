//! `autodidact run` on a collapse configuration: the embedded model trained generation after
//! generation on its own text, with the collapse monitor.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use autodidact_monitor::Status;
use autodidact_tiny::collapse::summary::pct_change;
use autodidact_tiny::collapse::{CollapseConfig, Summary};

use super::arithmetic::{STOP, files_line, finish, watch_ctrl_c};
use super::run::{RunArgs, resume_command};
use crate::printer::Bars;
use crate::CliError;

/// Runs `cfg` (with `--seed` and `--out` from `args`) in `default_out` unless `--out` says
/// otherwise. `resume` is the command that resumes it, without `--out`/`--seed`.
pub fn run(mut cfg: CollapseConfig, args: &RunArgs, default_out: &Path, resume: String) -> Result<(), CliError> {
    if let Some(seed) = args.seed {
        cfg.run.seed = seed;
    }
    let out: PathBuf = args.out.clone().unwrap_or_else(|| default_out.to_path_buf());
    let resume_cmd = resume_command(&resume, &out, args.seed);
    watch_ctrl_c();
    let bars = Bars::new();
    let result = autodidact_tiny::collapse::run(&cfg, &out, &bars, &STOP);
    finish(result, args.json, &out, &resume_cmd, human_summary)
}

fn human_summary(s: &Summary, out: &Path) -> String {
    let mut text = String::new();
    let r = &s.text.real_text;
    let _ = writeln!(
        text,
        "{}: {} characters ({} distinct), {} held out; generation 0 trains a {}-parameter model on {} (real text scores tail coverage {:.3}, distinct-2 {:.3})",
        s.text.path, s.text.chars, s.text.vocab, s.text.held_out_chars, s.parameters, s.text.train_chars, r.tail_coverage, r.distinct[1]
    );
    for a in &s.arms {
        let _ = writeln!(text, "{}:", a.arm);
        let base = a.generations[0].real_loss;
        for g in &a.generations {
            let status = match g.decision.status {
                Status::Go => "go",
                Status::Warn => "warn",
                Status::Stop => "STOP",
            };
            let _ = writeln!(
                text,
                "  generation {}: held-out {:.3} bits/char ({}), tail coverage {:.3}, distinct-2 {:.3}, char 3-gram KL {:.3}, repetition {:.3}: {status}",
                g.generation,
                g.real_loss,
                pct_change(Some((g.real_loss - base) / base)),
                g.text.tail_coverage,
                g.text.distinct[1],
                g.text.kl_char[2],
                g.text.repetition_rate,
            );
        }
        if let Some(stop) = &a.stopped {
            let _ = writeln!(text, "  stopped at generation {}: {}", stop.generation, stop.reasons.join("; "));
        }
    }
    for line in &s.findings.statements {
        let _ = writeln!(text, "{line}");
    }
    text + &files_line(out, s.seconds)
}
