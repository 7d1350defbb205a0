//! The loop of an arithmetic run, its run directory, and resume.
//!
//! ```text
//! DIR/
//!   config.toml, run.db             as every run (stage state: `base` and one per arm)
//!   generations/000/                generation 0: the real, labelled problems
//!     generated.parquet, curated.parquet, metrics.json
//!   generations/NNN/ARM/            each later generation, per arm
//!     generated.parquet, graded.parquet, curated.parquet, rejected.parquet, metrics.json
//!   generations/NNN/metrics.json    every arm's measurements of that generation
//!   models/base/, models/ARM/NNN/   checkpoints (safetensors + config.json): generation 0
//!                                   and each arm's latest
//!   dataset.parquet, dataset.jsonl  the self-graded arm's training set: real + kept
//!   summary.json, report.html
//! ```
//!
//! Work is resumed at the granularity of one generation of one arm: a generation whose stage
//! is marked done in `run.db` is read back (checkpoint, kept data, metrics), not redone.
//! Every random choice is seeded from the config's seed, so a resumed run ends where an
//! uninterrupted one would.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use autodidact_data::{Origin, Record, RecordWriter, Verdict, open_records, write_records};
use autodidact_nn::Network;
use autodidact_pipeline::Progress;
use autodidact_store::RunStore;

use crate::arithmetic::{Problem, draw_distinct, draw_distinct_full, to_decimal};
use crate::config::{ArithmeticConfig, Arm, TASK};
use crate::eval::{EvalSet, accuracy};
use crate::grade::{Judged, attempt, judge};
use crate::summary::{ArmGeneration, ArmSummary, BaseGeneration, Findings, Summary};
use crate::rundir::{open_run_dir, run_arms, create_dir, derive, generation_dir, on_one_thread, read_json, rng, write_text};
use crate::train::{Example, Mix, fit};
use crate::{TinyError, report};

/// Stage name of generation 0 in `run.db`.
const BASE_STAGE: &str = "base";

