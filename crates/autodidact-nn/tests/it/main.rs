//! Integration tests of `autodidact-nn`, one binary with modules by theme.

mod batch;
mod checkpoint;
mod model;
mod ops;
mod sample;
mod train;

use std::sync::Once;

use autodidact_nn::{Config, Network};

/// Pins candle and rayon to one thread. Every test calls this first: both pools read their
/// variable once, at first use, and tests run in parallel, where candle's busy-waiting pool
/// would make two threads slower than one.
pub fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: runs before any tensor work in this process, and every test thread waits on
        // this `Once` before touching candle or the environment.
        unsafe {
            std::env::set_var("RAYON_NUM_THREADS", "1");
            std::env::set_var("CANDLE_NUM_THREADS", "1");
        }
    });
}

/// A small model: vocab 12, d 32, 2 layers, 4 heads, d_ff 64, context 16.
pub fn tiny_config() -> Config {
    Config::new(12, 32, 2, 4, 64, 16)
}

/// A freshly initialised [`tiny_config`] network.
pub fn tiny_network(seed: u64) -> Network {
    setup();
    Network::init(&tiny_config(), seed).unwrap()
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
