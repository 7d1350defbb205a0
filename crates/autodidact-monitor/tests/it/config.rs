//! `MonitorConfig` as TOML.

use autodidact_monitor::{MonitorConfig, MonitorError, Thresholds};
use serde::Deserialize;

/// A run configuration holding only the `[monitor]` table.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Run {
    monitor: MonitorConfig,
}

fn parse(toml: &str) -> Result<MonitorConfig, toml::de::Error> {
    toml::from_str::<Run>(toml).map(|run| run.monitor)
}

#[test]
fn default_round_trips_through_toml() {
    let default = MonitorConfig::default();
    let text = toml::to_string(&default).unwrap();
    assert_eq!(toml::from_str::<MonitorConfig>(&text).unwrap(), default);
    assert!(text.contains("real_loss_rise = 0.1"), "{text}");
    default.validate().unwrap();
}

#[test]
fn an_empty_table_is_the_default() {
    assert_eq!(parse("[monitor]\n").unwrap(), MonitorConfig::default());
}

#[test]
fn a_written_table_sets_exactly_what_it_says() {
    let cfg = parse("[monitor.stop]\ndistinct_2_drop = 0.2\nreal_loss_rise = 0.1\n").unwrap();
    assert_eq!(cfg.warn, Thresholds::default_warn());
    assert_eq!(
        cfg.stop,
        Thresholds {
            distinct_2_drop: Some(0.2),
            real_loss_rise: Some(0.1),
            ..Thresholds::default()
        }
    );
    // Off thresholds stay off through a round trip.
    assert_eq!(
        toml::from_str::<MonitorConfig>(&toml::to_string(&cfg).unwrap()).unwrap(),
        cfg
    );
}

#[test]
fn unknown_keys_are_errors_that_name_them() {
    let err = parse("[monitor.stop]\ndistinct2_drop = 0.2\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `distinct2_drop`"), "{err}");
    let err = parse("[monitor]\nstop_when = 1\n").unwrap_err().to_string();
    assert!(err.contains("unknown field `stop_when`"), "{err}");
}

#[test]
fn negative_or_nan_thresholds_are_invalid() {
    let cfg = parse("[monitor.stop]\nkl_rise = -0.1\n").unwrap();
    let err = cfg.validate().unwrap_err();
    assert_eq!(
        err,
        MonitorError::InvalidThreshold {
            key: "stop.kl_rise".into(),
            value: -0.1
        }
    );
    assert_eq!(
        err.to_string(),
        "threshold `stop.kl_rise` = -0.1 must be a finite number >= 0"
    );

    let cfg = parse("[monitor.warn]\ntail_coverage_drop = nan\n").unwrap();
    assert!(
        cfg.validate()
            .unwrap_err()
            .to_string()
            .contains("`warn.tail_coverage_drop` = NaN")
    );
}
