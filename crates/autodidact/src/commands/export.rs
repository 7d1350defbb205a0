//! `autodidact export`: records to training formats.

use std::path::PathBuf;

use autodidact_data::{ExportFormat, ExportOptions, Verdict, open_records};

use crate::CliError;

/// Arguments of `autodidact export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// Records in (JSONL or Parquet), e.g. `runs/x/dataset.parquet`; for `preference`, the
    /// graded records of a generation (`generations/000/graded.parquet`).
    input: PathBuf,
    /// The JSONL file to write.
    output: PathBuf,
    /// `messages` (chat SFT), `prompt-completion`, or `preference` (DPO pairs: the best and
    /// worst graded responses to the same prompt).
    #[arg(long, default_value = "messages")]
    format: String,
    /// `preference` only: the least difference in grade between chosen and rejected.
    #[arg(long, default_value_t = 0.1)]
    min_margin: f64,
    /// Also export records that curation rejected (never for `messages`/`prompt-completion` by default).
    #[arg(long)]
    include_rejected: bool,
}

pub fn export(args: ExportArgs) -> Result<(), CliError> {
    let format = ExportFormat::from_name(&args.format)
        .map_err(|e| CliError::bad(e).hint("use --format messages, prompt-completion or preference"))?;
    let preference = matches!(format, ExportFormat::Preference);
    let include_rejected = args.include_rejected || preference;
    let records = open_records(&args.input)
        .map_err(CliError::bad)?
        .filter(|r| include_rejected || r.as_ref().map_or(true, |r| r.verdict != Verdict::Rejected));
    let opts = ExportOptions { min_margin: args.min_margin };
    let stats = autodidact_data::export(records, format, &args.output, &opts).map_err(CliError::bad)?;
    eprintln!("read {} records, wrote {} rows to {}", stats.read, stats.written, args.output.display());
    Ok(())
}
