//! Decoding: reproducible with a seed, and the KV cache agrees with the full forward pass.

use autodidact_nn::{Error, KvCache, Model, Network};
use candle_core::{IndexOp, Module};

use crate::{max_abs_diff, tiny_network};

/// Greedy decoding without a cache: the whole sequence through `forward` at every step.
fn greedy_without_cache(
    network: &Network,
    prompt: &[u32],
    max_new: usize,
    stop: Option<u32>,
) -> Vec<u32> {
    let mut seq = prompt.to_vec();
    let mut out = Vec::new();
    for _ in 0..max_new {
        let logits = network
            .model()
            .forward(&Model::tokens_tensor(std::slice::from_ref(&seq)).unwrap())
            .unwrap();
        let last: Vec<f32> = logits.i((0, seq.len() - 1)).unwrap().to_vec1().unwrap();
        let token =
            (0..last.len()).fold(0, |best, i| if last[i] > last[best] { i } else { best }) as u32;
        out.push(token);
        seq.push(token);
        if stop == Some(token) {
            break;
        }
    }
    out
}

fn prompts() -> Vec<Vec<u32>> {
    vec![
        vec![1, 2, 3],
        vec![4],
        vec![5, 6, 7],
        vec![11, 0],
        vec![9, 9, 9, 9, 9],
        vec![2, 7, 1],
    ]
}

#[test]
fn kv_cache_greedy_matches_full_forward() {
    // Several seeds so that some continuations hit the stop token early and some do not.
    let mut stopped = 0;
    for seed in 0..4 {
        let network = tiny_network(seed);
        let stop = Some(3);
        let got = network.generate(&prompts(), 9, stop, 0.0, 0).unwrap();
        for (prompt, out) in prompts().iter().zip(&got) {
            assert_eq!(
                out,
                &greedy_without_cache(&network, prompt, 9, stop),
                "seed {seed}, prompt {prompt:?}"
            );
            stopped += usize::from(out.len() < 9);
        }
    }
    assert!(
        stopped > 0,
        "no continuation stopped early: the stop path is untested"
    );
}

#[test]
fn kv_cache_logits_match_full_forward() {
    let network = tiny_network(11);
    let model = network.model();
    let seq: Vec<u32> = vec![3, 1, 4, 1, 5, 9, 2, 6];
    let full: Vec<Vec<f32>> = model
        .forward(&Model::tokens_tensor(std::slice::from_ref(&seq)).unwrap())
        .unwrap()
        .i(0)
        .unwrap()
        .to_vec2()
        .unwrap();
    let mut cache = KvCache::new();
    // A prefill of 3, then one token at a time.
    let first = model
        .forward_cached(
            &Model::tokens_tensor(&[seq[..3].to_vec()]).unwrap(),
            &mut cache,
        )
        .unwrap();
    assert!(max_abs_diff(&first.i(0).unwrap().to_vec1::<f32>().unwrap(), &full[2]) < 1e-5);
    for pos in 3..seq.len() {
        let logits = model
            .forward_cached(
                &Model::tokens_tensor(&[vec![seq[pos]]]).unwrap(),
                &mut cache,
            )
            .unwrap();
        let diff = max_abs_diff(&logits.i(0).unwrap().to_vec1::<f32>().unwrap(), &full[pos]);
        assert!(diff < 1e-5, "position {pos}: {diff}");
    }
    assert_eq!(cache.len(), seq.len());
}

#[test]
fn sampling_is_reproducible_with_a_seed() {
    let network = tiny_network(5);
    let a = network.generate(&prompts(), 8, None, 1.0, 42).unwrap();
    let b = network.generate(&prompts(), 8, None, 1.0, 42).unwrap();
    let c = network.generate(&prompts(), 8, None, 1.0, 43).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.iter().all(|o| o.len() == 8));
    // A prompt's sample does not depend on the other prompts in the call.
    let alone = network.generate(&prompts()[..1], 8, None, 1.0, 42).unwrap();
    assert_eq!(alone[0], a[0]);
    // An untrained model at temperature 1 draws many different tokens.
    let distinct: std::collections::BTreeSet<u32> = a.iter().flatten().copied().collect();
    assert!(distinct.len() > 4, "{distinct:?}");
}