/// Runs (or resumes) the arithmetic loop of `cfg` in `out`. `cancel` stops it between
/// training steps ([`TinyError::Interrupted`]); finished generations are kept.
pub fn run(
    cfg: &ArithmeticConfig,
    out: &Path,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Summary, TinyError> {
    let started = Instant::now();
    cfg.validate().map_err(|message| TinyError::Config {
        path: out.join("config.toml"),
        message,
    })?;
    let store = open_run_dir(&cfg.to_toml(), out)?;
    let seed = cfg.run.seed;
    let eval = EvalSet::draw(
        cfg.max_length(),
        cfg.arithmetic.eval_problems,
        &mut rng(seed, &[1]),
    );
    let held_out = eval.problems();
    let mut real = Mix::new();
    let l0 = cfg.arithmetic.start_length;
    for n in 1..=l0 {
        let count = cfg.arithmetic.real_problems / l0
            + usize::from(n == l0) * (cfg.arithmetic.real_problems % l0);
        for problem in draw_distinct(count, n, &held_out, &mut rng(seed, &[2, n as u64])) {
            let answer = problem.sum();
            real.push(Example { problem, answer });
        }
    }

    // One thread for generation 0, and one shard: its steps could run data parallel on both
    // cores (about 50 s faster), but that changes the float rounding of every step, and so the
    // base model: measured with 2 shards, generation 0 answered 3% of 6-digit problems (38%
    // with 1) and the self-graded arm learned 2 lengths instead of 4 (BENCHMARKS.md). The
    // figures of this run are those of one shard.
    let (base, base_metrics) = on_one_thread(|| {
        base_generation(cfg, out, &store, &real, &eval, progress, cancel)
    })?;

    let (base_ref, real_ref, eval_ref, held_ref, store_ref) = (&base, &real, &eval, &held_out, &store);
    let results = run_arms(&cfg.run.arms, cancel, |arm, stop| {
        ArmRun {
            cfg,
            arm,
            out,
            store: store_ref,
            eval: eval_ref,
            held_out: held_ref,
            progress,
            stop,
        }
        .run(base_ref, real_ref)
    });
    let arms: Vec<ArmSummary> = match results {
        Ok(gens) => cfg.run.arms.iter().zip(gens).map(|(arm, g)| ArmSummary::new(arm.name(), g, l0)).collect(),
        Err(e) => {
            let _ = store.flush();
            return Err(e);
        }
    };

    for g in 1..=cfg.run.generations {
        let of_g: Vec<&ArmGeneration> = arms.iter().map(|a| &a.generations[g - 1]).collect();
        let json = serde_json::to_string_pretty(&of_g).expect("metrics serialize");
        write_text(&generation_dir(out, g).join("metrics.json"), &json)?;
        store.put_metrics(g as u32, &json)?;
    }
    let findings = Findings::new(&arms);
    let summary = Summary {
        task: TASK.into(),
        seed,
        start_length: l0,
        generations: cfg.run.generations,
        base: base_metrics,
        arms,
        findings,
        seconds: started.elapsed().as_secs_f64(),
    };
    write_text(
        &out.join("summary.json"),
        &serde_json::to_string_pretty(&summary).expect("summary serializes"),
    )?;
    write_dataset(cfg, out)?;
    let html = report::render(cfg, &summary, out)?;
    write_text(&out.join("report.html"), &html)?;
    store.flush()?;
    Ok(summary)
}


/// Generation 0: trains (or reloads) the model on the real problems and measures it.
fn base_generation(
    cfg: &ArithmeticConfig,
    out: &Path,
    store: &RunStore,
    real: &Mix,
    eval: &EvalSet,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<(Network, BaseGeneration), TinyError> {
    let dir = generation_dir(out, 0);
    let model_dir = out.join("models").join("base");
    if store.stage_done(0, BASE_STAGE)? {
        progress.note("generation 0 is done: reusing its model");
        let metrics: BaseGeneration = read_json(&dir.join("metrics.json"))?;
        return Ok((Network::load(&model_dir)?, metrics));
    }
    let records: Vec<Record> = real.examples().map(real_record).collect();
    create_dir(&dir)?;
    write_records(&dir.join("generated.parquet"), &records)?;
    write_records(&dir.join("curated.parquet"), &records)?;
    let t = &cfg.train;
    let bar = progress.start("generation 0 · training", t.base_steps as u64 + 1);
    let network = Network::init(&cfg.nn_config(), derive(cfg.run.seed, &[3]))?;
    let parameters = network.n_params();
    let (network, train) = fit(
        network,
        real,
        t.base_steps,
        t.batch_size,
        cfg.arithmetic.max_offset,
        (t.lr, t.min_lr, t.warmup_steps),
        derive(cfg.run.seed, &[4]),
        1,
        &mut |_, _| {
            bar.inc(1);
            if cancel.load(Ordering::Relaxed) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )?;
    let accuracy = accuracy(&network, eval)?;
    bar.inc(1);
    bar.finish();
    network.save(&model_dir)?;
    let metrics = BaseGeneration {
        real_problems: real.len(),
        train,
        accuracy,
        parameters,
    };
    write_text(
        &dir.join("metrics.json"),
        &serde_json::to_string_pretty(&metrics).expect("metrics serialize"),
    )?;
    store.mark_stage_done(0, BASE_STAGE)?;
    Ok((network, metrics))
}

/// A real, labelled problem as a record.
fn real_record(ex: &Example) -> Record {
    let mut r = Record::new(ex.problem.to_string(), to_decimal(&ex.answer), None);
    r.origin = Origin::Real;
    r.task = TASK.into();
    r.generation = 0;
    r.verdict = Verdict::Kept;
    r
}

/// Reads an example back from a record written by this module.
fn example_from_record(r: &Record, path: &Path) -> Result<Example, TinyError> {
    let bad = || {
        TinyError::RunDir(format!(
            "'{}' holds a record this version did not write (prompt {:?}, response {:?}); delete the run directory to start over",
            path.display(),
            r.prompt,
            r.response
        ))
    };
    let (a, b) = r
        .prompt
        .strip_suffix('=')
        .and_then(|p| p.split_once('+'))
        .ok_or_else(bad)?;
    let problem = Problem::parse(a, b).ok_or_else(bad)?;
    // The answer as taught, digit for digit: an unguarded arm keeps leading zeros too.
    let answer: Vec<u8> = r
        .response
        .bytes()
        .rev()
        .map(|c| c.is_ascii_digit().then(|| c - b'0'))
        .collect::<Option<_>>()
        .filter(|d: &Vec<u8>| !d.is_empty())
        .ok_or_else(bad)?;
    Ok(Example { problem, answer })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_records_read_back_as_taught_even_with_leading_zeros() {
        let problem = Problem::parse("658", "101528").unwrap();
        for answer in [vec![6, 8, 1, 2, 0], problem.sum()] {
            let ex = Example { problem: problem.clone(), answer };
            let mut r = real_record(&ex);
            r.response = to_decimal(&ex.answer);
            assert_eq!(example_from_record(&r, Path::new("x")).unwrap(), ex);
        }
        let mut r = real_record(&Example { problem, answer: vec![1] });
        r.response = "1a".into();
        assert!(example_from_record(&r, Path::new("x")).is_err());
    }
}

/// One arm's generations.
struct ArmRun<'a> {
    cfg: &'a ArithmeticConfig,
    arm: Arm,
    out: &'a Path,
    store: &'a RunStore,
    eval: &'a EvalSet,
    held_out: &'a std::collections::HashSet<Problem>,
    progress: &'a dyn Progress,
    stop: &'a (dyn Fn() -> bool + Sync),
}

impl ArmRun<'_> {
    fn run(&self, base: &Network, real: &Mix) -> Result<Vec<ArmGeneration>, TinyError> {
        let mut network = base.try_clone()?;
        let mut mix = real.clone();
        let mut done = Vec::with_capacity(self.cfg.run.generations);
        let arm_models = self.out.join("models").join(self.arm.name());
        let model_dir = |g: usize| arm_models.join(format!("{g:03}"));
        let mut load = None;
        // The length the next generation attempts: one more than the real data's, then as
        // the curriculum's gate decides.
        let mut length = self.cfg.arithmetic.start_length + 1;
        for g in 1..=self.cfg.run.generations {
            let dir = generation_dir(self.out, g).join(self.arm.name());
            if self.store.stage_done(g as u32, self.arm.name())? {
                let curated = dir.join("curated.parquet");
                for r in open_records(&curated)? {
                    mix.push(example_from_record(&r?, &curated)?);
                }
                let metrics: ArmGeneration = read_json(&dir.join("metrics.json"))?;
                length = metrics.length + usize::from(metrics.advanced);
                done.push(metrics);
                load = Some(g);
                continue;
            }
            if let Some(last) = load.take() {
                network = Network::load(&model_dir(last))?;
            }
            let (next, metrics) = self.generation(g, length, network, &mut mix, &dir)?;
            length = metrics.length + usize::from(metrics.advanced);
            // Saved under its own generation, so a crash before the stage is marked done
            // leaves the previous checkpoint for the redo.
            next.save(&model_dir(g))?;
            write_text(
                &dir.join("metrics.json"),
                &serde_json::to_string_pretty(&metrics).expect("metrics serialize"),
            )?;
            self.store.mark_stage_done(g as u32, self.arm.name())?;
            if g > 1 {
                let _ = std::fs::remove_dir_all(model_dir(g - 1));
            }
            network = next;
            done.push(metrics);
        }
        Ok(done)
    }

    fn generation(
        &self,
        g: usize,
        length: usize,
        network: Network,
        mix: &mut Mix,
        dir: &Path,
    ) -> Result<(Network, ArmGeneration), TinyError> {
        let started = Instant::now();
        let (cfg, arm) = (self.cfg, self.arm);
        let seed = cfg.run.seed;
        let arm_tag = Arm::ALL.iter().position(|a| *a == arm).unwrap_or(0) as u64;
        let t = &cfg.train;
        let checks = cfg.arithmetic.advance_at > 0.0 && g < cfg.run.generations;
        let bar = self.progress.start(
            &format!("generation {g} · {} · length {length}", arm.name()),
            t.steps as u64 + 2 + u64::from(checks),
        );
        // The same problems for every arm at the same generation and length.
        let problems = draw_distinct(
            cfg.arithmetic.problems_per_generation,
            length,
            self.held_out,
            &mut rng(seed, &[5, g as u64, length as u64]),
        );
        let attempts = self.attempt(&network, &problems, derive(seed, &[6, g as u64, arm_tag]))?;
        let judged: Vec<Judged> = attempts.iter().map(|a| judge(arm, a, &cfg.grade)).collect();
        bar.inc(1);
        if (self.stop)() {
            return Err(TinyError::Interrupted);
        }
        let metrics_kept = self.write_records(g, &attempts, &judged, dir, mix)?;
        let (network, train) = if t.steps == 0 {
            (network, Default::default())
        } else {
            fit(
                network,
                mix,
                t.steps,
                t.batch_size,
                cfg.arithmetic.max_offset,
                (t.finetune_lr, t.min_lr, t.warmup_steps),
                derive(seed, &[7, g as u64, arm_tag]),
                1,
                &mut |_, _| {
                    bar.inc(1);
                    if (self.stop)() {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
            )?
        };
        let accuracy = accuracy(&network, self.eval)?;
        bar.inc(1);
        // The curriculum's gate: the new model answers fresh problems of this length (both
        // operands that long, as in the held-out set), graded as this arm grades (the
        // self-graded arm without the truth).
        let check = if checks {
            let fresh = draw_distinct_full(
                cfg.arithmetic.check_problems,
                length,
                self.held_out,
                &mut rng(seed, &[8, g as u64, length as u64]),
            );
            let answered = self.attempt(&network, &fresh, derive(seed, &[9, g as u64, arm_tag]))?;
            let kept = answered
                .iter()
                .filter(|a| judge(arm, a, &cfg.grade).kept)
                .count();
            bar.inc(1);
            Some(kept as f64 / answered.len().max(1) as f64)
        } else {
            None
        };
        let advanced = check.is_none_or(|share| share >= cfg.arithmetic.advance_at);
        bar.finish();
        let attempted = attempts.len();
        let greedy_right = attempts
            .iter()
            .filter(|a| a.views[0].digits() == Some(&a.problem.sum()[..]))
            .count();
        let kept = judged.iter().filter(|j| j.kept).count();
        let kept_wrong = judged.iter().filter(|j| j.kept && !j.correct).count();
        let right = judged.iter().filter(|j| j.correct).count();
        let kept_right = kept - kept_wrong;
        let ratio = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);
        let agreements: Vec<f64> = judged.iter().filter_map(|j| j.agreement).collect();
        let metrics = ArmGeneration {
            generation: g,
            arm: arm.name().into(),
            length,
            attempted,
            greedy_accuracy: ratio(greedy_right, attempted).unwrap_or(0.0),
            kept,
            kept_wrong,
            kept_error_rate: ratio(kept_wrong, kept),
            precision: ratio(kept_right, kept),
            recall: ratio(kept_right, right),
            mean_agreement: (!agreements.is_empty())
                .then(|| agreements.iter().sum::<f64>() / agreements.len() as f64),
            rejected: metrics_kept,
            mix_size: mix.len(),
            train,
            accuracy,
            check,
            advanced,
            seconds: started.elapsed().as_secs_f64(),
        };
        Ok((network, metrics))
    }

    /// This arm's answers to `problems`: the unguarded arm takes its greedy answer; the oracle
    /// sees as many answers as the self-graded arm, so that it is the ceiling of choosing
    /// among them; the self-graded arm also composes its answers to the blocks.
    fn attempt(
        &self,
        network: &Network,
        problems: &[Problem],
        seed: u64,
    ) -> Result<Vec<crate::grade::Attempt>, TinyError> {
        let (cfg, arm) = (self.cfg, self.arm);
        let views = if arm == Arm::Unguarded {
            1
        } else {
            cfg.grade.samples
        };
        attempt(
            network,
            problems,
            views,
            (arm == Arm::SelfGraded && cfg.grade.decomposition)
                .then(|| cfg.arithmetic.start_length.saturating_sub(1).max(1)),
            cfg.grade.temperature,
            seed,
        )
    }

    /// Writes the generation's four record files, adds what was kept to `mix`, and returns
    /// the rejections counted by reason.
    fn write_records(
        &self,
        g: usize,
        attempts: &[crate::grade::Attempt],
        judged: &[Judged],
        dir: &Path,
        mix: &mut Mix,
    ) -> Result<std::collections::BTreeMap<String, usize>, TinyError> {
        create_dir(dir)?;
        let mut generated = RecordWriter::create(&dir.join("generated.parquet"))?;
        let mut graded = RecordWriter::create(&dir.join("graded.parquet"))?;
        let mut curated = RecordWriter::create(&dir.join("curated.parquet"))?;
        let mut rejected = RecordWriter::create(&dir.join("rejected.parquet"))?;
        let mut reasons = std::collections::BTreeMap::new();
        for (a, j) in attempts.iter().zip(judged) {
            // What is taught when kept: the answer's digits as written.
            let taught = if j.kept { j.candidate.as_written() } else { None };
            let response = taught
                .as_deref()
                .map_or_else(|| j.candidate.to_string(), to_decimal);
            let mut r = Record::new(a.problem.to_string(), response, None);
            r.task = TASK.into();
            r.generation = g as u32;
            r.model = Some(format!(
                "tiny/{}/generation-{}",
                self.arm.name(),
                g - 1
            ));
            generated.write(&r)?;
            r.grades = j.grades.clone();
            r.score = j.grades.first().and_then(|gr| gr.score);
            graded.write(&r)?;
            match taught {
                Some(answer) => {
                    r.verdict = Verdict::Kept;
                    curated.write(&r)?;
                    mix.push(Example {
                        problem: a.problem.clone(),
                        answer,
                    });
                }
                None => {
                    let reason = j
                        .reason
                        .clone()
                        .unwrap_or_else(|| "nothing to learn from".into());
                    *reasons.entry(reason_category(&reason)).or_insert(0) += 1;
                    r.reject(reason);
                    rejected.write(&r)?;
                }
            }
        }
        generated.finish()?;
        graded.finish()?;
        curated.finish()?;
        rejected.finish()?;
        Ok(reasons)
    }
}

/// A reason's category for counting: its words before the first digit or parenthesis.
fn reason_category(reason: &str) -> String {
    let cut = reason
        .find(|c: char| c.is_ascii_digit() || c == '(' || c == ',')
        .unwrap_or(reason.len());
    reason[..cut].trim().trim_end_matches(':').to_string()
}

/// Writes `dataset.parquet` and `dataset.jsonl`: the real problems plus everything the
/// self-graded arm kept (or the first arm's, without a self-graded arm).
fn write_dataset(cfg: &ArithmeticConfig, out: &Path) -> Result<(), TinyError> {
    let arm = if cfg.run.arms.contains(&Arm::SelfGraded) {
        Arm::SelfGraded
    } else {
        cfg.run.arms[0]
    };
    let mut sources = vec![generation_dir(out, 0).join("curated.parquet")];
    for g in 1..=cfg.run.generations {
        sources.push(generation_dir(out, g).join(arm.name()).join("curated.parquet"));
    }
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
