//! What goes into a chat call and what comes out: messages, requests, completions, usage.

use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

/// One chat message, as in the OpenAI chat API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text of the message.
    pub content: String,
}

impl Message {
    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::with_role("system", content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::with_role("user", content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::with_role("assistant", content)
    }

    fn with_role(role: &str, content: impl Into<String>) -> Self {
        Message {
            role: role.to_owned(),
            content: content.into(),
        }
    }
}

/// One chat call: the conversation and the sampling parameters.
///
/// Parameters left `None` (or empty) are not sent, so the server's (or the
/// model config's) defaults apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    pub top_p: Option<f64>,
    /// Most tokens to generate per choice.
    pub max_tokens: Option<u32>,
    /// How many samples are wanted; 0 is treated as 1.
    pub n: u32,
    /// Sampling seed, for servers that honour it.
    pub seed: Option<u64>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Sent as-is as `response_format`, e.g. `{"type": "json_schema", ...}`.
    pub response_format: Option<serde_json::Value>,
}

/// Bumped whenever the canonical serialisation below changes meaning, so old
/// keys can never collide with new ones.
const CACHE_KEY_VERSION: &[u8] = b"autodidact-chat-request-v1";

impl ChatRequest {
    /// How many choices this request asks for (`n`, with 0 read as 1).
    pub fn samples(&self) -> u32 {
        self.n.max(1)
    }

    /// A stable key for this request sent to `model`: 64 hex digits of blake3
    /// over a canonical serialisation of the model name, every parameter and
    /// every message.
    ///
    /// The key is stable across runs, platforms and versions of this crate (it
    /// keys the run store's response cache): every field is written in a fixed
    /// order, length-prefixed, floats by their bits and `response_format` as JSON
    /// with sorted object keys. `n` = 0 and `n` = 1 give the same key, since they
    /// mean the same. A field added later will be written only when set, so
    /// keys of requests that do not use it stay the same.
    ///
    /// The key covers the request as given: apply the model's defaults first
    /// ([`crate::ModelConfig::apply_defaults`]) if they should count.
    pub fn cache_key(&self, model: &str) -> String {
        let mut w = KeyWriter(blake3::Hasher::new());
        w.bytes(CACHE_KEY_VERSION);
        w.bytes(model.as_bytes());
        w.opt_u64(self.temperature.map(f64::to_bits));
        w.opt_u64(self.top_p.map(f64::to_bits));
        w.opt_u64(self.max_tokens.map(u64::from));
        w.u64(u64::from(self.samples()));
        w.opt_u64(self.seed);
        w.u64(self.stop.len() as u64);
        for stop in &self.stop {
            w.bytes(stop.as_bytes());
        }
        match &self.response_format {
            None => w.u64(0),
            Some(format) => {
                w.u64(1);
                let mut json = String::new();
                canonical_json(format, &mut json);
                w.bytes(json.as_bytes());
            }
        }
        w.u64(self.messages.len() as u64);
        for message in &self.messages {
            w.bytes(message.role.as_bytes());
            w.bytes(message.content.as_bytes());
        }
        w.0.finalize().to_hex().to_string()
    }
}

/// Length prefixes make the encoding injective: no two different requests
/// serialise to the same bytes (e.g. messages `["ab"]` vs `["a", "b"]`).
struct KeyWriter(blake3::Hasher);

impl KeyWriter {
    fn u64(&mut self, v: u64) {
        self.0.update(&v.to_le_bytes());
    }

    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => {
                self.0.update(&[0]);
            }
            Some(v) => {
                self.0.update(&[1]);
                self.u64(v);
            }
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.update(b);
    }
}

/// JSON with object keys sorted, written by hand so that the key does not
/// depend on whether some crate in the build turns on serde_json's
/// `preserve_order` feature.
fn canonical_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(v, out);
            }
            out.push(']');
        }
        // Scalars have one serialisation each.
        other => out.push_str(&other.to_string()),
    }
}

/// One sample from the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// The generated text (a `null` content reads as empty).
    pub text: String,
    /// Why generation stopped (`stop`, `length`, ...), when the server says.
    pub finish_reason: Option<String>,
}

/// Tokens spent, as reported by the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt(s).
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
}

impl Add for Usage {
    type Output = Usage;

    fn add(self, rhs: Usage) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens + rhs.prompt_tokens,
            completion_tokens: self.completion_tokens + rhs.completion_tokens,
        }
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, rhs: Usage) {
        *self = *self + rhs;
    }
}

/// The answer to one [`ChatRequest`]: exactly `n` choices and the tokens spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The samples, `n` of them.
    pub choices: Vec<Completion>,
    /// Tokens spent on this request (summed over repeated requests).
    pub usage: Usage,
}

