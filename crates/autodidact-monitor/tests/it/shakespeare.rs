//! Real text against degenerate text: tinyshakespeare, 90% as the reference, the last 10%
//! held out.

use std::path::PathBuf;

use autodidact_monitor::{
    MonitorConfig, Observation, Reference, Status, TextMetrics, excerpts, measure,
};

const SAMPLES: usize = 50;
const SAMPLE_CHARS: usize = 1000;

/// The reference (first 90%) and held-out text (last 10%). A missing file fails the test.
fn split() -> (String, String) {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/tinyshakespeare.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read {}: {err}; the monitor's tests need tinyshakespeare there",
            path.display()
        )
    });
    let cut = text
        .char_indices()
        .nth(text.chars().count() * 9 / 10)
        .unwrap()
        .0;
    (text[..cut].to_owned(), text[cut..].to_owned())
}

fn cut(text: &str) -> Vec<String> {
    excerpts(text, SAMPLES, SAMPLE_CHARS)
}

/// Asserts that `good` beats `bad` on every metric.
fn assert_better(good: &TextMetrics, bad: &TextMetrics, what: &str) {
    let higher = [
        ("distinct", good.distinct.to_vec(), bad.distinct.to_vec()),
        (
            "char_distinct",
            good.char_distinct.to_vec(),
            bad.char_distinct.to_vec(),
        ),
        (
            "tail_coverage",
            vec![good.tail_coverage],
            vec![bad.tail_coverage],
        ),
        (
            "vocab_entropy",
            vec![good.vocab_entropy],
            vec![bad.vocab_entropy],
        ),
    ];
    let lower = [
        (
            "compression_ratio",
            vec![good.compression_ratio],
            vec![bad.compression_ratio],
        ),
        (
            "repetition_rate",
            vec![good.repetition_rate],
            vec![bad.repetition_rate],
        ),
        ("kl_char", good.kl_char.to_vec(), bad.kl_char.to_vec()),
        ("kl_word", vec![good.kl_word], vec![bad.kl_word]),
    ];
    for (name, good, bad) in higher {
        assert!(
            good.iter().zip(&bad).all(|(g, b)| g > b),
            "{what}: {name} {good:?} not above {bad:?}"
        );
    }
    for (name, good, bad) in lower {
        assert!(
            good.iter().zip(&bad).all(|(g, b)| g < b),
            "{what}: {name} {good:?} not below {bad:?}"
        );
    }
}

#[test]
fn held_out_real_text_beats_degenerate_text_on_every_metric() {
    let (real, held_out) = split();
    let reference = Reference::new(&real);
    let ideal = measure(&reference, &cut(&held_out));

    // The rule of the rare set, cross-checked with an independent count in Python: 4-grams
    // seen at most 10 times hold 10% of the reference.
    assert_eq!(
        (reference.tail_max_count(), reference.tail_len()),
        (10, 35_243)
    );

    // The ideal: close to the real distribution, far from either end of tail coverage.
    assert!(ideal.kl_char[0] < 0.02, "{:?}", ideal.kl_char);
    assert!(
        ideal.kl_char.iter().all(|&kl| kl < 0.5),
        "{:?}",
        ideal.kl_char
    );
    assert!(
        (0.05..0.5).contains(&ideal.tail_coverage),
        "{}",
        ideal.tail_coverage
    );
    assert!(ideal.repetition_rate < 0.05, "{}", ideal.repetition_rate);
    assert_eq!(
        (ideal.samples, ideal.chars),
        (SAMPLES, SAMPLES * SAMPLE_CHARS)
    );

    // A word on a loop.
    let the = measure(&reference, &cut(&"the ".repeat(20_000)));
    assert_better(&ideal, &the, "the the the");
    assert_eq!(the.tail_coverage, 0.0);
    assert!(
        the.repetition_rate > 0.99 && the.compression_ratio > 50.0,
        "{the:?}"
    );
    assert!(the.kl_char[2] > 2.0 && the.kl_word > 2.0, "{the:?}");
    assert!(the.distinct[1] < 0.001, "{:?}", the.distinct);

    // A real passage on a loop: real n-grams, lost diversity.
    let passage = &held_out[..300];
    let looped = measure(&reference, &cut(&passage.repeat(400)));
    assert_better(&ideal, &looped, "a looped passage");
}

#[test]
fn kl_and_tail_worsen_step_by_step_as_text_degenerates() {
    let (real, held_out) = split();
    let reference = Reference::new(&real);
    let real_samples = cut(&held_out);
    let steps: Vec<TextMetrics> = [0, 250, 500, 750, 1000]
        .iter()
        .map(|&looped| {
            // Each sample: its last `looped` chars replaced by "the the the ...".
            let samples: Vec<String> = real_samples
                .iter()
                .map(|s| {
                    let kept: String = s.chars().take(SAMPLE_CHARS - looped).collect();
                    kept + &"the ".repeat(looped / 4)
                })
                .collect();
            measure(&reference, &samples)
        })
        .collect();
    for pair in steps.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        for n in 0..3 {
            assert!(
                after.kl_char[n] > before.kl_char[n],
                "kl_char[{n}]: {before:?} -> {after:?}"
            );
        }
        assert!(after.kl_word > before.kl_word, "{before:?} -> {after:?}");
        assert!(
            after.tail_coverage < before.tail_coverage,
            "{before:?} -> {after:?}"
        );
        assert!(
            after.distinct[1] < before.distinct[1],
            "{before:?} -> {after:?}"
        );
        assert!(
            after.repetition_rate > before.repetition_rate,
            "{before:?} -> {after:?}"
        );
    }
}

#[test]
fn default_thresholds_tolerate_real_text_and_stop_a_loop() {
    let (real, held_out) = split();
    let reference = Reference::new(&real);
    // Two disjoint halves of the held-out text: different real text, the same quality.
    let half = held_out
        .char_indices()
        .nth(held_out.chars().count() / 2)
        .unwrap()
        .0;
    let observe = |text: &str| Observation {
        real_loss: None,
        text: measure(&reference, &cut(text)),
    };
    let (first, second) = (observe(&held_out[..half]), observe(&held_out[half..]));
    let cfg = MonitorConfig::default();
    assert_eq!(
        cfg.decide(&first, &second).status,
        Status::Go,
        "{:?}",
        cfg.decide(&first, &second)
    );
    assert_eq!(
        cfg.decide(&second, &first).status,
        Status::Go,
        "{:?}",
        cfg.decide(&second, &first)
    );

    let looped = observe(&held_out[..300].repeat(400));
    let decision = cfg.decide(&first, &looped);
    assert_eq!(decision.status, Status::Stop);
    for metric in [
        "distinct-2",
        "tail coverage",
        "char 3-gram KL",
        "repetition rate",
    ] {
        assert!(
            decision
                .reasons
                .iter()
                .any(|r| r.starts_with(metric) && r.contains("(stop at")),
            "{metric} not among {:#?}",
            decision.reasons
        );
    }
}
