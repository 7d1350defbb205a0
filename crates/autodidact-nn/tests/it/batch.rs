//! Packing sequences into buckets.

use autodidact_nn::batch::{BUCKET_FILL_FRACTION, BUCKET_MIN_FILL};
use autodidact_nn::{Batch, Error, TrainData};

fn masks_after(seqs: &[Vec<u32>], from: usize) -> Vec<Vec<bool>> {
    seqs.iter()
        .map(|s| (0..s.len()).map(|i| i >= from).collect())
        .collect()
}

#[test]
fn equal_lengths_make_one_dense_bucket() {
    let seqs = vec![vec![1, 2, 3], vec![4, 5, 6], vec![7, 8, 9]];
    let batch = Batch::from_sequences(&seqs, &masks_after(&seqs, 2)).unwrap();
    assert_eq!(batch.buckets().len(), 1);
    let b = &batch.buckets()[0];
    assert_eq!(b.shape(), (3, 2));
    assert_eq!(batch.fill(), 0);
    assert_eq!(
        b.inputs.to_vec2::<u32>().unwrap(),
        vec![vec![1, 2], vec![4, 5], vec![7, 8]]
    );
    assert_eq!(&*b.targets, &[2, 3, 5, 6, 8, 9]);
    assert_eq!(&*b.mask, &[0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    assert_eq!(batch.n_targets(), 3);
    assert_eq!(batch.max_token(), 9);
}

#[test]
fn similar_lengths_share_a_bucket_and_fill_is_masked() {
    let seqs = vec![vec![1, 2], vec![3, 4, 5, 6], vec![7, 8, 9]];
    let batch = Batch::from_sequences(&seqs, &masks_after(&seqs, 1)).unwrap();
    assert_eq!(batch.buckets().len(), 1);
    let b = &batch.buckets()[0];
    // Longest first; shorter rows filled with 0 at the end, with no loss there.
    assert_eq!(b.sequences, vec![1, 2, 0]);
    assert_eq!(
        b.inputs.to_vec2::<u32>().unwrap(),
        vec![vec![3, 4, 5], vec![7, 8, 0], vec![1, 0, 0]]
    );
    assert_eq!(&*b.mask, &[1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    assert_eq!(batch.fill(), 3);
    assert_eq!(batch.n_sequences(), 3);
}

#[test]
fn distant_lengths_get_their_own_buckets_within_the_fill_bound() {
    // 40 sequences of length 3 and 40 of length 60: merging would fill 40 * 57 positions.
    let mut seqs: Vec<Vec<u32>> = (0..40).map(|i| vec![i % 5; 3]).collect();
    seqs.extend((0..40).map(|i| vec![i % 7; 60]));
    // And a spread of lengths 10..=50.
    seqs.extend((10..=50).map(|n| vec![1; n]));
    let batch = Batch::from_sequences(&seqs, &masks_after(&seqs, 1)).unwrap();
    assert!(
        batch.buckets().len() >= 3,
        "{} buckets",
        batch.buckets().len()
    );
    let mut seen = vec![false; seqs.len()];
    for b in batch.buckets() {
        let real: usize = b.lengths.iter().sum();
        let bound = BUCKET_MIN_FILL.max((real as f64 * BUCKET_FILL_FRACTION) as usize);
        assert!(
            b.fill() <= bound,
            "bucket {:?}: fill {} > {bound}",
            b.shape(),
            b.fill()
        );
        for &i in &b.sequences {
            assert!(!seen[i], "sequence {i} twice");
            seen[i] = true;
        }
    }
    assert!(seen.iter().all(|s| *s), "a sequence was dropped");
    assert_eq!(
        batch.n_targets(),
        seqs.iter().map(|s| s.len() - 1).sum::<usize>()
    );
}

#[test]
fn malformed_sequences_are_named() {
    let check = |seqs: Vec<Vec<u32>>, masks: Vec<Vec<bool>>, expected: &str| {
        let err = Batch::from_sequences(&seqs, &masks).unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{err} does not contain {expected:?}"
        );
        let err = TrainData::new(seqs, masks).err().unwrap();
        assert!(err.to_string().contains(expected), "{err}");
    };
    check(
        vec![vec![1, 2], vec![3]],
        vec![vec![false, true], vec![false]],
        "training sequence 1: has 1 tokens",
    );
    check(
        vec![vec![1, 2, 3]],
        vec![vec![false, true]],
        "training sequence 0: has 3 tokens but its loss mask has 2",
    );
    check(
        vec![vec![1, 2], vec![1, 2]],
        vec![vec![false, true], vec![true, true]],
        "training sequence 1: loss mask is true at position 0",
    );
    check(vec![vec![1, 2]], vec![], "1 sequences");
    let err = Batch::from_sequences(&[vec![1, 2]], &[vec![false, false]]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Argument {
                name: "loss_mask",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn given_positions_travel_with_their_rows() {
    let seqs = vec![vec![1, 2, 3], vec![4, 5]];
    let positions = vec![vec![5, 6, 5], vec![9, 3]];
    let batch = Batch::from_sequences_at(&seqs, &masks_after(&seqs, 1), &positions).unwrap();
    assert_eq!(batch.max_position(), Some(9));
    let b = &batch.buckets()[0];
    // Inputs drop the last token; the shorter row is filled (position 0).
    assert_eq!(b.positions.as_ref().unwrap().to_vec1::<u32>().unwrap(), vec![5, 6, 9, 0]);
    let err = Batch::from_sequences_at(&seqs, &masks_after(&seqs, 1), &[vec![1, 2, 3], vec![1]])
        .unwrap_err();
    assert!(matches!(err, Error::Sequence { index: 1, .. }), "{err}");
    assert!(Batch::from_sequences(&seqs, &masks_after(&seqs, 1)).unwrap().buckets()[0]
        .positions
        .is_none());
}
