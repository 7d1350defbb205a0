//! Integration tests: the `openai` backend against real HTTP servers on 127.0.0.1.

mod chat;
mod retries;
mod secrets;
mod server;

use std::sync::Once;

/// The value of [`KEY_VAR`]; no other test input contains it.
pub const SECRET: &str = "sk-test-7f3a9c2e51d04b86";
/// An environment variable holding [`SECRET`].
pub const KEY_VAR: &str = "AUTODIDACT_MODELS_TEST_KEY";
/// An environment variable set to the empty string.
pub const EMPTY_VAR: &str = "AUTODIDACT_MODELS_TEST_EMPTY_KEY";

/// Sets the test environment variables, once, before any test talks HTTP.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: every test calls `init` (through `server().start()` or
        // directly) before doing anything else, and `Once` makes the others
        // wait until this returns, so no other thread reads the environment
        // while it is written.
        unsafe {
            std::env::set_var(KEY_VAR, SECRET);
            std::env::set_var(EMPTY_VAR, "");
        }
    });
}

/// Builds the model for `cfg` with a cancel token of its own.
pub fn model(cfg: &autodidact_models::ModelConfig) -> autodidact_models::OpenAiModel {
    model_with(cfg, tokio_util::sync::CancellationToken::new())
}

/// Builds the model for `cfg`, cancelled by `cancel`.
pub fn model_with(
    cfg: &autodidact_models::ModelConfig,
    cancel: tokio_util::sync::CancellationToken,
) -> autodidact_models::OpenAiModel {
    init();
    autodidact_models::OpenAiModel::new("writer", cfg, cancel).unwrap()
}

/// A one-message request.
pub fn ask(text: &str) -> autodidact_models::ChatRequest {
    autodidact_models::ChatRequest {
        messages: vec![autodidact_models::Message::user(text)],
        ..Default::default()
    }
}
