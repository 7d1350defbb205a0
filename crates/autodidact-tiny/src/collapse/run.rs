//! The loop of a collapse run, its run directory, and resume.
//!
//! ```text
//! DIR/
//!   config.toml, run.db             as every run (stage state: `base` and one per arm)
//!   generations/000/                generation 0: trained on real text
//!     generated.parquet, metrics.json    its samples (graded by their own loss), measurements
//!   generations/NNN/ARM/            each later generation, per arm
//!     curated.parquet               the previous generation's samples this one took in
//!     rejected.parquet              (curated arm) those it did not, with the reason
//!     generated.parquet             what this generation's model wrote
//!     metrics.json
//!   models/base/, models/ARM/NNN/   checkpoints: generation 0 and each arm's latest
//!   dataset.parquet, dataset.jsonl  the synthetic text the curated arm kept (or the first arm's)
//!   summary.json, report.html
//! ```
//!
//! Every generation trains a new model from scratch with the same budget. A generation of an
//! arm is done when its stage is marked in `run.db`; a resumed run reads it back (its intake,
//! samples and metrics) and goes on where it stopped. Every random choice is seeded from the
//! config's seed, so a resumed run ends where an uninterrupted one would.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use autodidact_data::{Record, RecordWriter, Verdict, open_records, write_records};
use autodidact_monitor::{Decision, Observation, Reference, Status, excerpts, measure};
use autodidact_nn::Network;
use autodidact_pipeline::Progress;
use autodidact_store::RunStore;

use super::config::{CollapseArm, CollapseConfig, TASK};
use super::curate::{SampleCurator, rejections, sample_record};
use super::summary::{ArmSummary, Findings, GenerationMetrics, StopRecord, Summary, TextInfo};
use super::text::{Corpus, MAX_VOCAB, Split, Vocab, bits_per_char, eval_windows, fit_text, read_text, sample};
use crate::TinyError;
use crate::rundir::{open_run_dir, run_arms, BASE_SHARDS, create_dir, derive, generation_dir, on_one_thread, read_json, write_text};

/// Stage name of generation 0 in `run.db`.
const BASE_STAGE: &str = "base";
/// Samples shown per generation in the summary and report.
const EXCERPTS: usize = 3;

/// What every arm shares: the text, the split, the reference, generation 0.
struct Shared<'a> {
    cfg: &'a CollapseConfig,
    out: &'a Path,
    store: &'a RunStore,
    vocab: Vocab,
    real: Vec<u32>,
    held_out: Vec<Vec<u32>>,
    reference: Reference,
    prompt: u32,
    samples_per_generation: usize,
    progress: &'a dyn Progress,
}

