//! The `Record`: one training example and everything known about it.

use serde::{Deserialize, Serialize};

/// Where a record's text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Written by people: seeds, real data mixed into training.
    Real,
    /// Written by a model.
    #[default]
    Synthetic,
}

impl Origin {
    /// The name used in files: `real` or `synthetic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Real => "real",
            Origin::Synthetic => "synthetic",
        }
    }

    /// Parses `real` or `synthetic`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "real" => Some(Origin::Real),
            "synthetic" => Some(Origin::Synthetic),
            _ => None,
        }
    }
}

/// What curation decided about a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Not decided yet (generated, or graded but not curated).
    #[default]
    Pending,
    /// Survived curation.
    Kept,
    /// Did not survive; `Record::reason` says why.
    Rejected,
}

impl Verdict {
    /// The name used in files: `pending`, `kept` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pending => "pending",
            Verdict::Kept => "kept",
            Verdict::Rejected => "rejected",
        }
    }

    /// Parses `pending`, `kept` or `rejected`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Verdict::Pending),
            "kept" => Some(Verdict::Kept),
            "rejected" => Some(Verdict::Rejected),
            _ => None,
        }
    }
}

/// One grader's judgement of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Grade {
    /// Which grader: `judge`, `consistency`, `oracle`, ... (an `oracle` uses ground truth).
    pub grader: String,
    /// The grade in `0.0..=1.0`; `None` when grading failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The grader's reasons, in its own words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// Why grading failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Grader-specific details as a JSON text (per-criterion scores, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// One training example: prompt, response, optional context, and its history.
///
/// The id is a content hash of prompt, response and context ([`Record::content_id`]):
/// the same text always has the same id, whoever wrote it and whenever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Record {
    /// Content hash of prompt, response and context (32 hex digits).
    #[serde(default)]
    pub id: String,
    /// `real` or `synthetic`.
    #[serde(default)]
    pub origin: Origin,
    /// The generation of the loop that wrote it (0 for real data).
    #[serde(default)]
    pub generation: u32,
    /// The task that wrote it (`essay`, `self-instruct`, `qa-from-docs`, ...).
    #[serde(default)]
    pub task: String,
    /// The instruction or question.
    pub prompt: String,
    /// The answer.
    #[serde(default)]
    pub response: String,
    /// The source document the response must be grounded in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The model that wrote the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The id of the seed this record was written from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Every grade it received, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grades: Vec<Grade>,
    /// The combined grade in `0.0..=1.0`, when graded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Curation's decision.
    #[serde(default)]
    pub verdict: Verdict,
    /// Why it was rejected (or other notes on the verdict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Record {
    /// A new pending record with its id computed from its content.
    pub fn new(
        prompt: impl Into<String>,
        response: impl Into<String>,
        context: Option<String>,
    ) -> Self {
        let mut r = Record {
            prompt: prompt.into(),
            response: response.into(),
            context,
            ..Record::default()
        };
        r.rehash();
        r
    }

    /// The content hash of a prompt, response and context: 32 hex digits of BLAKE3.
    pub fn content_id(prompt: &str, response: &str, context: Option<&str>) -> String {
        let mut h = blake3::Hasher::new();
        for part in [prompt, response, context.unwrap_or("")] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.update(&[context.is_some() as u8]);
        let hash = h.finalize();
        hash.to_hex()[..32].to_string()
    }

    /// Recomputes `id` after the content changed (a revision, an edit).
    pub fn rehash(&mut self) {
        self.id = Record::content_id(&self.prompt, &self.response, self.context.as_deref());
    }

    /// The grade of the named grader, if it graded this record (the last one, if several).
    pub fn grade(&self, grader: &str) -> Option<&Grade> {
        self.grades.iter().rev().find(|g| g.grader == grader)
    }

    /// Marks the record rejected with a reason.
    pub fn reject(&mut self, reason: impl Into<String>) {
        self.verdict = Verdict::Rejected;
        self.reason = Some(reason.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_a_stable_content_hash() {
        let a = Record::new("p", "r", None);
        let b = Record::new("p", "r", None);
        assert_eq!(a.id, b.id);
        assert_eq!(a.id.len(), 32);
        assert_ne!(a.id, Record::new("p", "r2", None).id);
        // Moving a character across the boundary changes the hash.
        assert_ne!(
            Record::new("pr", "", None).id,
            Record::new("p", "r", None).id
        );
        // An empty context differs from none.
        assert_ne!(Record::new("p", "r", Some(String::new())).id, a.id);
    }
}
