//! Real text for a collapse run: the character vocabulary, the block split into training and
//! held-out text, the training mix of real windows and synthetic samples, sampling, and the
//! held-out loss.

use std::ops::ControlFlow;
use std::path::Path;

use autodidact_nn::Network;
use rand::rngs::StdRng;
use rand::Rng;

use crate::TinyError;
use crate::train::{FitStats, StepBatch, train_steps};

/// Most distinct characters a text may have (the model is character-level).
pub const MAX_VOCAB: usize = 1024;

/// The characters of the text, each a token id (sorted, so the same text gives the same ids).
#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    chars: Vec<char>,
}

impl Vocab {
    /// The vocabulary of `text`.
    pub fn of(text: &str) -> Vocab {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocab { chars }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether it has no tokens.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The token of `c`, if the text has it.
    pub fn token(&self, c: char) -> Option<u32> {
        self.chars.binary_search(&c).ok().map(|i| i as u32)
    }

    /// Tokens of `text`; characters outside the vocabulary are skipped.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        text.chars().filter_map(|c| self.token(c)).collect()
    }

    /// The text of `tokens`.
    pub fn decode(&self, tokens: &[u32]) -> String {
        tokens.iter().filter_map(|&t| self.chars.get(t as usize)).collect()
    }
}

/// The real text, cut once into contiguous blocks: every `held_out_every`-th block is held out.
#[derive(Debug, Clone)]
pub struct Split {
    /// The training blocks, in order, joined.
    pub train: String,
    /// The held-out blocks, in order, joined.
    pub held_out: String,
}

impl Split {
    /// Splits `text` into blocks of `block_chars` characters; block `i` (from 0) is held out
    /// when `(i + 1) % held_out_every == 0`.
    pub fn new(text: &str, block_chars: usize, held_out_every: usize) -> Split {
        let chars: Vec<char> = text.chars().collect();
        let (mut train, mut held_out) = (String::new(), String::new());
        for (i, block) in chars.chunks(block_chars.max(1)).enumerate() {
            let into = if (i + 1) % held_out_every == 0 { &mut held_out } else { &mut train };
            into.extend(block);
        }
        Split { train, held_out }
    }
}

/// Reads the real text; errors name the file.
pub fn read_text(path: &Path) -> Result<String, TinyError> {
    let bad = |message: String| TinyError::Text {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| {
        let relative = match std::env::current_dir() {
            Ok(cwd) if path.is_relative() => format!(", relative to the working directory '{}'", cwd.display()),
            _ => String::new(),
        };
        bad(format!(
            "{e}{relative}; set `text.path` in a config (the built-in scenarios read ../shared/data/tinyshakespeare.txt: run them from the repository's root)"
        ))
    })?;
    String::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8 (invalid byte at offset {})", e.utf8_error().valid_up_to())))
}

/// What one generation trains on: real text (windows drawn anywhere in it) and synthetic
/// samples (each a whole sequence), with the share of each batch drawn from the real text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Corpus<'a> {
    /// Real tokens.
    pub real: &'a [u32],
    /// Synthetic samples, each starting with the prompt token.
    pub synthetic: &'a [Vec<u32>],
    /// Chance that a sequence of a batch is a real window. `None`: in proportion to size.
    pub real_fraction: Option<f64>,
}

impl Corpus<'_> {
    /// Characters of synthetic text.
    pub fn synthetic_chars(&self) -> usize {
        self.synthetic.iter().map(|s| s.len().saturating_sub(1)).sum()
    }

    /// The chance that a sequence is a real window.
    pub fn real_share(&self) -> f64 {
        match self.real_fraction {
            _ if self.synthetic.is_empty() => 1.0,
            _ if self.real.len() < 2 => 0.0,
            Some(f) => f,
            None => self.real.len() as f64 / (self.real.len() + self.synthetic_chars()) as f64,
        }
    }

    fn draw(&self, window: usize, rng: &mut StdRng) -> Vec<u32> {
        if rng.random_bool(self.real_share().clamp(0.0, 1.0)) {
            let len = window.min(self.real.len());
            let start = rng.random_range(0..=self.real.len() - len);
            self.real[start..start + len].to_vec()
        } else {
            let s = &self.synthetic[rng.random_range(0..self.synthetic.len())];
            s[..s.len().min(window)].to_vec()
        }
    }
}