/// Runs (or resumes) the collapse loop of `cfg` in `out`. `cancel` stops it between training
/// steps ([`TinyError::Interrupted`]); finished generations are kept.
pub fn run(
    cfg: &CollapseConfig,
    out: &Path,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Summary, TinyError> {
    let started = Instant::now();
    cfg.validate().map_err(|message| TinyError::Config {
        path: out.join("config.toml"),
        message,
    })?;
    let path = &cfg.text.path;
    let text = read_text(path)?;
    let bad_text = |message: String| TinyError::Text {
        path: path.clone(),
        message,
    };
    let vocab = Vocab::of(&text);
    if vocab.len() > MAX_VOCAB {
        return Err(bad_text(format!(
            "it has {} distinct characters; the character-level model takes at most {MAX_VOCAB}",
            vocab.len()
        )));
    }
    let split = Split::new(&text, cfg.text.block_chars, cfg.text.held_out_every);
    let window = cfg.model.max_seq_len + 1;
    let train_text: String = split.train.chars().take(cfg.text.train_chars).collect();
    let train_len = train_text.chars().count();
    let held_len = split.held_out.chars().count();
    if train_len < cfg.text.train_chars || held_len < window {
        return Err(bad_text(format!(
            "{} characters split into {train_len} of training text (`text.train_chars` asks for {}) and {held_len} held out (at least {window} needed); use a longer text or lower `text.train_chars` / `text.block_chars`",
            text.chars().count(),
            cfg.text.train_chars
        )));
    }
    let real = vocab.encode(&train_text);
    let held_out = eval_windows(&vocab.encode(&split.held_out), window, cfg.text.eval_windows);
    let reference = Reference::new(&split.held_out);
    let samples_per_generation = cfg.text.train_chars.div_ceil(cfg.model.max_seq_len);
    let real_text = measure(
        &reference,
        &excerpts(&train_text, samples_per_generation, cfg.model.max_seq_len),
    );
    let store = open_run_dir(&cfg.to_toml(), out)?;
    let prompt = vocab.token('\n').unwrap_or(0);
    let shared = Shared {
        cfg,
        out,
        store: &store,
        vocab,
        real,
        held_out,
        reference,
        prompt,
        samples_per_generation,
        progress,
    };
    let (base, base_samples, parameters) = shared.base_generation(cancel)?;

    let (shared_ref, base_ref, samples_ref) = (&shared, &base, &base_samples);
    let arms = match run_arms(&cfg.run.arms, cancel, |arm, stop| shared_ref.arm(arm, base_ref, samples_ref, stop)) {
        Ok(arms) => arms,
        Err(e) => {
            let _ = store.flush();
            return Err(e);
        }
    };
    let findings = Findings::new(&arms);
    let summary = Summary {
        task: TASK.into(),
        seed: cfg.run.seed,
        generations: cfg.run.generations,
        parameters,
        text: TextInfo {
            path: path.display().to_string(),
            chars: text.chars().count(),
            vocab: shared.vocab.len(),
            train_split_chars: split.train.chars().count(),
            held_out_chars: held_len,
            train_chars: train_len,
            real_text,
        },
        arms,
        findings,
        seconds: started.elapsed().as_secs_f64(),
    };
    write_text(&out.join("summary.json"), &serde_json::to_string_pretty(&summary).expect("summary serializes"))?;
    write_dataset(cfg, out)?;
    write_text(&out.join("report.html"), &super::report::render(cfg, &summary))?;
    store.flush()?;
    Ok(summary)
}


impl Shared<'_> {
    /// Generation 0: trains (or reloads) the model on real text, samples from it and
    /// measures both. Returns the model, its samples and its parameter count.
    fn base_generation(&self, cancel: &AtomicBool) -> Result<(GenerationMetrics, Vec<Record>, usize), TinyError> {
        let dir = generation_dir(self.out, 0);
        let samples_path = dir.join("generated.parquet");
        if self.store.stage_done(0, BASE_STAGE)? {
            self.progress.note("generation 0 is done: reusing its samples");
            let metrics: GenerationMetrics = read_json(&dir.join("metrics.json"))?;
            let samples = read_records(&samples_path)?;
            let parameters = Network::load(&self.out.join("models").join("base"))?.n_params();
            return Ok((metrics, samples, parameters));
        }
        let corpus = Corpus {
            real: &self.real,
            synthetic: &[],
            real_fraction: None,
        };
        // Alone on the machine: data-parallel training steps, one-thread decoding (the fastest).
        let (network, metrics, samples) = on_one_thread(|| {
            self.generation(0, "base", &corpus, "generation 0 · real text", BASE_SHARDS, &|| cancel.load(Ordering::Relaxed))
        })?;
        let parameters = network.n_params();
        network.save(&self.out.join("models").join("base"))?;
        create_dir(&dir)?;
        write_records(&samples_path, &samples)?;
        write_text(&dir.join("metrics.json"), &serde_json::to_string_pretty(&metrics).expect("metrics serialize"))?;
        self.store.mark_stage_done(0, BASE_STAGE)?;
        Ok((metrics, samples, parameters))
    }

    /// Trains a model from scratch on `corpus`, measures it on held-out real text, samples
    /// from it and measures its samples; the decision is left for the caller.
    fn generation(
        &self,
        g: usize,
        arm: &str,
        corpus: &Corpus<'_>,
        label: &str,
        shards: usize,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<(Network, GenerationMetrics, Vec<Record>), TinyError> {
        let started = Instant::now();
        let cfg = self.cfg;
        let seed = cfg.run.seed;
        let arm_tag = arm_tag(arm);
        let bar = self.progress.start(label, cfg.train.steps as u64 + 2);
        // Every generation starts from the same initial weights: only the data differs.
        let network = Network::init(&cfg.nn_config(self.vocab.len()), derive(seed, &[3]))?;
        let (network, train) = fit_text(network, corpus, &cfg.train, derive(seed, &[4, g as u64, arm_tag]), shards, &mut || {
            bar.inc(1);
            if stop() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })?;
        let real_loss = bits_per_char(&network, &self.held_out)?;
        bar.inc(1);
        let tokens = sample(
            &network,
            self.prompt,
            self.samples_per_generation,
            cfg.text.temperature,
            derive(seed, &[6, g as u64, arm_tag]),
        )?;
        let own: Vec<f64> = network
            .row_losses(&tokens)?
            .into_iter()
            .map(|l| l / std::f64::consts::LN_2)
            .collect();
        bar.inc(1);
        bar.finish();
        let model = format!("tiny/{arm}/generation-{g}");
        let records: Vec<Record> = tokens
            .iter()
            .zip(&own)
            .map(|(t, &l)| sample_record(&self.vocab.decode(&t[1..]), l, g, &model))
            .collect();
        let texts: Vec<&str> = records.iter().map(|r| r.response.as_str()).collect();
        let text = measure(&self.reference, &texts);
        let metrics = GenerationMetrics {
            generation: g,
            real_chars: if corpus.real_share() > 0.0 { corpus.real.len() } else { 0 },
            synthetic_chars: corpus.synthetic_chars(),
            real_share: corpus.real_share(),
            train,
            real_loss,
            self_loss: own.iter().sum::<f64>() / own.len().max(1) as f64,
            text,
            decision: Decision {
                status: Status::Go,
                reasons: Vec::new(),
            },
            kept: records.len(),
            rejected: Default::default(),
            excerpts: texts.iter().take(EXCERPTS).map(|s| s.to_string()).collect(),
            seconds: started.elapsed().as_secs_f64(),
        };
        Ok((network, metrics, records))
    }

    /// One arm's generations after generation 0, until the last or a stop.
    fn arm(
        &self,
        arm: CollapseArm,
        base: &GenerationMetrics,
        base_samples: &[Record],
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<ArmSummary, TinyError> {
        let cfg = self.cfg;
        let name = arm.name();
        let base_obs = Observation {
            real_loss: Some(base.real_loss),
            text: base.text.clone(),
        };
        let mut done = vec![base.clone()];
        let mut previous: Vec<Record> = base_samples.to_vec();
        // The synthetic text the arm trains on: every intake so far (replace: the latest only).
        let mut pool: Vec<Vec<u32>> = Vec::new();
        let mut curator = (arm == CollapseArm::Curated).then(|| SampleCurator::new(&cfg.curate));
        let models = self.out.join("models").join(name);
        let mut stopped = None;
        for g in 1..=cfg.run.generations {
            let dir = generation_dir(self.out, g).join(name);
            if self.store.stage_done(g as u32, name)? {
                let kept = read_records(&dir.join("curated.parquet"))?;
                if let Some(c) = curator.as_mut() {
                    c.remember(&kept);
                }
                pool.extend(kept.iter().map(|r| self.tokens(r)));
                previous = read_records(&dir.join("generated.parquet"))?;
                let metrics: GenerationMetrics = read_json(&dir.join("metrics.json"))?;
                let status = metrics.decision.status;
                let reasons = metrics.decision.reasons.clone();
                done.push(metrics);
                if status == Status::Stop {
                    stopped = Some(StopRecord { generation: g, reasons });
                    break;
                }
                continue;
            }
            // What this generation takes in of the previous one's samples.
            let (kept, rejected) = match curator.as_mut() {
                Some(c) => c.curate(previous).into_iter().partition(|r| r.verdict == Verdict::Kept),
                None => (previous, Vec::new()),
            };
            let intake: Vec<Vec<u32>> = kept.iter().map(|r| self.tokens(r)).collect();
            let corpus = match arm {
                CollapseArm::Replace => {
                    pool = intake;
                    Corpus {
                        real: &[],
                        synthetic: &pool,
                        real_fraction: Some(0.0),
                    }
                }
                CollapseArm::Accumulate | CollapseArm::Curated => {
                    pool.extend(intake);
                    Corpus {
                        real: &self.real,
                        synthetic: &pool,
                        real_fraction: (arm == CollapseArm::Curated).then_some(cfg.curate.real_fraction),
                    }
                }
            };
            let label = format!("generation {g} · {name}");
            let (network, mut metrics, samples) = self.generation(g, name, &corpus, &label, 1, stop)?;
            metrics.rejected = rejections(&rejected);
            metrics.kept = kept.len();
            metrics.decision = cfg.monitor.decide(
                &base_obs,
                &Observation {
                    real_loss: Some(metrics.real_loss),
                    text: metrics.text.clone(),
                },
            );
            create_dir(&dir)?;
            write_records(&dir.join("curated.parquet"), &kept)?;
            if curator.is_some() {
                write_records(&dir.join("rejected.parquet"), &rejected)?;
            }
            write_records(&dir.join("generated.parquet"), &samples)?;
            network.save(&models.join(format!("{g:03}")))?;
            write_text(&dir.join("metrics.json"), &serde_json::to_string_pretty(&metrics).expect("metrics serialize"))?;
            self.store.mark_stage_done(g as u32, name)?;
            if g > 1 {
                let _ = std::fs::remove_dir_all(models.join(format!("{:03}", g - 1)));
            }
            previous = samples;
            let status = metrics.decision.status;
            let reasons = metrics.decision.reasons.clone();
            done.push(metrics);
            if status == Status::Stop {
                self.progress.note(&format!("{name}: the monitor stopped this arm at generation {g}: {}", reasons.join("; ")));
                stopped = Some(StopRecord { generation: g, reasons });
                break;
            }
        }
        Ok(ArmSummary {
            arm: name.into(),
            generations: done,
            stopped,
        })
    }

    /// A sample record's tokens, the prompt first.
    fn tokens(&self, r: &Record) -> Vec<u32> {
        let mut t = vec![self.prompt];
        t.extend(self.vocab.encode(&r.response));
        t
    }
}

fn arm_tag(arm: &str) -> u64 {
    CollapseArm::ALL.iter().position(|a| a.name() == arm).map_or(99, |i| i as u64)
}

fn read_records(path: &Path) -> Result<Vec<Record>, TinyError> {
    let mut out = Vec::new();
    for r in open_records(path)? {
        out.push(r?);
    }
    Ok(out)
}

/// Writes `dataset.parquet` and `dataset.jsonl`: the synthetic text the curated arm kept over
/// its generations (or the first arm's intake, without a curated arm).
fn write_dataset(cfg: &CollapseConfig, out: &Path) -> Result<(), TinyError> {
    let arm = if cfg.run.arms.contains(&CollapseArm::Curated) {
        CollapseArm::Curated
    } else {
        cfg.run.arms[0]
    };
    let sources: Vec<_> = (1..=cfg.run.generations)
        .map(|g| generation_dir(out, g).join(arm.name()).join("curated.parquet"))
        .filter(|p| p.is_file())
        .collect();
    for name in ["dataset.parquet", "dataset.jsonl"] {
        let mut w = RecordWriter::create(&out.join(name))?;
        for src in &sources {
            for r in open_records(src)? {
                w.write(&r?)?;
            }
        }
        w.finish()?;
    }
    Ok(())
}
