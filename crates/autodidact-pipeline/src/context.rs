//! What every stage runs with: the models, the run store (response cache), cancellation,
//! progress, and request counters.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use autodidact_models::{AnyModel, ChatRequest, ChatResponse, ModelError};
use autodidact_store::RunStore;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::PipelineError;
use crate::progress::{NoProgress, Progress};

/// Counters of one model's requests, including those answered from the cache.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestCounts {
    /// Requests answered from the run store without touching the network.
    pub cached: u64,
    /// Requests sent to a server and answered.
    pub sent: u64,
    /// Requests that failed after their retries.
    pub failed: u64,
}

struct Counters {
    cached: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
}

/// The running context of a pipeline.
pub struct Context {
    /// The run store.
    pub store: RunStore,
    /// Models by `[models.*]` name.
    pub models: BTreeMap<String, AnyModel>,
    /// Cancelled on Ctrl-C: no new request is sent once it is.
    pub cancel: CancellationToken,
    /// Where progress goes.
    pub progress: Arc<dyn Progress>,
    counters: BTreeMap<String, Counters>,
    unreachable: AtomicBool,
}

impl Context {
    /// A context over built models.
    pub fn new(store: RunStore, models: BTreeMap<String, AnyModel>, cancel: CancellationToken) -> Context {
        let counters = models
            .keys()
            .map(|k| {
                (k.clone(), Counters { cached: AtomicU64::new(0), sent: AtomicU64::new(0), failed: AtomicU64::new(0) })
            })
            .collect();
        Context { store, models, cancel, progress: Arc::new(NoProgress), counters, unreachable: AtomicBool::new(false) }
    }

    /// Sets where progress goes.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Context {
        self.progress = progress;
        self
    }

    /// The model of that name (names were checked with the config).
    pub fn model(&self, name: &str) -> &AnyModel {
        &self.models[name]
    }

    /// A chat completion through the response cache: a stored answer is used as it is; a new
    /// one is stored (committed) before it is returned.
    pub async fn chat(&self, model: &str, req: &ChatRequest) -> Result<ChatResponse, ModelError> {
        let m = self.model(model);
        let key = req.cache_key(m.model_name());
        let counters = &self.counters[model];
        if let Ok(Some(body)) = self.store.get_response(&key)
            && let Ok(resp) = serde_json::from_str::<ChatResponse>(&body) {
                counters.cached.fetch_add(1, Ordering::Relaxed);
                return Ok(resp);
            }
        if self.cancel.is_cancelled() {
            return Err(ModelError::Cancelled);
        }
        match m.chat(req).await {
            Ok(resp) => {
                let body = serde_json::to_string(&resp).expect("responses serialize");
                if let Err(e) = self.store.put_response(&key, m.model_name(), &body).await {
                    tracing::error!(error = %e, "cannot store a response");
                    return Err(ModelError::Decode { url: "run store".into(), message: e.to_string() });
                }
                counters.sent.fetch_add(1, Ordering::Relaxed);
                Ok(resp)
            }
            Err(e) => {
                if !matches!(e, ModelError::Cancelled) {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                }
                if e.is_unreachable() && !self.unreachable.swap(true, Ordering::SeqCst) {
                    // Nothing will get through: stop sending, so the run fails fast and resumes later.
                    self.cancel.cancel();
                }
                Err(e)
            }
        }
    }

    /// Fails with the right error if the stage must not go on: a server was unreachable, or Ctrl-C.
    pub fn check(&self, failure: Option<(&str, &ModelError)>) -> Result<(), PipelineError> {
        if self.unreachable.load(Ordering::SeqCst) {
            if let Some((name, e)) = failure {
                return Err(PipelineError::Unreachable { name: name.to_string(), source: e.clone() });
            }
            return Err(PipelineError::Unreachable {
                name: "a model".into(),
                source: ModelError::Connect { url: "server".into(), message: "unreachable".into() },
            });
        }
        if self.cancel.is_cancelled() {
            return Err(PipelineError::Interrupted);
        }
        Ok(())
    }

    /// True once a server proved unreachable.
    pub fn unreachable(&self) -> bool {
        self.unreachable.load(Ordering::SeqCst)
    }

    /// Request counts so far, per model name.
    pub fn counts(&self) -> BTreeMap<String, RequestCounts> {
        self.counters
            .iter()
            .map(|(k, c)| {
                (
                    k.clone(),
                    RequestCounts {
                        cached: c.cached.load(Ordering::Relaxed),
                        sent: c.sent.load(Ordering::Relaxed),
                        failed: c.failed.load(Ordering::Relaxed),
                    },
                )
            })
            .collect()
    }
}
