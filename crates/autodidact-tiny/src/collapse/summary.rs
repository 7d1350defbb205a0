//! `summary.json` of a collapse run: every generation's monitor metrics per arm, the stop
//! decisions, and what the run shows.

use std::collections::BTreeMap;

use autodidact_monitor::{Decision, Status, TextMetrics};
use serde::{Deserialize, Serialize};

use crate::train::FitStats;

/// `accumulate` "stays within a small margin of generation 0": a held-out loss at most this
/// much (relative) above generation 0's.
pub const SMALL_MARGIN: f64 = 0.05;

/// One generation of one arm (generation 0 is shared by every arm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationMetrics {
    /// The generation (0: trained on real text).
    pub generation: usize,
    /// Real characters in its training corpus.
    pub real_chars: usize,
    /// Synthetic characters in its training corpus.
    pub synthetic_chars: usize,
    /// Share of its training sequences drawn from real text.
    pub real_share: f64,
    /// How training went.
    pub train: FitStats,
    /// Loss on the held-out real text, bits per character.
    pub real_loss: f64,
    /// Mean loss of its own samples under itself, bits per character (falls as the model
    /// grows sure of itself).
    pub self_loss: f64,
    /// The monitor's measurements of its samples against the held-out real text.
    pub text: TextMetrics,
    /// The monitor's decision against generation 0 (`go` for generation 0).
    pub decision: Decision,
    /// Of its samples, how many the next generation takes (all, except in the curated arm).
    pub kept: usize,
    /// Rejections of the curated arm, by reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rejected: BTreeMap<String, usize>,
    /// A few of its samples, as written.
    pub excerpts: Vec<String>,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// One arm's generations (generation 0 first) and how its loop ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmSummary {
    /// The arm's name.
    pub arm: String,
    /// Generations 0..=last run.
    pub generations: Vec<GenerationMetrics>,
    /// The generation at which the monitor stopped the arm, and why; `None` if it ran them all.
    pub stopped: Option<StopRecord>,
}

/// A stop decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopRecord {
    /// The generation whose measurements crossed a stop threshold (its model is the last).
    pub generation: usize,
    /// The monitor's reasons.
    pub reasons: Vec<String>,
}

/// What real text scores on the same measurements: held-out real text cut like the samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextInfo {
    /// The text file.
    pub path: String,
    /// Characters in it.
    pub chars: usize,
    /// Distinct characters (the vocabulary).
    pub vocab: usize,
    /// Characters of the training split and of the held-out split.
    pub train_split_chars: usize,
    /// Characters held out, never trained on.
    pub held_out_chars: usize,
    /// Real characters generation 0 trains on.
    pub train_chars: usize,
    /// The monitor's measurements of real training text cut into samples like the models'
    /// (the level an uncollapsed model would reach).
    pub real_text: TextMetrics,
}

/// What the run shows, measured; each statement true or false as it came out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// `replace`: held-out real loss rose at every generation it ran.
    pub replace_loss_rises_every_generation: Option<bool>,
    /// `replace`: relative change of held-out real loss from generation 0 to its last.
    pub replace_loss_change: Option<f64>,
    /// `replace`: relative change of tail coverage from generation 0 to its last.
    pub replace_tail_coverage_change: Option<f64>,
    /// `replace`: the first generation the monitor warned or stopped, if any.
    pub replace_flagged_at: Option<usize>,
    /// `accumulate`: largest relative rise of held-out real loss over generation 0.
    pub accumulate_max_loss_rise: Option<f64>,
    /// `accumulate` stayed within [`SMALL_MARGIN`] of generation 0's held-out loss.
    pub accumulate_within_margin: Option<bool>,
    /// `curated` final held-out loss ≤ `accumulate`'s.
    pub curated_loss_at_most_accumulate: Option<bool>,
    /// `curated` final tail coverage or distinct-2 above `accumulate`'s.
    pub curated_more_diverse: Option<bool>,
    /// The statements above, in words.
    pub statements: Vec<String>,
}

/// The whole summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `collapse-text`.
    pub task: String,
    /// The run's seed.
    pub seed: u64,
    /// Generations after generation 0.
    pub generations: usize,
    /// Trainable parameters of the model.
    pub parameters: usize,
    /// The real text and what it scores.
    pub text: TextInfo,
    /// Each arm.
    pub arms: Vec<ArmSummary>,
    /// What the run shows.
    pub findings: Findings,
    /// Wall time of this invocation, seconds.
    pub seconds: f64,
}