#[test]
fn low_temperature_approaches_greedy() {
    let network = tiny_network(6);
    let greedy = network.generate(&prompts(), 6, None, 0.0, 0).unwrap();
    let cold = network.generate(&prompts(), 6, None, 1e-4, 1).unwrap();
    assert_eq!(greedy, cold);
}

#[test]
fn bad_prompts_and_arguments_are_named() {
    let network = tiny_network(0);
    let check = |prompts: &[Vec<u32>], max_new, stop, temperature: f32, expected: &str| {
        let err = network
            .generate(prompts, max_new, stop, temperature, 0)
            .unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{err} does not contain {expected:?}"
        );
    };
    check(&[vec![1], vec![]], 2, None, 0.0, "prompt 1: is empty");
    check(
        &[vec![1], vec![12]],
        2,
        None,
        0.0,
        "prompt 1: token id 12 is outside the vocabulary of 12",
    );
    check(
        &[vec![1; 10]],
        8,
        None,
        0.0,
        "prompt 0: 10 tokens + 8 new exceed the model's max_seq_len of 16",
    );
    check(&[vec![1]], 2, Some(12), 0.0, "`stop_token`");
    check(&[vec![1]], 2, None, -1.0, "`temperature`");
    check(&[vec![1]], 2, None, f32::NAN, "`temperature`");
    // The longest allowed continuation fills the context exactly.
    let out = network.generate(&[vec![1; 10]], 7, None, 0.0, 0).unwrap();
    assert_eq!(out[0].len(), 7);
    assert_eq!(
        network.generate(&[vec![1]], 0, None, 0.0, 0).unwrap(),
        vec![Vec::<u32>::new()]
    );
    assert!(matches!(
        network.generate(&[vec![]], 1, None, 0.0, 0),
        Err(Error::Prompt { index: 0, .. })
    ));
}

#[test]
fn kv_cache_grows_and_drops_rows_without_changing_results() {
    crate::setup();
    // A context of 40 makes the cache grow twice (16 -> 32 -> 40) while decoding.
    let cfg = autodidact_nn::Config::new(12, 32, 2, 4, 64, 40);
    let network = Network::init(&cfg, 8).unwrap();
    let model = network.model();
    let seqs: Vec<Vec<u32>> = (0..3)
        .map(|r| (0..40).map(|i| ((i * 7 + r * 5) % 12) as u32).collect())
        .collect();
    let full: Vec<Vec<Vec<f32>>> = model
        .forward(&Model::tokens_tensor(&seqs).unwrap())
        .unwrap()
        .to_vec3()
        .unwrap();
    let mut cache = KvCache::new();
    let prefix: Vec<Vec<u32>> = seqs.iter().map(|s| s[..5].to_vec()).collect();
    model
        .forward_cached(&Model::tokens_tensor(&prefix).unwrap(), &mut cache)
        .unwrap();
    let mut rows: Vec<usize> = vec![0, 1, 2];
    for pos in 5..40 {
        if pos == 20 {
            // Drop row 1 half-way, as decoding does when a sample stops.
            rows = vec![0, 2];
            cache
                .select_rows(
                    &candle_core::Tensor::new(&[0u32, 2], &candle_core::Device::Cpu).unwrap(),
                )
                .unwrap();
        }
        let step: Vec<Vec<u32>> = rows.iter().map(|&r| vec![seqs[r][pos]]).collect();
        let logits: Vec<Vec<f32>> = model
            .forward_cached(&Model::tokens_tensor(&step).unwrap(), &mut cache)
            .unwrap()
            .to_vec2()
            .unwrap();
        for (i, &r) in rows.iter().enumerate() {
            let diff = max_abs_diff(&logits[i], &full[r][pos]);
            assert!(diff < 1e-5, "row {r}, position {pos}: {diff}");
        }
    }
    assert_eq!(cache.len(), 40);
    // The context is full: one more position is an error, not a panic.
    assert!(
        model
            .forward_cached(
                &Model::tokens_tensor(&[vec![1], vec![1]]).unwrap(),
                &mut cache
            )
            .is_err()
    );
}

