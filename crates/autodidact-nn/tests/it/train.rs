//! Schedule, clipping, AdamW, and the loss falling on a task the model must learn.

use std::ops::ControlFlow;

use autodidact_nn::{
    AdamW, Config, Network, Schedule, TrainConfig, TrainData, Trainer, clip_grad_norm,
};
use candle_core::{Device, Tensor, Var};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{setup, tiny_network};

#[test]
fn schedule_values_at_chosen_steps() {
    let s = Schedule {
        peak_lr: 1e-3,
        min_lr: 1e-4,
        warmup_steps: 10,
        total_steps: 111,
    };
    // (step, expected): linear warm-up, peak, cosine half-way, floor at the end and after.
    let mid = 1e-4 + 0.5 * (1e-3 - 1e-4);
    let quarter = 1e-4 + (1e-3 - 1e-4) * 0.5 * (1.0 + (std::f64::consts::PI / 4.0).cos());
    for (step, expected) in [
        (0, 1e-4),
        (4, 5e-4),
        (9, 1e-3),
        (10, 1e-3),
        (35, quarter),
        (60, mid),
        (110, 1e-4),
        (500, 1e-4),
    ] {
        let got = s.lr(step);
        assert!(
            (got - expected).abs() < 1e-12,
            "step {step}: {got} != {expected}"
        );
    }
    let no_warmup = Schedule {
        peak_lr: 2.0,
        min_lr: 0.0,
        warmup_steps: 0,
        total_steps: 3,
    };
    assert_eq!(
        [no_warmup.lr(0), no_warmup.lr(1), no_warmup.lr(2)],
        [2.0, 1.0, 0.0]
    );
}

fn var(values: &[f32]) -> Var {
    Var::from_tensor(&Tensor::from_vec(values.to_vec(), values.len(), &Device::Cpu).unwrap())
        .unwrap()
}

/// Gradients of `sum(a * ga) + sum(b * gb)`: exactly `ga` and `gb`.
fn grads_for(a: &Var, ga: &[f32], b: &Var, gb: &[f32]) -> candle_core::backprop::GradStore {
    let ta = Tensor::from_vec(ga.to_vec(), ga.len(), &Device::Cpu).unwrap();
    let tb = Tensor::from_vec(gb.to_vec(), gb.len(), &Device::Cpu).unwrap();
    let loss = ((a.as_tensor() * ta).unwrap().sum_all().unwrap()
        + (b.as_tensor() * tb).unwrap().sum_all().unwrap())
    .unwrap();
    loss.backward().unwrap()
}

#[test]
fn gradient_clipping_scales_to_the_bound() {
    setup();
    let (a, b) = (var(&[1.0, 1.0]), var(&[1.0, 1.0]));
    let vars = [a.clone(), b.clone()];
    let get = |g: &candle_core::backprop::GradStore, v: &Var| -> Vec<f32> {
        g.get(v.as_tensor()).unwrap().to_vec1().unwrap()
    };
    // Norm 5 clipped to 1: same direction, norm 1.
    let mut grads = grads_for(&a, &[3.0, 0.0], &b, &[0.0, 4.0]);
    let norm = clip_grad_norm(&vars, &mut grads, 1.0).unwrap();
    assert!((norm - 5.0).abs() < 1e-6);
    assert_eq!(get(&grads, &a), vec![0.6, 0.0]);
    assert_eq!(get(&grads, &b), vec![0.0, 0.8]);
    // Under the bound: untouched.
    let mut grads = grads_for(&a, &[0.3, 0.0], &b, &[0.0, 0.4]);
    let norm = clip_grad_norm(&vars, &mut grads, 1.0).unwrap();
    assert!((norm - 0.5).abs() < 1e-6);
    assert_eq!(get(&grads, &a), vec![0.3, 0.0]);
}

