//! A learning curve of generation 0: how fast the embedded model learns addition of 1..=L0
//! digits, and how far it reaches past L0 without help. A tool for choosing the defaults of
//! `[model]`, `[train]` and `[arithmetic]`; the run itself does not use it.
//!
//! `cargo run --release -p autodidact-tiny --example probe -- [KEY=VALUE ...]`, keys (with
//! the default run's values as defaults): `d`, `layers`, `heads`, `ff`, `lr`, `min_lr`,
//! `warmup`, `steps`, `batch`, `l0`, `offset`, `real`, `every` (evaluate every N steps), `eval`
//! (problems per length), `seed`. Prints, every `every` steps: seconds, step, and greedy
//! accuracy for each length from 1 to L0 + 3.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Instant;

use autodidact_nn::Network;
use autodidact_tiny::ArithmeticConfig;
use autodidact_tiny::arithmetic::{draw_distinct, to_decimal};
use autodidact_tiny::grade::answer;
use autodidact_tiny::eval::{EvalSet, accuracy};
use autodidact_tiny::train::{Example, Mix, fit};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: first thing in main, before any other thread exists.
    unsafe { autodidact_nn::set_thread_defaults() };
    let args: HashMap<String, String> = std::env::args()
        .skip(1)
        .filter_map(|a| a.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let get = |k: &str, d: f64| args.get(k).map_or(d, |v| v.parse().expect("a number"));
    let mut cfg = ArithmeticConfig::default();
    let m = &mut cfg.model;
    m.d_model = get("d", m.d_model as f64) as usize;
    m.n_layers = get("layers", m.n_layers as f64) as usize;
    m.n_heads = get("heads", m.n_heads as f64) as usize;
    m.d_ff = get("ff", m.d_ff as f64) as usize;
    let t = &mut cfg.train;
    t.lr = get("lr", t.lr);
    t.min_lr = get("min_lr", t.min_lr);
    t.warmup_steps = get("warmup", t.warmup_steps as f64) as usize;
    t.base_steps = get("steps", t.base_steps as f64) as usize;
    t.batch_size = get("batch", t.batch_size as f64) as usize;
    let a = &mut cfg.arithmetic;
    a.start_length = get("l0", a.start_length as f64) as usize;
    a.max_offset = get("offset", f64::from(a.max_offset)) as u32;
    a.real_problems = get("real", a.real_problems as f64) as usize;
    let every = get("every", 250.0) as usize;
    let per_length = get("eval", 100.0) as usize;
    let seed = get("seed", 42.0) as u64;
    let l0 = cfg.arithmetic.start_length;

    let mut rng = StdRng::seed_from_u64(seed);
    let eval = EvalSet::draw(l0 + 3, per_length, &mut rng);
    let held_out = eval.problems();
    let mut mix = Mix::new();
    for n in 1..=l0 {
        for problem in draw_distinct(cfg.arithmetic.real_problems / l0, n, &held_out, &mut rng) {
            let answer = problem.sum();
            mix.push(Example { problem, answer });
        }
    }
    let network = Network::init(&cfg.nn_config(), seed)?;
    println!(
        "{} parameters; {} real problems of 1..={l0} digits; {:?} {:?}",
        network.n_params(),
        mix.len(),
        cfg.model,
        cfg.train
    );
    let started = Instant::now();
    let mut training = 0.0;
    let mut last = Instant::now();
    let (network, stats) = fit(
        network,
        &mix,
        cfg.train.base_steps,
        cfg.train.batch_size,
        cfg.arithmetic.max_offset,
        (cfg.train.lr, cfg.train.min_lr, cfg.train.warmup_steps),
        seed,
        2,
        &mut |step, network: &Network| {
            if (step + 1) % every == 0 {
                training += last.elapsed().as_secs_f64();
                let acc = accuracy(network, &eval).expect("evaluation");
                let acc: Vec<String> = acc
                    .iter()
                    .map(|a| format!("{}:{:.0}", a.length, 100.0 * a.accuracy))
                    .collect();
                println!(
                    "{:7.1}s  step {:5}  ({:.1} steps/s)  {}",
                    started.elapsed().as_secs_f64(),
                    step + 1,
                    (step + 1) as f64 / training,
                    acc.join(" ")
                );
                last = Instant::now();
            }
            ControlFlow::Continue(())
        },
    )?;
    println!("loss {:.4} -> {:.4}", stats.first_loss, stats.last_loss);
    let show = get("show", 12.0) as usize;
    for (n, problems) in &eval.by_length[l0..] {
        let problems = &problems[..show.min(problems.len())];
        let answers = answer(&network, problems, 0, 0.0, 0)?;
        let shown: Vec<String> = problems
            .iter()
            .zip(&answers)
            .map(|(p, a)| format!("{p}{a} ({})", to_decimal(&p.sum())))
            .collect();
        println!("length {n}: {}", shown.join("  "));
    }
    Ok(())
}
