//! Measures curation throughput on synthetic records.
//!
//! `cargo run --release -p autodidact-curate --example throughput -- [records] [words]`
//! (defaults: 100000 records of about 100 words, one in ten a near copy of an earlier one).

use std::time::Instant;

use autodidact_curate::{CurateConfig, Curator};
use autodidact_data::Record;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let words: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let vocab: Vec<String> = (0..20_000).map(|i| format!("w{i:x}")).collect();
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut records = Vec::with_capacity(n);
    let mut texts: Vec<String> = Vec::with_capacity(n);
    for i in 0..n {
        let text = if i % 10 == 9 && i > 10 {
            // A near copy: an earlier text with its last word changed.
            let src = &texts[(next() as usize) % i];
            format!("{} changed{i}", src.rsplit_once(' ').map_or(src.as_str(), |x| x.0))
        } else {
            let len = words / 2 + (next() as usize) % words;
            (0..len).map(|_| vocab[(next() as usize) % vocab.len()].as_str()).collect::<Vec<_>>().join(" ")
        };
        let mut r = Record::new(format!("prompt {i}"), text.clone(), None);
        r.score = Some(0.7 + (i % 30) as f64 / 100.0);
        records.push(r);
        texts.push(text);
    }
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    let mut curator = Curator::new(&CurateConfig::default()).expect("default config");
    let start = Instant::now();
    let out = curator.curate(records);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} records ({:.1} MB) in {secs:.2}s: {:.0} records/s on {} threads; kept {}, {:?}",
        bytes as f64 / 1e6,
        n as f64 / secs,
        rayon::current_num_threads(),
        out.iter().filter(|r| r.verdict == autodidact_data::Verdict::Kept).count(),
        curator.stats().rejected_by
    );
}
