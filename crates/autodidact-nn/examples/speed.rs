//! Training and sampling throughput of the embedded model at the size issue 3 benchmarks:
//! d_model 128, 4 layers, 4 heads, d_ff 512, batch 64 × 64 tokens.
//!
//! `cargo run --release -p autodidact-nn --example speed`. Threads: `RAYON_NUM_THREADS`
//! (default all cores) and `CANDLE_NUM_THREADS` (default 1, by
//! `autodidact_nn::set_thread_defaults`); `SPEED_STEPS` sets the number of timed training steps
//! (default 20).

use std::time::Instant;

use autodidact_nn::{Batch, Config, Network, TrainConfig, Trainer, shards};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn main() -> autodidact_nn::Result<()> {
    // SAFETY: first thing in main, before any other thread exists.
    unsafe { autodidact_nn::set_thread_defaults() };
    let (batch, seq, vocab) = (64, 64, 16);
    let cfg = Config::new(vocab, 128, 4, 4, 512, seq);
    let steps: usize = std::env::var("SPEED_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let network = Network::init(&cfg, 0)?;
    println!(
        "model: {} parameters, d_model {}, {} layers, {} heads; {} matmul threads, CANDLE_NUM_THREADS={}",
        network.n_params(),
        cfg.d_model,
        cfg.n_layers,
        cfg.n_heads,
        autodidact_nn::num_threads(),
        std::env::var("CANDLE_NUM_THREADS").unwrap_or_default()
    );
    let mut rng = StdRng::seed_from_u64(1);
    // seq + 1 tokens give seq input positions; loss on every predicted position.
    let seqs: Vec<Vec<u32>> = (0..batch)
        .map(|_| {
            (0..=seq)
                .map(|_| rng.random_range(0..vocab as u32))
                .collect()
        })
        .collect();
    let mut masks = vec![vec![true; seq + 1]; batch];
    masks.iter_mut().for_each(|m| m[0] = false);
    // With more than one thread, data parallel: the batch in one shard per thread, each
    // shard's forward and backward on its own thread (`Trainer::train_step_sharded`).
    let parts = autodidact_nn::num_threads().max(1);
    let data = if parts > 1 {
        shards(&seqs, &masks, None, parts)?
    } else {
        vec![Batch::from_sequences(&seqs, &masks)?]
    };
    println!("training: {} shard(s) per step", data.len());
    let mut trainer = Trainer::new(network, TrainConfig::default())?;
    trainer.train_step_sharded(&data, 1e-3)?; // warm-up: first-use allocations, thread pools
    let start = Instant::now();
    let mut loss = 0.0;
    for _ in 0..steps {
        loss = trainer.train_step_sharded(&data, 1e-3)?.loss;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "training: {:.2} steps/s, {:.0} tokens/s (batch {batch} x {seq}, {steps} steps; last loss {loss:.9}, \
         the same for every thread count up to float rounding)",
        steps as f64 / secs,
        (steps * batch * seq) as f64 / secs
    );
    let network = trainer.into_network();
    for (prompt_len, new) in [(8, 5), (32, 32)] {
        let prompts: Vec<Vec<u32>> = (0..batch)
            .map(|_| {
                (0..prompt_len)
                    .map(|_| rng.random_range(0..vocab as u32))
                    .collect()
            })
            .collect();
        network.generate(&prompts, new, None, 1.0, 0)?;
        let rounds: usize = 5;
        let start = Instant::now();
        for r in 0..rounds {
            network.generate(&prompts, new, None, 1.0, r as u64)?;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "sampling: {:.0} samples/s, {:.0} new tokens/s (batch {batch}, prompt {prompt_len}, {new} new tokens, KV cache)",
            (rounds * batch) as f64 / secs,
            (rounds * batch * new) as f64 / secs
        );
    }
    Ok(())
}
