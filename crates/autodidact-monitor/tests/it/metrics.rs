//! `measure` on tiny hand-computed inputs.

use autodidact_monitor::{Reference, TextMetrics, excerpts, measure};

fn m(reference: &str, samples: &[&str]) -> TextMetrics {
    measure(&Reference::new(reference), samples)
}

fn close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() < 1e-12,
        "{what}: {actual} != {expected}"
    );
}

fn check_all(actual: &[f64], expected: &[f64], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        close(a, e, &format!("{what}[{i}]"));
    }
}

#[test]
fn distinct_n_of_words_and_chars() {
    let t = m("", &["a b a b"]);
    // a b | b a | a b ; a b a | b a b ; a b a b
    check_all(
        &t.distinct,
        &[2.0 / 4.0, 2.0 / 3.0, 2.0 / 2.0, 1.0 / 1.0],
        "distinct",
    );
    // 7 chars: {a, ' ', b}; {"a ", " b", "b ", " a"} of 6; {"a b", " b ", "b a", " a "} of 5;
    // {"a b ", " b a", "b a ", " a b"} of 4.
    check_all(
        &t.char_distinct,
        &[3.0 / 7.0, 4.0 / 6.0, 4.0 / 5.0, 4.0 / 4.0],
        "char_distinct",
    );
    assert_eq!((t.samples, t.chars), (1, 7));
}

#[test]
fn n_grams_do_not_cross_samples() {
    let t = m("", &["a b", "b a"]);
    // Word bigrams: "a b", "b a" (no "b b" across the boundary); no trigram fits in a sample.
    check_all(&t.distinct, &[2.0 / 4.0, 2.0 / 2.0, 0.0, 0.0], "distinct");
    // Char 3-grams: "a b", "b a" (no " bb" or "b b"); 4-grams: none.
    check_all(
        &t.char_distinct,
        &[3.0 / 6.0, 4.0 / 4.0, 2.0 / 2.0, 0.0],
        "char_distinct",
    );
}

#[test]
fn chars_are_unicode_scalar_values() {
    let t = m("", &["héé", "ü"]);
    assert_eq!(t.chars, 4);
    check_all(
        &t.char_distinct,
        &[3.0 / 4.0, 2.0 / 2.0, 1.0, 0.0],
        "char_distinct",
    );
}

#[test]
fn repetition_rate_counts_repeats_within_a_sample() {
    // abc bca cab abc: the second abc repeats.
    close(
        m("", &["a b c a b c"]).repetition_rate,
        1.0 / 4.0,
        "one sample",
    );
    // Pooled: 1 repeat in 4 + 0 in 1.
    close(
        m("", &["a b c a b c", "x y z"]).repetition_rate,
        1.0 / 5.0,
        "pooled",
    );
    // The same 3-gram in two samples is not a repeat.
    close(
        m("", &["a b c", "a b c"]).repetition_rate,
        0.0,
        "across samples",
    );
    close(m("", &["a a a a a a"]).repetition_rate, 3.0 / 4.0, "loop");
}

#[test]
fn vocab_entropy_in_bits() {
    close(m("", &["a b a b"]).vocab_entropy, 1.0, "two words");
    close(m("", &["a b", "c d"]).vocab_entropy, 2.0, "four words");
    close(m("", &["a a a a"]).vocab_entropy, 0.0, "one word");
    // p = 1/2, 1/4, 1/4: 1/2 + 1/2 + 1/2.
    close(m("", &["a a b c"]).vocab_entropy, 1.5, "skewed");
}

#[test]
fn kl_hand_computed() {
    let t = m("ab", &["aa"]);
    // Unigrams, union {a, b}, alpha 1/2: P = (1.5, 1.5) / 3, Q = (2.5, 0.5) / 3;
    // KL = 0.5 ln(0.5 / (5/6)) + 0.5 ln(0.5 / (1/6)) = 0.5 ln 1.8.
    close(t.kl_char[0], 0.5 * 1.8f64.ln(), "kl_char[0]");
    // Bigrams, union {ab, aa}: P = (0.75, 0.25), Q = (0.25, 0.75): KL = 0.5 ln 3.
    close(t.kl_char[1], 0.5 * 3f64.ln(), "kl_char[1]");
    // No 3-grams on either side.
    close(t.kl_char[2], 0.0, "kl_char[2]");
    // Words "ab" vs "aa": the same shape as the bigrams.
    close(t.kl_word, 0.5 * 3f64.ln(), "kl_word");
}

#[test]
fn kl_is_zero_for_identical_text_and_positive_otherwise() {
    let text =
        "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer";
    let same = m(text, &[text]);
    assert_eq!(same.kl_char, [0.0; 3]);
    assert_eq!(same.kl_word, 0.0);
    let other = m(text, &["To be, or not to be, to be, or not to be, to be"]);
    assert!(
        other.kl_char.iter().all(|&kl| kl > 0.0),
        "{:?}",
        other.kl_char
    );
    assert!(other.kl_word > 0.0);
}

#[test]
fn compression_ratio_rises_with_repetition() {
    let varied =
        "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.";
    let looped = "la ".repeat(1000);
    let varied = m("", &[varied]).compression_ratio;
    let looped = m("", &[&looped]).compression_ratio;
    // gzip's header outweighs what it saves on 85 bytes.
    assert!(varied < 1.0, "{varied}");
    assert!(looped > 50.0, "{looped}");
}

#[test]
fn nothing_to_measure_gives_zeros_not_nan() {
    let t = measure(&Reference::new("some real text"), &[] as &[&str]);
    assert_eq!((t.samples, t.chars), (0, 0));
    assert_eq!(t.distinct, [0.0; 4]);
    assert_eq!(t.char_distinct, [0.0; 4]);
    assert_eq!(
        (t.repetition_rate, t.tail_coverage, t.vocab_entropy),
        (0.0, 0.0, 0.0)
    );
    assert!(
        t.kl_char
            .iter()
            .chain([&t.kl_word, &t.compression_ratio])
            .all(|x| x.is_finite())
    );
    // So that it survives JSON (which has no NaN).
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(serde_json::from_str::<TextMetrics>(&json).unwrap(), t);
}

#[test]
fn excerpts_are_evenly_spaced_whole_chars() {
    assert_eq!(excerpts("abcdefghij", 3, 4), ["abcd", "defg", "ghij"]);
    assert_eq!(excerpts("abcdefghij", 1, 4), ["abcd"]);
    assert_eq!(excerpts("abc", 2, 5), ["abc", "abc"]);
    assert_eq!(excerpts("éàüö", 2, 3), ["éàü", "àüö"]);
    assert!(excerpts("", 3, 4).is_empty());
    assert!(excerpts("abc", 0, 4).is_empty());
    assert!(excerpts("abc", 3, 0).is_empty());
}