/// Running totals for one model since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// HTTP requests sent, every attempt (retries included).
    pub requests: u64,
    /// Attempts that failed and were tried again.
    pub retries: u64,
    /// Calls to `chat` that returned an error (other than `Cancelled`).
    pub failures: u64,
    /// Prompt tokens over all successful responses.
    pub prompt_tokens: u64,
    /// Completion tokens over all successful responses.
    pub completion_tokens: u64,
    /// Cost in USD, when both prices are configured.
    pub cost_usd: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> ChatRequest {
        ChatRequest {
            messages: vec![Message::system("be brief"), Message::user("2+2?")],
            temperature: Some(0.7),
            top_p: Some(0.9),
            max_tokens: Some(64),
            n: 2,
            seed: Some(7),
            stop: vec!["\n\n".into()],
            response_format: Some(json!({"type": "json_object"})),
        }
    }

    /// Pinned: if this changes, every run store's cache is invalidated. Bump
    /// `CACHE_KEY_VERSION` and this value together, deliberately.
    #[test]
    fn cache_key_is_pinned() {
        let key = base().cache_key("m");
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(key, PINNED_KEY);
    }

    const PINNED_KEY: &str = "1018c2a72c5c1b51253c5fdaf8fbeccee6b99cdb07203f09317d8e99ef9b9a3d";

    #[test]
    fn equal_requests_give_equal_keys() {
        assert_eq!(base().cache_key("m"), base().clone().cache_key("m"));
        // Object key order in response_format does not matter.
        let mut a = base();
        a.response_format =
            Some(json!({"type": "json_schema", "json_schema": {"a": 1, "b": [1, 2]}}));
        let mut b = base();
        b.response_format = Some(
            serde_json::from_str(
                r#"{"json_schema": {"b": [1, 2], "a": 1}, "type": "json_schema"}"#,
            )
            .unwrap(),
        );
        assert_eq!(a.cache_key("m"), b.cache_key("m"));
        // n = 0 means n = 1.
        let (mut zero, mut one) = (base(), base());
        zero.n = 0;
        one.n = 1;
        assert_eq!(zero.cache_key("m"), one.cache_key("m"));
    }

    #[test]
    fn changing_any_field_changes_the_key() {
        type Change = fn(&mut ChatRequest);
        let changes: &[(&str, Change)] = &[
            ("temperature", |r| r.temperature = Some(0.8)),
            ("temperature unset", |r| r.temperature = None),
            ("top_p", |r| r.top_p = Some(0.95)),
            ("top_p unset", |r| r.top_p = None),
            ("max_tokens", |r| r.max_tokens = Some(65)),
            ("max_tokens unset", |r| r.max_tokens = None),
            ("n", |r| r.n = 3),
            ("seed", |r| r.seed = Some(8)),
            ("seed unset", |r| r.seed = None),
            ("stop", |r| r.stop = vec!["\n".into()]),
            ("stop empty", |r| r.stop.clear()),
            ("stop split", |r| r.stop = vec!["\n".into(), "\n".into()]),
            ("response_format", |r| {
                r.response_format = Some(json!({"type": "text"}))
            }),
            ("response_format unset", |r| r.response_format = None),
            ("role", |r| r.messages[0].role = "user".into()),
            ("content", |r| r.messages[1].content = "2+3?".into()),
            ("message dropped", |r| {
                r.messages.pop();
            }),
            ("messages joined", |r| {
                r.messages = vec![Message::system("be brief2+2?")];
            }),
            ("message added", |r| {
                r.messages.push(Message::assistant("4"))
            }),
        ];
        let base_key = base().cache_key("m");
        let mut seen = vec![("base", base_key.clone())];
        seen.push(("model", base().cache_key("m2")));
        for (name, change) in changes {
            let mut r = base();
            change(&mut r);
            seen.push((name, r.cache_key("m")));
        }
        for (i, (a, ka)) in seen.iter().enumerate() {
            for (b, kb) in &seen[i + 1..] {
                assert_ne!(ka, kb, "`{a}` and `{b}` gave the same key");
            }
        }
    }

    #[test]
    fn usage_adds() {
        let mut u = Usage {
            prompt_tokens: 1,
            completion_tokens: 2,
        };
        u += Usage {
            prompt_tokens: 10,
            completion_tokens: 20,
        };
        assert_eq!(
            u,
            Usage {
                prompt_tokens: 11,
                completion_tokens: 22
            }
        );
        assert_eq!(
            u + u,
            Usage {
                prompt_tokens: 22,
                completion_tokens: 44
            }
        );
    }

    #[test]
    fn chat_response_round_trips_through_json() {
        let r = ChatResponse {
            choices: vec![Completion {
                text: "4".into(),
                finish_reason: Some("stop".into()),
            }],
            usage: Usage {
                prompt_tokens: 3,
                completion_tokens: 1,
            },
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<ChatResponse>(&json).unwrap(), r);
    }
}