#[test]
fn adamw_first_step_matches_hand_computation() {
    setup();
    // After one step Adam's bias-corrected update is lr * g / (|g| + eps) = lr * sign(g);
    // decoupled decay first multiplies the decayed parameter by 1 - lr * wd.
    let (a, b) = (var(&[1.0, -2.0]), var(&[1.0, -2.0]));
    let cfg = TrainConfig {
        weight_decay: 0.5,
        eps: 1e-12,
        ..TrainConfig::default()
    };
    let mut opt = AdamW::new(vec![(a.clone(), true), (b.clone(), false)], &cfg).unwrap();
    let grads = grads_for(&a, &[0.5, -0.25], &b, &[0.5, -0.25]);
    opt.step(&grads, 0.1).unwrap();
    let got_a: Vec<f32> = a.as_tensor().to_vec1().unwrap();
    let got_b: Vec<f32> = b.as_tensor().to_vec1().unwrap();
    let expect_a = [1.0 * 0.95 - 0.1, -2.0 * 0.95 + 0.1];
    let expect_b = [1.0 - 0.1, -2.0 + 0.1];
    assert!(crate::max_abs_diff(&got_a, &expect_a) < 1e-6, "{got_a:?}");
    assert!(crate::max_abs_diff(&got_b, &expect_b) < 1e-6, "{got_b:?}");
    assert_eq!(opt.steps(), 1);
}

/// The reversal task: `a b c d SEP d c b a` over 8 symbols, loss on the answer only.
fn reversal(n: usize, seed: u64) -> (Vec<Vec<u32>>, Vec<Vec<bool>>) {
    const SEP: u32 = 8;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seqs = Vec::new();
    for _ in 0..n {
        let len = rng.random_range(2..=4);
        let xs: Vec<u32> = (0..len).map(|_| rng.random_range(0..8)).collect();
        let mut s = xs.clone();
        s.push(SEP);
        s.extend(xs.iter().rev());
        seqs.push(s);
    }
    let masks = seqs
        .iter()
        .map(|s| (0..s.len()).map(|i| i > s.len() / 2).collect())
        .collect();
    (seqs, masks)
}

