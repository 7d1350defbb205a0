//! Profiling aid for bench/throughput.sh: how fast can the engine's parts, without the rest of
//! the pipeline, keep a server busy? Sends `--requests` chat requests through
//! `autodidact-models` with `--in-flight` under way, driven in one of three ways:
//!
//! - `stream`: one `buffer_unordered` polled by the thread that `block_on`s, as the
//!   pipeline's `run_ordered` does, and nothing but `chat`;
//! - `stream-store`: the same plus what `Context::chat` adds to each request: the cache key,
//!   a run-store lookup, and storing the answer (waiting for its commit);
//! - `spawn-store`: the same work, each request a tokio task, so the runtime's workers share
//!   it instead of one thread polling everything.
//!
//! ```text
//! cargo run --release -p autodidact-bench-server --example client_ceiling -- \
//!     --base-url http://127.0.0.1:8000/v1 --in-flight 1024 --requests 100000 --mode stream-store --store /tmp/x
//! ```
//!
//! `--skip-lookup` and `--skip-commit-wait` take those parts out one at a time.
//! Prints one JSON line: mode, requests, seconds, rate.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use autodidact_models::{AnyModel, ChatRequest, Message, ModelConfig};
use autodidact_store::RunStore;
use clap::{Parser, ValueEnum};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    Stream,
    StreamStore,
    SpawnStore,
}

#[derive(Parser)]
struct Args {
    #[arg(long)]
    base_url: String,
    #[arg(long, default_value_t = 1024)]
    in_flight: usize,
    #[arg(long, default_value_t = 100_000)]
    requests: usize,
    #[arg(long, value_enum, default_value = "stream")]
    mode: Mode,
    /// Folder for the run store (`run.db`); needed by the `*-store` modes. Must not hold one.
    #[arg(long)]
    store: Option<PathBuf>,
    /// Skip the run-store lookup before each request (to tell its cost from the commit's).
    #[arg(long)]
    skip_lookup: bool,
    /// Do not wait for the answer's commit before the request counts as done (to tell the
    /// commit wait's cost from the write's).
    #[arg(long)]
    skip_commit_wait: bool,
    /// Requests under way beyond `--in-flight` (waiting for a permit, or for their commit),
    /// as the pipeline's `stage_limit` allows 32.
    #[arg(long, default_value_t = 32)]
    slack: usize,
}

/// What the `*-store` modes do around each request.
#[derive(Clone, Copy)]
struct StoreWork {
    lookup: bool,
    commit_wait: bool,
}

fn request(i: usize) -> ChatRequest {
    // About as long as the essay task's rendered prompt.
    let prompt = format!(
        "Write a clear, well-argued essay of about five paragraphs on the following topic. \
         Open with a thesis, support it with specific evidence, consider the strongest \
         objection, and close with a conclusion that follows from the argument.\n\nTopic: case {i}"
    );
    ChatRequest {
        messages: vec![Message::user(prompt)],
        temperature: Some(0.8),
        max_tokens: Some(1024),
        n: 1,
        seed: Some(i as u64),
        ..ChatRequest::default()
    }
}

/// What `Context::chat` does around a request: lookup, send, store and wait for the commit.
async fn cached_chat(
    model: &AnyModel,
    store: &RunStore,
    req: ChatRequest,
    work: StoreWork,
) -> anyhow::Result<()> {
    let key = req.cache_key(model.model_name());
    if work.lookup && store.get_response(&key)?.is_some() {
        bail!("the store already holds an answer: use an empty --store folder");
    }
    let resp = model.chat(&req).await?;
    let body = serde_json::to_string(&resp)?;
    let commit = store.put_response(&key, model.model_name(), &body);
    if work.commit_wait {
        commit.await?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = ModelConfig {
        model: "bench".into(),
        base_url: Some(args.base_url.clone()),
        max_in_flight: args.in_flight,
        max_retries: 0,
        ..ModelConfig::default()
    };
    let model = cfg.build("writer", CancellationToken::new())?;
    let store = match (&args.store, args.mode) {
        (_, Mode::Stream) => None,
        (Some(dir), _) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            Some(RunStore::open(&dir.join("run.db"))?)
        }
        (None, mode) => bail!("--mode {mode:?} needs --store DIR"),
    };
    // As the pipeline's stage_limit: the model's bound plus a little slack.
    let limit = args.in_flight + args.slack;
    let work = StoreWork {
        lookup: !args.skip_lookup,
        commit_wait: !args.skip_commit_wait,
    };
    let started = Instant::now();
    let mut failures = 0usize;
    match args.mode {
        Mode::Stream => {
            let mut s = futures::stream::iter(0..args.requests)
                .map(|i| {
                    let model = &model;
                    async move {
                        model
                            .chat(&request(i))
                            .await
                            .map(drop)
                            .map_err(anyhow::Error::from)
                    }
                })
                .buffer_unordered(limit);
            while let Some(r) = s.next().await {
                failures += usize::from(r.is_err());
            }
        }
        Mode::StreamStore => {
            let store = store.as_ref().expect("checked above");
            let mut s = futures::stream::iter(0..args.requests)
                .map(|i| cached_chat(&model, store, request(i), work))
                .buffer_unordered(limit);
            while let Some(r) = s.next().await {
                failures += usize::from(r.is_err());
            }
        }
        Mode::SpawnStore => {
            let store = store.clone().expect("checked above");
            let slots = Arc::new(tokio::sync::Semaphore::new(limit));
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..args.requests {
                let permit = slots.clone().acquire_owned().await?;
                let (model, store) = (model.clone(), store.clone());
                tasks.spawn(async move {
                    let r = cached_chat(&model, &store, request(i), work).await;
                    drop(permit);
                    r
                });
                while let Some(done) = tasks.try_join_next() {
                    failures += usize::from(!matches!(done, Ok(Ok(()))));
                }
            }
            while let Some(done) = tasks.join_next().await {
                failures += usize::from(!matches!(done, Ok(Ok(()))));
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "mode": format!("{:?}", args.mode),
            "in_flight": args.in_flight,
            "requests": args.requests,
            "failures": failures,
            "seconds": seconds,
            "rate": args.requests as f64 / seconds,
        })
    );
    if failures > 0 {
        bail!("{failures} requests failed");
    }
    if let Some(store) = &store {
        // Unawaited commits must still land (and fail loudly if they did not).
        store.flush()?;
    }
    Ok(())
}
