//! Models for autodidact: the [`Model`] trait and the `openai` backend, which
//! talks to any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, TGI,
//! SGLang, hosted APIs). This is the only crate that speaks HTTP.
//!
//! ```no_run
//! use autodidact_models::{ChatRequest, Message, Model, ModelConfig};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo() -> Result<(), autodidact_models::ModelError> {
//! let cfg: ModelConfig = ModelConfig {
//!     model: "qwen2.5-7b-instruct".into(),
//!     base_url: Some("http://127.0.0.1:8000/v1".into()),
//!     ..ModelConfig::default()
//! };
//! let writer = cfg.build("writer", CancellationToken::new())?;
//! let req = ChatRequest {
//!     messages: vec![Message::user("What is 2 + 2?")],
//!     n: 4,
//!     ..ChatRequest::default()
//! };
//! let key = req.cache_key(writer.model_name()); // keys the run store's cache
//! let response = writer.chat(&req).await?;
//! assert_eq!(response.choices.len(), 4);
//! println!("{key}: {:?}, {:?}", response.choices[0].text, writer.usage());
//! # Ok(())
//! # }
//! ```
//!
//! The server is kept busy with up to `max_in_flight` requests at once;
//! overload, timeouts, dropped connections and garbled bodies are retried with
//! jittered exponential backoff (honouring `Retry-After`); a server that
//! ignores `n` is detected and asked once per sample instead.
#![deny(missing_docs)]

mod chat;
mod config;
mod error;
mod openai;
mod retry;

use std::future::Future;

pub use chat::{ChatRequest, ChatResponse, Completion, Message, Usage, UsageTotals};
pub use config::{Backend, ModelConfig};
pub use error::ModelError;
pub use openai::OpenAiModel;

/// Anything that completes chat prompts.
pub trait Model {
    /// Sends one request; the response has exactly `req.n` choices (at least one).
    fn chat(
        &self,
        req: &ChatRequest,
    ) -> impl Future<Output = Result<ChatResponse, ModelError>> + Send;
    /// Totals since the model was built.
    fn usage(&self) -> UsageTotals;
    /// The model's name (for `openai`, the name sent to the server).
    fn model_name(&self) -> &str;
}

impl Model for OpenAiModel {
    fn chat(
        &self,
        req: &ChatRequest,
    ) -> impl Future<Output = Result<ChatResponse, ModelError>> + Send {
        OpenAiModel::chat(self, req)
    }

    fn usage(&self) -> UsageTotals {
        OpenAiModel::usage(self)
    }

    fn model_name(&self) -> &str {
        OpenAiModel::model_name(self)
    }
}

/// Every backend, chosen by a `[models.NAME]` table's `backend` key; calls are
/// passed on to the backend.
#[derive(Debug, Clone)]
pub enum AnyModel {
    /// `backend = "openai"`.
    OpenAi(OpenAiModel),
}

impl AnyModel {
    /// See [`Model::chat`].
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, ModelError> {
        match self {
            AnyModel::OpenAi(m) => m.chat(req).await,
        }
    }

    /// See [`Model::usage`].
    pub fn usage(&self) -> UsageTotals {
        match self {
            AnyModel::OpenAi(m) => m.usage(),
        }
    }

    /// See [`Model::model_name`].
    pub fn model_name(&self) -> &str {
        match self {
            AnyModel::OpenAi(m) => m.model_name(),
        }
    }
}

impl Model for AnyModel {
    fn chat(
        &self,
        req: &ChatRequest,
    ) -> impl Future<Output = Result<ChatResponse, ModelError>> + Send {
        AnyModel::chat(self, req)
    }

    fn usage(&self) -> UsageTotals {
        AnyModel::usage(self)
    }

    fn model_name(&self) -> &str {
        AnyModel::model_name(self)
    }
}
