//! Go, warn or stop: one generation's observation against generation 0's.

use serde::{Deserialize, Serialize};

use crate::config::{MonitorConfig, Thresholds};
use crate::metrics::TextMetrics;

/// What the loop should do next. Ordered from best to worst: `Go < Warn < Stop`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No threshold crossed.
    Go,
    /// A warn threshold crossed, no stop threshold.
    Warn,
    /// A stop threshold crossed.
    Stop,
}

/// The monitor's verdict on one generation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Decision {
    /// The worst level of all thresholds crossed; [`Status::Go`] if none.
    pub status: Status,
    /// One line per metric that crossed a threshold, at the worst level it crossed, naming the
    /// metric, its value, generation 0's and the threshold, e.g. `held-out real loss 2.31
    /// bits/char is 12.0% above generation 0's 2.06 (stop at +10%)`. Empty for [`Status::Go`].
    pub reasons: Vec<String>,
}

/// What is known about one generation: the caller's loss measurement and the text metrics.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Observation {
    /// The model's loss on held-out real text, in bits per character, if measured.
    #[serde(default)]
    pub real_loss: Option<f64>,
    /// [`measure`](crate::measure) of the generation's samples.
    pub text: TextMetrics,
}

/// How a metric's change from generation 0 is taken.
#[derive(Clone, Copy)]
enum Change {
    /// `(now - base) / base`: worse when higher.
    RelativeRise,
    /// `(base - now) / base`: worse when lower.
    RelativeDrop,
    /// `now - base`: worse when higher.
    AbsoluteRise,
}

/// One watched metric.
struct Check {
    name: &'static str,
    /// Printed after the value, with its leading space.
    unit: &'static str,
    decimals: usize,
    change: Change,
    value: fn(&Observation) -> Option<f64>,
    threshold: fn(&Thresholds) -> Option<f64>,
}

const CHECKS: [Check; 5] = [
    Check {
        name: "held-out real loss",
        unit: " bits/char",
        decimals: 2,
        change: Change::RelativeRise,
        value: |o| o.real_loss,
        threshold: |t| t.real_loss_rise,
    },
    Check {
        name: "distinct-2",
        unit: "",
        decimals: 3,
        change: Change::RelativeDrop,
        value: |o| Some(o.text.distinct[1]),
        threshold: |t| t.distinct_2_drop,
    },
    Check {
        name: "tail coverage",
        unit: "",
        decimals: 3,
        change: Change::RelativeDrop,
        value: |o| Some(o.text.tail_coverage),
        threshold: |t| t.tail_coverage_drop,
    },
    Check {
        name: "char 3-gram KL",
        unit: " nats",
        decimals: 3,
        change: Change::AbsoluteRise,
        value: |o| Some(o.text.kl_char[2]),
        threshold: |t| t.kl_rise,
    },
    Check {
        name: "repetition rate",
        unit: "",
        decimals: 3,
        change: Change::AbsoluteRise,
        value: |o| Some(o.text.repetition_rate),
        threshold: |t| t.repetition_rise,
    },
];

/// Slack for rounding, so that a change of exactly the threshold (a drop from 1.0 to 0.8
/// computes as 0.19999999999999996) crosses it.
const ROUNDING: f64 = 1e-9;

impl MonitorConfig {
    /// Compares generation `now` with generation 0 (`base`) of the same arm.
    ///
    /// A metric whose value in `now` is not a finite number (a loss of NaN after training
    /// diverged) crosses the worst threshold set for it.
    pub fn decide(&self, base: &Observation, now: &Observation) -> Decision {
        let mut status = Status::Go;
        let mut reasons = Vec::new();
        for check in &CHECKS {
            let levels = [(Status::Stop, &self.stop), (Status::Warn, &self.warn)];
            let (Some(base), Some(now)) = ((check.value)(base), (check.value)(now)) else {
                continue;
            };
            if !base.is_finite() {
                continue;
            }
            let change = match check.change {
                Change::RelativeRise | Change::RelativeDrop if base <= 0.0 => continue,
                Change::RelativeRise => (now - base) / base,
                Change::RelativeDrop => (base - now) / base,
                Change::AbsoluteRise => now - base,
            };
            let crossed = levels.into_iter().find_map(|(level, thresholds)| {
                let threshold = (check.threshold)(thresholds)?;
                (!now.is_finite() || change >= threshold - ROUNDING).then_some((level, threshold))
            });
            if let Some((level, threshold)) = crossed {
                status = status.max(level);
                reasons.push(reason(check, level, threshold, base, now, change));
            }
        }
        Decision { status, reasons }
    }
}

fn reason(
    check: &Check,
    level: Status,
    threshold: f64,
    base: f64,
    now: f64,
    change: f64,
) -> String {
    let Check {
        name,
        unit,
        decimals: d,
        ..
    } = check;
    let level = if level == Status::Stop {
        "stop"
    } else {
        "warn"
    };
    let at = match check.change {
        Change::RelativeRise => format!("{level} at +{}%", short(threshold * 100.0)),
        Change::RelativeDrop => format!("{level} at -{}%", short(threshold * 100.0)),
        Change::AbsoluteRise => format!("{level} at +{}", short(threshold)),
    };
    if !now.is_finite() {
        return format!(
            "{name} is {now}, not a finite number; generation 0's was {base:.d$}{unit} ({at})"
        );
    }
    let percent = change.abs() * 100.0;
    match check.change {
        Change::RelativeRise => {
            format!(
                "{name} {now:.d$}{unit} is {percent:.1}% above generation 0's {base:.d$} ({at})"
            )
        }
        Change::RelativeDrop => {
            format!(
                "{name} {now:.d$}{unit} is {percent:.1}% below generation 0's {base:.d$} ({at})"
            )
        }
        Change::AbsoluteRise => {
            format!("{name} {now:.d$}{unit} is {change:.d$} above generation 0's {base:.d$} ({at})")
        }
    }
}

/// `x` without float noise or trailing zeros: 7.000000000000001 → `7`, 0.05 → `0.05`.
fn short(x: f64) -> String {
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
