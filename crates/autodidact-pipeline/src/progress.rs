//! Progress reporting. Stages never print: they report here, and the binary decides what a
//! person sees (a bar on a terminal, nothing otherwise).

/// Receives progress from stages.
pub trait Progress: Send + Sync {
    /// A stage of `total` steps starts.
    fn start(&self, stage: &str, total: u64) -> Box<dyn StageProgress>;
    /// A one-line note (a resumed stage, a skipped generation).
    fn note(&self, message: &str);
}

/// Progress within one stage.
pub trait StageProgress: Send + Sync {
    /// `n` more steps are done.
    fn inc(&self, n: u64);
    /// The stage is done.
    fn finish(&self);
}

/// Discards progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _stage: &str, _total: u64) -> Box<dyn StageProgress> {
        Box::new(NoProgress)
    }
    fn note(&self, _message: &str) {}
}

impl StageProgress for NoProgress {
    fn inc(&self, _n: u64) {}
    fn finish(&self) {}
}
