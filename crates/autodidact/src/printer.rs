//! What a person sees: progress bars on a terminal (nothing when not on one), logs through
//! `tracing` to stderr.

use std::io::IsTerminal;
use std::time::Duration;

use autodidact_pipeline::{Progress, StageProgress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Logs go to stderr, filtered by `AUTODIDACT_LOG` (e.g. `debug`), warnings by default.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTODIDACT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}

/// Progress bars with rate and ETA on a terminal; silent otherwise.
pub struct Bars {
    multi: MultiProgress,
    on_terminal: bool,
}

impl Bars {
    /// Bars on stderr if it is a terminal.
    pub fn new() -> Bars {
        let on_terminal = std::io::stderr().is_terminal();
        let target = if on_terminal { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        Bars { multi: MultiProgress::with_draw_target(target), on_terminal }
    }
}

struct Bar(ProgressBar);

impl Progress for Bars {
    fn start(&self, stage: &str, total: u64) -> Box<dyn StageProgress> {
        let bar = self.multi.add(ProgressBar::new(total));
        let style = ProgressStyle::with_template(
            "{msg:32} [{bar:30}] {pos}/{len} {rate:>10} eta {eta}",
        )
        .expect("a valid template")
        .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1}/s", state.per_sec());
        })
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(stage.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Box::new(Bar(bar))
    }

    fn note(&self, message: &str) {
        if self.on_terminal {
            let _ = self.multi.println(message);
        } else {
            tracing::info!("{message}");
        }
    }
}

impl StageProgress for Bar {
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {
        self.0.finish();
    }
}
