//! The thresholds, as read from the `[monitor]` table of a run's configuration.

use serde::{Deserialize, Serialize};

/// Settings of the collapse monitor: two levels of [`Thresholds`], each relative to generation 0
/// of the same arm.
///
/// Leaving a table out keeps its defaults; writing one sets exactly the thresholds written
/// (those left out are off):
///
/// ```toml
/// [monitor.stop]   # stop only on these two; `warn` keeps its defaults
/// distinct_2_drop = 0.2
/// real_loss_rise = 0.1
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Crossing any of these makes the status at least [`Status::Warn`](crate::Status::Warn).
    /// Default: [`Thresholds::default_warn`].
    #[serde(default = "Thresholds::default_warn")]
    pub warn: Thresholds,
    /// Crossing any of these makes the status [`Status::Stop`](crate::Status::Stop).
    /// Default: [`Thresholds::default_stop`].
    #[serde(default = "Thresholds::default_stop")]
    pub stop: Thresholds,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            warn: Thresholds::default_warn(),
            stop: Thresholds::default_stop(),
        }
    }
}

/// One level of thresholds. A threshold is crossed when the change since generation 0 reaches
/// it (up to rounding); `None` is off. A metric missing from either observation (no loss
/// measured) or with nothing to compare to (a relative change from 0) never crosses.
///
/// `Default` is all off.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Relative rise of the held-out real loss (bits/char) over generation 0: `0.05` = 5% higher.
    /// The one metric of the model itself rather than its text; measured by the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_loss_rise: Option<f64>,
    /// Relative drop of word distinct-2 ([`TextMetrics::distinct`](crate::TextMetrics::distinct)
    /// `[1]`) below generation 0: `0.2` = 20% lower.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct_2_drop: Option<f64>,
    /// Relative drop of [`tail_coverage`](crate::TextMetrics::tail_coverage) below generation 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail_coverage_drop: Option<f64>,
    /// Absolute rise, in nats, of the character 3-gram KL divergence from the real text
    /// ([`kl_char`](crate::TextMetrics::kl_char)`[2]`) over generation 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl_rise: Option<f64>,
    /// Absolute rise of [`repetition_rate`](crate::TextMetrics::repetition_rate) over
    /// generation 0: `0.1` = 10 more repeated 3-grams in every 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetition_rise: Option<f64>,
}

impl Thresholds {
    /// Early signs, worth a look but within the noise of a healthy loop: held-out real loss
    /// +3%, distinct-2 −5%, tail coverage −10%, character 3-gram KL +0.05 nats, repetition rate
    /// +0.02.
    pub fn default_warn() -> Thresholds {
        Thresholds {
            real_loss_rise: Some(0.03),
            distinct_2_drop: Some(0.05),
            tail_coverage_drop: Some(0.10),
            kl_rise: Some(0.05),
            repetition_rise: Some(0.02),
        }
    }

    /// Collapse under way: held-out real loss +10%, distinct-2 −20%, tail coverage −30%,
    /// character 3-gram KL +0.2 nats, repetition rate +0.1.
    pub fn default_stop() -> Thresholds {
        Thresholds {
            real_loss_rise: Some(0.10),
            distinct_2_drop: Some(0.20),
            tail_coverage_drop: Some(0.30),
            kl_rise: Some(0.2),
            repetition_rise: Some(0.1),
        }
    }

    /// The thresholds by their TOML key.
    pub(crate) fn by_key(&self) -> [(&'static str, Option<f64>); 5] {
        [
            ("real_loss_rise", self.real_loss_rise),
            ("distinct_2_drop", self.distinct_2_drop),
            ("tail_coverage_drop", self.tail_coverage_drop),
            ("kl_rise", self.kl_rise),
            ("repetition_rise", self.repetition_rise),
        ]
    }
}

/// A configuration the monitor cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MonitorError {
    /// A threshold is negative or not a number.
    #[error("threshold `{key}` = {value} must be a finite number >= 0")]
    InvalidThreshold {
        /// Where it is, from the `[monitor]` table: `stop.kl_rise`.
        key: String,
        /// What it is.
        value: f64,
    },
}

impl MonitorConfig {
    /// Checks that every threshold is a finite number ≥ 0 (a negative one would fire on no
    /// change at all).
    pub fn validate(&self) -> Result<(), MonitorError> {
        for (level, thresholds) in [("warn", &self.warn), ("stop", &self.stop)] {
            for (key, value) in thresholds.by_key() {
                if let Some(value) = value.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                    return Err(MonitorError::InvalidThreshold {
                        key: format!("{level}.{key}"),
                        value,
                    });
                }
            }
        }
        Ok(())
    }
}