/// Trains `network` for `steps` steps on `corpus` (sequences of up to `max_seq_len + 1`
/// tokens, every token after the first carrying loss), each step's batch in `shards` shards
/// trained side by side (data parallel; 1 for none). `on_step` may stop it
/// ([`TinyError::Interrupted`]).
pub fn fit_text(
    network: Network,
    corpus: &Corpus<'_>,
    train: &super::config::TrainSection,
    seed: u64,
    shards: usize,
    on_step: &mut dyn FnMut() -> ControlFlow<()>,
) -> Result<(Network, FitStats), TinyError> {
    if corpus.real.len() < 2 && corpus.synthetic.iter().all(|s| s.len() < 2) {
        return Err(TinyError::RunDir("nothing to train on: the corpus is empty".into()));
    }
    let window = network.config().max_seq_len + 1;
    let schedule = (train.lr, train.min_lr, train.warmup_steps);
    train_steps(network, train.steps, schedule, seed, shards, &mut |rng| {
        let mut seqs = Vec::with_capacity(train.batch_size);
        while seqs.len() < train.batch_size {
            let s = corpus.draw(window, rng);
            if s.len() >= 2 {
                seqs.push(s);
            }
        }
        let masks = seqs.iter().map(|s| (0..s.len()).map(|i| i > 0).collect()).collect();
        StepBatch { seqs, masks, positions: None }
    }, &mut |_, _| on_step())
}

/// `count` samples from `network`, each the prompt token followed by `max_seq_len` tokens
/// drawn at `temperature` (tokens, prompt included).
pub fn sample(network: &Network, prompt: u32, count: usize, temperature: f32, seed: u64) -> Result<Vec<Vec<u32>>, TinyError> {
    let new = network.config().max_seq_len;
    let prompts = vec![vec![prompt]; count];
    let out = network.generate(&prompts, new, None, temperature, seed)?;
    Ok(out
        .into_iter()
        .map(|mut s| {
            s.insert(0, prompt);
            s
        })
        .collect())
}

/// `count` evenly spaced windows of `window` tokens of `tokens` (fewer when it is short).
pub fn eval_windows(tokens: &[u32], window: usize, count: usize) -> Vec<Vec<u32>> {
    if tokens.len() < window || count == 0 {
        return if tokens.len() >= 2 { vec![tokens.to_vec()] } else { Vec::new() };
    }
    let span = tokens.len() - window;
    let count = count.min(span + 1);
    (0..count)
        .map(|i| {
            let start = if count == 1 { 0 } else { i * span / (count - 1) };
            tokens[start..start + window].to_vec()
        })
        .collect()
}

/// Mean loss of `rows` in bits per character (each row's loss over its tokens after the first).
pub fn bits_per_char(network: &Network, rows: &[Vec<u32>]) -> Result<f64, TinyError> {
    let losses = network.row_losses(rows)?;
    let (mut total, mut n) = (0.0, 0usize);
    for (row, loss) in rows.iter().zip(&losses) {
        total += loss * (row.len() - 1) as f64;
        n += row.len() - 1;
    }
    Ok(total / n.max(1) as f64 / std::f64::consts::LN_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_by_contiguous_blocks_and_loses_nothing() {
        let text: String = ('a'..='z').collect();
        let s = Split::new(&text, 3, 4);
        // Blocks: abc def ghi JKL mno pqr stu VWX yz
        assert_eq!(s.held_out, "jklvwx");
        assert_eq!(s.train, "abcdefghimnopqrstuyz");
        assert_eq!(s.train.len() + s.held_out.len(), text.len());
    }

    #[test]
    fn the_vocabulary_round_trips_and_skips_the_unknown() {
        let v = Vocab::of("hello, wörld\n");
        assert_eq!(v.len(), 11);
        assert_eq!(v.decode(&v.encode("low wold")), "low wold");
        assert_eq!(v.decode(&v.encode("lqw")), "lw");
        assert_eq!(v.token('\n'), Some(0));
    }

    #[test]
    fn windows_are_evenly_spaced_and_the_real_share_follows_the_mix() {
        let tokens: Vec<u32> = (0..100).collect();
        let w = eval_windows(&tokens, 10, 4);
        assert_eq!(w.len(), 4);
        assert_eq!(w[0][0], 0);
        assert_eq!(w[3][9], 99);
        assert_eq!(w[1][0], 30);
        let synthetic = vec![vec![0; 51]; 2];
        let mut c = Corpus { real: &tokens, synthetic: &synthetic, real_fraction: None };
        assert!((c.real_share() - 0.5).abs() < 1e-9);
        c.real_fraction = Some(0.25);
        assert_eq!(c.real_share(), 0.25);
        c.synthetic = &[];
        assert_eq!(c.real_share(), 1.0);
    }
}