#[test]
fn the_loss_falls_on_reversal_and_the_model_learns_it() {
    setup();
    let cfg = Config::new(9, 32, 2, 2, 64, 12);
    let (seqs, masks) = reversal(2000, 1);
    let data = TrainData::new(seqs, masks).unwrap();
    let train_cfg = TrainConfig {
        lr: 3e-3,
        warmup_steps: 20,
        weight_decay: 0.0,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(Network::init(&cfg, 7).unwrap(), train_cfg).unwrap();
    let mut seen = Vec::new();
    let summary = trainer
        .fit(&data, 800, 32, |s| {
            seen.push(s.step);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(summary.steps, 800);
    assert_eq!(seen, (0..800).collect::<Vec<_>>());
    let first: f32 = summary.losses[..10].iter().sum::<f32>() / 10.0;
    let last: f32 = summary.losses[790..].iter().sum::<f32>() / 10.0;
    assert!(first > 1.5, "initial loss {first} (ln 9 = 2.2 expected)");
    assert!(last < 0.2 * first, "loss fell only from {first} to {last}");
    // Held-out problems, greedy.
    let (test, _) = reversal(200, 99);
    let prompts: Vec<Vec<u32>> = test.iter().map(|s| s[..=s.len() / 2].to_vec()).collect();
    let answers: Vec<Vec<u32>> = test.iter().map(|s| s[s.len() / 2 + 1..].to_vec()).collect();
    let mut correct = 0;
    for (prompt, answer) in prompts.iter().zip(&answers) {
        let out = trainer
            .network()
            .generate(std::slice::from_ref(prompt), answer.len(), None, 0.0, 0)
            .unwrap();
        correct += usize::from(&out[0] == answer);
    }
    assert!(correct >= 180, "only {correct}/200 reversals right");
}

#[test]
fn training_is_reproducible_and_the_callback_can_stop_it() {
    let (seqs, masks) = reversal(100, 2);
    let data = TrainData::new(seqs, masks).unwrap();
    let run = |stop_after: usize| {
        let mut trainer = Trainer::new(
            tiny_network(4),
            TrainConfig {
                seed: 9,
                ..TrainConfig::default()
            },
        )
        .unwrap();
        let summary = trainer
            .fit(&data, 8, 16, |s| {
                if s.step + 1 == stop_after {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        (summary, trainer.steps())
    };
    let (a, steps_a) = run(usize::MAX);
    let (b, _) = run(usize::MAX);
    assert_eq!(a.losses, b.losses);
    assert_eq!(steps_a, 8);
    let (c, steps_c) = run(3);
    assert_eq!((c.steps, steps_c), (3, 3));
    assert_eq!(c.losses[..], a.losses[..3]);
}

#[test]
fn bad_training_input_is_a_clear_error() {
    let mut trainer = Trainer::new(tiny_network(0), TrainConfig::default()).unwrap();
    let cont = |_: &autodidact_nn::StepStats| ControlFlow::Continue(());
    let data = TrainData::new(vec![vec![1, 2], vec![1, 12]], vec![vec![false, true]; 2]).unwrap();
    let err = trainer.fit(&data, 1, 2, cont).unwrap_err().to_string();
    assert_eq!(
        err,
        "training sequence 1: token id 12 is outside the vocabulary of 12"
    );
    let data = TrainData::new(
        vec![vec![1; 18]],
        vec![
            vec![true; 18]
                .into_iter()
                .enumerate()
                .map(|(i, _)| i > 0)
                .collect(),
        ],
    )
    .unwrap();
    let err = trainer.fit(&data, 1, 2, cont).unwrap_err().to_string();
    assert!(err.contains("training sequence 0: has 18 tokens"), "{err}");
    let data = TrainData::new(vec![vec![1, 2]], vec![vec![false, true]]).unwrap();
    assert!(trainer.fit(&data, 1, 0, cont).is_err());
    assert!(trainer.fit(&TrainData::default(), 1, 1, cont).is_err());
    let bad = TrainConfig {
        beta2: 1.0,
        ..TrainConfig::default()
    };
    let err = Trainer::new(tiny_network(0), bad)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("`beta2`"), "{err}");
}

#[test]
fn default_configs_round_trip_through_toml() {
    let train = TrainConfig::default();
    let text = toml::to_string(&train).unwrap();
    assert_eq!(toml::from_str::<TrainConfig>(&text).unwrap(), train);
    // Missing keys take their defaults; unknown keys are an error naming the key.
    let partial: TrainConfig = toml::from_str("lr = 0.01").unwrap();
    assert_eq!(
        partial,
        TrainConfig {
            lr: 0.01,
            ..TrainConfig::default()
        }
    );
    let err = toml::from_str::<TrainConfig>("learning_rate = 0.01")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `learning_rate`"), "{err}");
    let model = crate::tiny_config();
    let text = toml::to_string(&model).unwrap();
    assert_eq!(toml::from_str::<Config>(&text).unwrap(), model);
}

#[test]
fn a_sharded_step_updates_as_the_whole_batch_does() {
    let (seqs, masks) = reversal(12, 5);
    let cfg = TrainConfig::default();
    let whole = {
        let mut t = Trainer::new(tiny_network(8), cfg.clone()).unwrap();
        let batch = autodidact_nn::Batch::from_sequences(&seqs, &masks).unwrap();
        let stats = t.train_step(&batch, 1e-2).unwrap();
        (t.into_network(), stats)
    };
    for parts in [2, 3] {
        let mut t = Trainer::new(tiny_network(8), cfg.clone()).unwrap();
        let shards = autodidact_nn::shards(&seqs, &masks, None, parts).unwrap();
        assert_eq!(shards.len(), parts);
        assert_eq!(shards.iter().map(|b| b.n_sequences()).sum::<usize>(), seqs.len());
        let stats = t.train_step_sharded(&shards, 1e-2).unwrap();
        assert_eq!(stats.n_targets, whole.1.n_targets);
        assert!((stats.loss - whole.1.loss).abs() < 1e-5, "{} vs {}", stats.loss, whole.1.loss);
        assert!((stats.grad_norm - whole.1.grad_norm).abs() < 1e-4 * whole.1.grad_norm.max(1.0));
        // AdamW's first step moves each parameter by about ±lr whatever its gradient's size,
        // so a gradient left out would move many parameters the other way; float rounding may
        // flip only the sign of a gradient that is almost 0.
        let network = t.into_network();
        let (mut differ, mut all) = (0usize, 0usize);
        for ((_, a), (_, b)) in network.named_vars().iter().zip(whole.0.named_vars()) {
            let a: Vec<f32> = a.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let b: Vec<f32> = b.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            differ += a.iter().zip(&b).filter(|(x, y)| (*x - *y).abs() > 1e-5).count();
            all += a.len();
        }
        assert!(differ * 1000 < all, "{differ} of {all} parameters differ after a sharded step ({parts} shards)");
    }
    // More shards than sequences: one per sequence.
    assert_eq!(autodidact_nn::shards(&seqs[..2], &masks[..2], None, 4).unwrap().len(), 2);
}
