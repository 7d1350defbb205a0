//! The API key: sent as a Bearer header, and nowhere else.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use autodidact_models::{ModelError, OpenAiModel};
use tokio_util::sync::CancellationToken;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use crate::server::{Reply, dead_url, server};
use crate::{EMPTY_VAR, KEY_VAR, SECRET, ask, init};

#[tokio::test]
async fn key_is_sent_as_bearer_and_never_shown() {
    let logs = Capture::default();
    let _guard = tracing::dispatcher::set_default(&tracing::Dispatch::new(logs.clone()));

    let srv = server()
        .script([
            Reply::Status(500, vec![], "oops".into()),
            Reply::EchoAuth(401),
        ])
        .start()
        .await;
    let mut cfg = srv.config();
    cfg.api_key_env = Some(KEY_VAR.into());
    let m = OpenAiModel::new("writer", &cfg, CancellationToken::new()).unwrap();

    // 500 (retried), then a 401 whose body echoes the header back.
    let err = m.chat(&ask("q")).await.unwrap_err();
    assert!(
        matches!(err, ModelError::Http { status: 401, .. }),
        "{err:?}"
    );
    let seen = srv.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(
            s.authorization.as_deref(),
            Some(format!("Bearer {SECRET}").as_str())
        );
    }
    // Then success, and a server that cannot be reached.
    m.chat(&ask("q")).await.unwrap();
    let mut dead_cfg = crate::server::config(&[&dead_url()]);
    dead_cfg.api_key_env = Some(KEY_VAR.into());
    dead_cfg.max_retries = 1;
    let dead = OpenAiModel::new("judge", &dead_cfg, CancellationToken::new()).unwrap();
    let unreachable = dead.chat(&ask("q")).await.unwrap_err();

    for (what, text) in [
        ("Debug of the model", format!("{m:?}")),
        (
            "Debug of AnyModel",
            format!("{:?}", autodidact_models::AnyModel::OpenAi(m.clone())),
        ),
        ("echoed 401", err.to_string()),
        ("echoed 401 (Debug)", format!("{err:?}")),
        ("connect error", unreachable.to_string()),
    ] {
        assert!(!text.contains(SECRET), "{what} shows the key: {text}");
        assert!(!text.is_empty(), "{what}");
    }
    assert!(format!("{m:?}").contains("<redacted>"));
    assert!(err.to_string().contains("Bearer <redacted>"), "{err}");

    let logged = logs.text();
    assert!(
        logged.contains("retrying"),
        "the retry should be logged: {logged}"
    );
    assert!(logged.contains(&srv.base_url), "{logged}");
    assert!(!logged.contains(SECRET), "logs show the key: {logged}");
}

#[test]
fn missing_or_empty_key_variable_is_named() {
    init();
    for var in ["AUTODIDACT_MODELS_TEST_UNSET_KEY", EMPTY_VAR] {
        let mut cfg = crate::server::config(&["http://127.0.0.1:9/v1"]);
        cfg.api_key_env = Some(var.into());
        let err = OpenAiModel::new("writer", &cfg, CancellationToken::new()).unwrap_err();
        assert_eq!(err, ModelError::MissingApiKey { var: var.into() });
        assert!(err.to_string().contains(var), "{err}");
    }
}

#[test]
fn config_errors_from_new_name_the_table() {
    init();
    let mut cfg = crate::server::config(&["http://127.0.0.1:9/v1"]);
    cfg.max_in_flight = 0;
    let err = OpenAiModel::new("writer", &cfg, CancellationToken::new()).unwrap_err();
    match &err {
        ModelError::Config { key, .. } => assert_eq!(key, "models.writer.max_in_flight"),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("models.writer.max_in_flight"),
        "{err}"
    );
}

/// Records every event and span field as text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

impl Capture {
    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        span.record(&mut Fields(&mut self.0.lock().unwrap()));
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().unwrap()));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = self.0.lock().unwrap();
        event.record(&mut Fields(&mut text));
        text.push('\n');
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