#[test]
fn explicit_sequential_positions_match_the_default() {
    let network = tiny_network(5);
    let positions: Vec<Vec<u32>> = prompts()
        .iter()
        .map(|p| (0..p.len() as u32).collect())
        .collect();
    let default = network.generate(&prompts(), 6, None, 1.0, 9).unwrap();
    let given = network
        .generate_at(&prompts(), &positions, 6, None, 1.0, 9)
        .unwrap();
    assert_eq!(default, given);
}

#[test]
fn given_positions_decode_like_the_full_forward_pass() {
    // Positions that are not the sequence index (an offset, and a repeated id, as digit
    // significance gives): greedy decoding with the cache must equal re-running the whole
    // sequence at its positions, and must differ from sequential positions.
    let network = tiny_network(8);
    let prompt = vec![1u32, 2, 3];
    let pos = vec![7u32, 8, 7];
    let got = network
        .generate_at(std::slice::from_ref(&prompt), std::slice::from_ref(&pos), 5, None, 0.0, 0)
        .unwrap()
        .remove(0);
    let mut seq = prompt.clone();
    let mut seq_pos = pos.clone();
    let mut want = Vec::new();
    for _ in 0..5 {
        let data = autodidact_nn::TrainData::with_positions(
            vec![seq.iter().copied().chain([0]).collect()],
            vec![vec![false; seq.len()].into_iter().chain([true]).collect()],
            vec![seq_pos.iter().copied().chain([0]).collect()],
        )
        .unwrap();
        let batch = data.batch(&[0]).unwrap();
        let bucket = &batch.buckets()[0];
        assert_eq!(
            bucket.positions.as_ref().unwrap().to_vec1::<u32>().unwrap(),
            seq_pos
        );
        let logits = network
            .model()
            .forward_cached_at(
                &bucket.inputs,
                bucket.positions.as_ref(),
                &mut KvCache::new(),
            )
            .unwrap();
        let last: Vec<f32> = logits.i(0).unwrap().to_vec1().unwrap();
        let token =
            (0..last.len()).fold(0, |best, i| if last[i] > last[best] { i } else { best }) as u32;
        want.push(token);
        seq.push(token);
        seq_pos.push(seq_pos.last().unwrap() + 1);
    }
    assert_eq!(got, want);
    let sequential = network
        .generate(std::slice::from_ref(&prompt), 5, None, 0.0, 0)
        .unwrap()
        .remove(0);
    let logits_at = |p: Vec<u32>| {
        network
            .model()
            .forward_cached_at(
                &Model::tokens_tensor(std::slice::from_ref(&prompt)).unwrap(),
                Some(&candle_core::Tensor::new(p, &candle_core::Device::Cpu).unwrap()),
                &mut KvCache::new(),
            )
            .unwrap()
            .to_vec2::<f32>()
            .unwrap()
    };
    assert_ne!(logits_at(vec![7, 8, 7]), logits_at(vec![0, 1, 2]));
    let _ = sequential;
}

#[test]
fn positions_past_the_table_are_refused() {
    let network = tiny_network(1);
    let max = network.config().max_seq_len as u32;
    let err = network
        .generate_at(&[vec![1]], &[vec![max - 1]], 3, None, 0.0, 0)
        .unwrap_err();
    assert!(matches!(err, Error::Prompt { index: 0, .. }), "{err}");
    let err = network
        .generate_at(&[vec![1, 2]], &[vec![0]], 1, None, 0.0, 0)
        .unwrap_err();
    assert!(err.to_string().contains("position ids"), "{err}");
}