fn first_last(a: &ArmSummary) -> Option<(&GenerationMetrics, &GenerationMetrics)> {
    Some((a.generations.first()?, a.generations.last()?))
}

impl Findings {
    /// Reads the findings off the arms.
    pub fn new(arms: &[ArmSummary]) -> Findings {
        let arm = |name: &str| arms.iter().find(|a| a.arm == name);
        let rel = |now: f64, base: f64| (base != 0.0).then(|| (now - base) / base);
        let mut f = Findings {
            replace_loss_rises_every_generation: None,
            replace_loss_change: None,
            replace_tail_coverage_change: None,
            replace_flagged_at: None,
            accumulate_max_loss_rise: None,
            accumulate_within_margin: None,
            curated_loss_at_most_accumulate: None,
            curated_more_diverse: None,
            statements: Vec::new(),
        };
        if let Some(r) = arm("replace").filter(|a| a.generations.len() > 1) {
            let (g0, last) = first_last(r).expect("two generations");
            let rises = r.generations.windows(2).all(|w| w[1].real_loss > w[0].real_loss);
            f.replace_loss_rises_every_generation = Some(rises);
            f.replace_loss_change = rel(last.real_loss, g0.real_loss);
            f.replace_tail_coverage_change = rel(last.text.tail_coverage, g0.text.tail_coverage);
            f.replace_flagged_at = r
                .generations
                .iter()
                .find(|g| g.decision.status >= Status::Warn)
                .map(|g| g.generation);
            let d2 = (g0.text.distinct[1], last.text.distinct[1]);
            f.statements.push(format!(
                "replace: held-out real loss {:.3} → {:.3} bits/char over generations 0–{} ({}; {}), tail coverage {:.3} → {:.3}, distinct-2 {:.3} → {:.3} ({}); {}",
                g0.real_loss,
                last.real_loss,
                last.generation,
                pct_change(f.replace_loss_change),
                if rises { "rising at every generation" } else { "not rising at every generation" },
                g0.text.tail_coverage,
                last.text.tail_coverage,
                d2.0,
                d2.1,
                if d2.1 < d2.0 { "its text grew blander" } else { "its text did not grow blander: its errors add noise rather than remove variety" },
                match (f.replace_flagged_at, &r.stopped) {
                    (_, Some(s)) => format!("the monitor stopped it at generation {}", s.generation),
                    (Some(g), None) => format!("the monitor warned from generation {g}"),
                    (None, None) => "the monitor did not flag it".into(),
                }
            ));
        }
        if let Some(a) = arm("accumulate").filter(|a| a.generations.len() > 1) {
            let g0 = &a.generations[0];
            let max = a
                .generations
                .iter()
                .skip(1)
                .filter_map(|g| rel(g.real_loss, g0.real_loss))
                .fold(f64::NEG_INFINITY, f64::max);
            f.accumulate_max_loss_rise = Some(max);
            f.accumulate_within_margin = Some(max <= SMALL_MARGIN);
            f.statements.push(format!(
                "accumulate: held-out real loss at most {} from generation 0's {:.3} ({} the {:.0}% margin)",
                pct_change(Some(max)),
                g0.real_loss,
                if max <= SMALL_MARGIN { "within" } else { "outside" },
                100.0 * SMALL_MARGIN
            ));
        }
        if let (Some(a), Some(c)) = (arm("accumulate"), arm("curated")) {
            if let (Some((_, al)), Some((_, cl))) = (first_last(a), first_last(c)) {
                if al.generation == cl.generation && al.generation > 0 {
                    let at_most = cl.real_loss <= al.real_loss;
                    let diverse = cl.text.tail_coverage > al.text.tail_coverage || cl.text.distinct[1] > al.text.distinct[1];
                    f.curated_loss_at_most_accumulate = Some(at_most);
                    f.curated_more_diverse = Some(diverse);
                    f.statements.push(format!(
                        "curated vs accumulate at generation {}: held-out loss {:.3} vs {:.3} ({}), tail coverage {:.3} vs {:.3}, distinct-2 {:.3} vs {:.3} ({})",
                        cl.generation,
                        cl.real_loss,
                        al.real_loss,
                        if at_most { "at least as good" } else { "worse" },
                        cl.text.tail_coverage,
                        al.text.tail_coverage,
                        cl.text.distinct[1],
                        al.text.distinct[1],
                        if diverse { "more diverse on at least one" } else { "not more diverse" }
                    ));
                }
            }
        }
        f
    }
}

/// `+4.1%`.
pub fn pct_change(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), |x| format!("{:+.1}%", 100.0 * x))
}
