//! `MonitorConfig::decide`: which thresholds fire, at which level, and what they say.

use autodidact_monitor::{Decision, MonitorConfig, Observation, Status, TextMetrics, Thresholds};

/// An observation with the five watched values; every other metric 0.
fn obs(loss: Option<f64>, distinct_2: f64, tail: f64, kl_3: f64, repetition: f64) -> Observation {
    Observation {
        real_loss: loss,
        text: TextMetrics {
            samples: 50,
            chars: 50_000,
            distinct: [0.0, distinct_2, 0.0, 0.0],
            char_distinct: [0.0; 4],
            compression_ratio: 0.0,
            repetition_rate: repetition,
            kl_char: [0.0, 0.0, kl_3],
            kl_word: 0.0,
            tail_coverage: tail,
            vocab_entropy: 0.0,
        },
    }
}

fn base() -> Observation {
    obs(Some(2.0), 0.5, 0.12, 0.30, 0.01)
}

fn check(now: Observation, status: Status, reasons: &[&str]) {
    let decision = MonitorConfig::default().decide(&base(), &now);
    let expected = Decision {
        status,
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
    };
    assert_eq!(decision, expected);
}

#[test]
fn no_change_or_improvement_is_go() {
    check(base(), Status::Go, &[]);
    check(obs(Some(1.5), 0.9, 0.5, 0.0, 0.0), Status::Go, &[]);
    // Below every warn threshold.
    check(obs(Some(2.05), 0.48, 0.11, 0.34, 0.02), Status::Go, &[]);
}

#[test]
fn real_loss_rise() {
    check(
        obs(Some(2.1), 0.5, 0.12, 0.30, 0.01),
        Status::Warn,
        &["held-out real loss 2.10 bits/char is 5.0% above generation 0's 2.00 (warn at +3%)"],
    );
    check(
        obs(Some(2.24), 0.5, 0.12, 0.30, 0.01),
        Status::Stop,
        &["held-out real loss 2.24 bits/char is 12.0% above generation 0's 2.00 (stop at +10%)"],
    );
}

#[test]
fn each_text_metric_names_itself() {
    // Exactly at the threshold crosses it, though (0.5 - 0.4) / 0.5 rounds below 0.2.
    check(
        obs(Some(2.0), 0.4, 0.12, 0.30, 0.01),
        Status::Stop,
        &["distinct-2 0.400 is 20.0% below generation 0's 0.500 (stop at -20%)"],
    );
    check(
        obs(Some(2.0), 0.5, 0.10, 0.30, 0.01),
        Status::Warn,
        &["tail coverage 0.100 is 16.7% below generation 0's 0.120 (warn at -10%)"],
    );
    check(
        obs(Some(2.0), 0.5, 0.12, 0.36, 0.01),
        Status::Warn,
        &["char 3-gram KL 0.360 nats is 0.060 above generation 0's 0.300 (warn at +0.05)"],
    );
    check(
        obs(Some(2.0), 0.5, 0.12, 0.30, 0.2),
        Status::Stop,
        &["repetition rate 0.200 is 0.190 above generation 0's 0.010 (stop at +0.1)"],
    );
}

#[test]
fn worst_status_wins_and_every_crossing_is_listed() {
    check(
        obs(Some(2.1), 0.5, 0.12, 0.60, 0.01),
        Status::Stop,
        &[
            "held-out real loss 2.10 bits/char is 5.0% above generation 0's 2.00 (warn at +3%)",
            "char 3-gram KL 0.600 nats is 0.300 above generation 0's 0.300 (stop at +0.2)",
        ],
    );
}

#[test]
fn thresholds_that_are_off_never_fire() {
    let collapsed = obs(Some(9.0), 0.01, 0.0, 5.0, 0.99);
    let off = MonitorConfig {
        warn: Thresholds::default(),
        stop: Thresholds::default(),
    };
    assert_eq!(
        off.decide(&base(), &collapsed),
        Decision {
            status: Status::Go,
            reasons: vec![]
        }
    );

    // Only a warn on KL: the rest may collapse unnoticed, and KL never stops.
    let kl_only = MonitorConfig {
        warn: Thresholds {
            kl_rise: Some(0.1),
            ..Thresholds::default()
        },
        stop: Thresholds::default(),
    };
    let decision = kl_only.decide(&base(), &collapsed);
    assert_eq!(decision.status, Status::Warn);
    assert_eq!(
        decision.reasons,
        ["char 3-gram KL 5.000 nats is 4.700 above generation 0's 0.300 (warn at +0.1)"]
    );
}

#[test]
fn a_loss_not_measured_is_not_compared() {
    let cfg = MonitorConfig::default();
    let unmeasured = obs(None, 0.5, 0.12, 0.30, 0.01);
    assert_eq!(cfg.decide(&base(), &unmeasured).status, Status::Go);
    assert_eq!(
        cfg.decide(&unmeasured, &obs(Some(9.0), 0.5, 0.12, 0.30, 0.01))
            .status,
        Status::Go
    );
}

#[test]
fn a_relative_change_from_zero_is_not_compared() {
    let cfg = MonitorConfig::default();
    let zero = obs(Some(0.0), 0.0, 0.0, 0.30, 0.01);
    assert_eq!(
        cfg.decide(&zero, &obs(Some(1.0), 0.0, 0.0, 0.30, 0.01))
            .status,
        Status::Go
    );
}

#[test]
fn a_diverged_loss_stops() {
    check(
        obs(Some(f64::NAN), 0.5, 0.12, 0.30, 0.01),
        Status::Stop,
        &[
            "held-out real loss is NaN, not a finite number; generation 0's was 2.00 bits/char (stop at +10%)",
        ],
    );
}

#[test]
fn status_is_ordered_and_lowercase_in_json() {
    assert!(Status::Go < Status::Warn && Status::Warn < Status::Stop);
    let decision = Decision {
        status: Status::Stop,
        reasons: vec!["why".into()],
    };
    let json = serde_json::to_string(&decision).unwrap();
    assert_eq!(json, r#"{"status":"stop","reasons":["why"]}"#);
    assert_eq!(serde_json::from_str::<Decision>(&json).unwrap(), decision);
}
