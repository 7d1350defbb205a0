//! The rare set and its coverage, on hand-built reference texts.

use autodidact_monitor::{Reference, measure};

/// 4-grams: abcd bcde cdef defg efgz fgzz gzzz once each, zzzz 47 times; 54 in all.
fn reference() -> Reference {
    Reference::new(&format!("abcdefg{}", "z".repeat(50)))
}

#[test]
fn rare_set_is_the_low_count_tiers_holding_a_tenth_of_the_text() {
    let r = reference();
    // Six count-1 4-grams already hold 10% of 54; the set takes their whole tier, all seven.
    assert_eq!(r.tail_len(), 7);
    assert_eq!(r.tail_max_count(), 1);

    // One tier dominates: it is the rare set, whatever its count.
    let flat = Reference::new(&"x".repeat(100));
    assert_eq!((flat.tail_len(), flat.tail_max_count()), (1, 97));

    let empty = Reference::new("abc");
    assert_eq!((empty.tail_len(), empty.tail_max_count()), (0, 0));
    assert_eq!(measure(&empty, &["abcd"]).tail_coverage, 0.0);
}

#[test]
fn tail_coverage_counts_rare_4_grams_seen_at_least_once() {
    let r = reference();
    let coverage = |samples: &[&str]| measure(&r, samples).tail_coverage;
    assert_eq!(coverage(&["abcdzzzz"]), 1.0 / 7.0);
    assert_eq!(coverage(&["fgzzz"]), 2.0 / 7.0);
    assert_eq!(coverage(&["fgzzz", "fgzzz", "abcd"]), 3.0 / 7.0);
    // zzzz is common, not rare; a 4-gram split across samples does not count.
    assert_eq!(coverage(&["zzzzzzzz", "ab", "cd"]), 0.0);
    assert_eq!(coverage(&[&format!("abcdefg{}", "z".repeat(50))]), 1.0);
}
