//! What both loops on the embedded model share: seeded generators, the run directory's
//! files, one-thread pools.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::TinyError;

/// Shards of every training step of a collapse run's generation 0, which runs alone: its
/// batches are split in two, trained side by side (data parallel). A constant, not the
/// machine's core count, so that a run's figures are the same on every machine.
pub(crate) const BASE_SHARDS: usize = 2;

/// Runs `f` with a one-thread rayon pool for the model's kernels (the global pool if that
/// pool cannot be made).
pub(crate) fn on_one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}

/// A generator for one purpose, seeded from the run's seed and the purpose's tags.
pub(crate) fn rng(seed: u64, tags: &[u64]) -> StdRng {
    StdRng::seed_from_u64(derive(seed, tags))
}

pub(crate) fn derive(seed: u64, tags: &[u64]) -> u64 {
    tags.iter().fold(splitmix(seed), |h, t| splitmix(h ^ splitmix(*t)))
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn generation_dir(out: &Path, g: usize) -> PathBuf {
    out.join("generations").join(format!("{g:03}"))
}

pub(crate) fn create_dir(dir: &Path) -> Result<(), TinyError> {
    std::fs::create_dir_all(dir).map_err(|source| TinyError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

pub(crate) fn write_text(path: &Path, text: &str) -> Result<(), TinyError> {
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|source| TinyError::Io {
            path: path.to_path_buf(),
            source,
        })
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, TinyError> {
    let text = std::fs::read_to_string(path).map_err(|source| TinyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| {
        TinyError::RunDir(format!(
            "'{}' is not what this version wrote ({e}); delete the run directory to start over",
            path.display()
        ))
    })
}


/// Creates or reopens the run directory `out` for a run whose resolved configuration is the
/// TOML `config`; refuses a directory that holds a run of another configuration, and writes
/// `config.toml`.
pub(crate) fn open_run_dir(config: &str, out: &Path) -> Result<autodidact_store::RunStore, TinyError> {
    create_dir(out)?;
    let store = autodidact_store::RunStore::open(&out.join("run.db"))?;
    if !store.bind_config(config)? {
        return Err(TinyError::RunDir(format!(
            "'{}' holds a run of a different configuration (see its config.toml)\nhint: pass another --out, or delete '{}' to start over",
            out.display(),
            out.display()
        )));
    }
    let header = "# The resolved configuration of this run, as it ran. Written by autodidact.\n";
    write_text(&out.join("config.toml"), &format!("{header}{config}"))?;
    Ok(store)
}

/// Runs `arm` for every arm of `arms` side by side, each on its own thread with a one-thread
/// pool for the model's kernels. `arm` gets a `stop` to poll between training steps: true once
/// `cancel` is set or another arm failed. Returns every arm's result in order, or the first
/// real failure (an arm's error other than the [`TinyError::Interrupted`] that the others end
/// with after it).
pub(crate) fn run_arms<A: Copy + Send + Sync, R: Send>(
    arms: &[A],
    cancel: &std::sync::atomic::AtomicBool,
    arm: impl Fn(A, &(dyn Fn() -> bool + Sync)) -> Result<R, TinyError> + Sync,
) -> Result<Vec<R>, TinyError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let failed = AtomicBool::new(false);
    let stop = || cancel.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed);
    let results: Vec<Result<R, TinyError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = arms
            .iter()
            .map(|&a| {
                let (arm, stop, failed) = (&arm, &stop, &failed);
                scope.spawn(move || {
                    let result = on_one_thread(|| arm(a, stop));
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("an arm's thread panicked")).collect()
    });
    let mut done = Vec::with_capacity(results.len());
    let mut first_error = None;
    for result in results {
        match result {
            Ok(r) => done.push(r),
            Err(e) => {
                if first_error.is_none() || matches!(first_error, Some(TinyError::Interrupted)) {
                    first_error = Some(e);
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(done),
    }
}
