//! `[curate]`: what survives curation.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::CurateError;
use crate::lsh::optimal_params;

/// The text compared for duplicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DedupField {
    /// The response (the default).
    Response,
    /// The prompt: at most one response per prompt survives.
    Prompt,
    /// The prompt and the response together.
    PromptResponse,
}

impl DedupField {
    /// The name used in configs: `response`, `prompt` or `prompt+response`.
    pub fn as_str(self) -> &'static str {
        match self {
            DedupField::Response => "response",
            DedupField::Prompt => "prompt",
            DedupField::PromptResponse => "prompt+response",
        }
    }

    /// Parses a config name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "response" => Some(DedupField::Response),
            "prompt" => Some(DedupField::Prompt),
            "prompt+response" => Some(DedupField::PromptResponse),
            _ => None,
        }
    }
}

/// The curation settings (`[curate]` in `run.toml`).
///
/// TOML has no null, so the two optional parts that are on by default are turned off with
/// `false`: `min_score = false` (no threshold; ungraded records pass) and
/// `near_duplicates = false`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CurateConfig {
    /// Records whose score is below this are rejected, and ungraded ones too; `None`: no
    /// threshold. Default 0.7.
    #[serde(with = "min_score_serde")]
    pub min_score: Option<f64>,
    /// Responses with fewer words are rejected. Default 1.
    pub min_words: usize,
    /// Responses with more words are rejected. Default: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_words: Option<usize>,
    /// The largest share of a response's word 3-grams that may repeat an earlier 3-gram of the
    /// same response. Default 0.5.
    pub max_repetition: f64,
    /// Reject records whose normalised text (lowercased, whitespace collapsed, punctuation
    /// removed) equals a kept one. Default true.
    pub exact_duplicates: bool,
    /// MinHash-LSH near-duplicate removal; `None` (`false` in TOML): off. Default on.
    #[serde(with = "near_serde")]
    pub near_duplicates: Option<NearDupConfig>,
    /// JSONL evaluation files; records sharing a word n-gram with any of their texts are
    /// rejected. Default none.
    pub decontaminate: Vec<PathBuf>,
    /// The n-gram size of decontamination, in words. Default 13.
    pub decontaminate_ngram: usize,
    /// The text compared for duplicates: `response` (default), `prompt` or `prompt+response`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Files of earlier kept data (real data, earlier datasets; JSONL or Parquet, the text in
    /// `text`, else `response`) that new records must not duplicate: their texts join the
    /// history before the first generation. Default none.
    pub remember: Vec<PathBuf>,
    /// The most records kept per generation; `None`: no limit. When more pass every check,
    /// [`selection`](Self::selection) chooses which. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<usize>,
    /// How a budget chooses: `diverse` (default; greedy k-center over word-set MinHash
    /// signatures, for coverage), `score` (highest scores) or `random` (seeded).
    pub selection: Selection,
}

/// How [`CurateConfig::budget`] chooses among the records that passed.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Selection {
    /// Greedy k-center over word-set signatures: each pick is the record farthest from
    /// everything picked so far (the first: the highest score), so the kept set covers the
    /// candidates' topics instead of crowding the best-scored one.
    #[default]
    Diverse,
    /// The highest scores (then the earliest).
    Score,
    /// A seeded random choice, the baseline diversity is measured against.
    Random,
}

impl Selection {
    /// The name used in configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Selection::Diverse => "diverse",
            Selection::Score => "score",
            Selection::Random => "random",
        }
    }
}

impl Default for CurateConfig {
    fn default() -> Self {
        CurateConfig {
            min_score: Some(0.7),
            min_words: 1,
            max_words: None,
            max_repetition: 0.5,
            exact_duplicates: true,
            near_duplicates: Some(NearDupConfig::default()),
            decontaminate: Vec::new(),
            decontaminate_ngram: 13,
            field: None,
            remember: Vec::new(),
            budget: None,
            selection: Selection::Diverse,
        }
    }
}

/// Near-duplicate settings (`near_duplicates = { ... }`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NearDupConfig {
    /// Estimated Jaccard similarity of shingle sets at or above which two texts are near
    /// duplicates, in `(0, 1]`. Default 0.8.
    pub threshold: f64,
    /// MinHash permutations (signature length). Default 128.
    pub permutations: usize,
    /// Shingle size in words. Default 5.
    pub ngram: usize,
    /// LSH bands; default chosen with `rows` by [`optimal_params`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bands: Option<usize>,
    /// LSH rows per band; default chosen with `bands` by [`optimal_params`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
}

impl Default for NearDupConfig {
    fn default() -> Self {
        NearDupConfig { threshold: 0.8, permutations: 128, ngram: 5, bands: None, rows: None }
    }
}

/// More permutations than this cost memory and time for no useful accuracy (the estimate's
/// error shrinks as 1/√permutations); it also keeps the band search quick.
const MAX_PERMUTATIONS: usize = 4096;

impl NearDupConfig {
    /// The bands and rows in force: both as given; one given, the other as many as fit in
    /// `permutations`; neither, the [`optimal_params`] for the threshold.
    pub fn bands_rows(&self) -> Result<(usize, usize), CurateError> {
        let p = self.permutations;
        let (b, r) = match (self.bands, self.rows) {
            (Some(b), Some(r)) => (b, r),
            (Some(b), None) => (b, p.checked_div(b).unwrap_or(0)),
            (None, Some(r)) => (p.checked_div(r).unwrap_or(0), r),
            (None, None) => return Ok(optimal_params(self.threshold, p)),
        };
        let key = if self.bands.is_some() { "near_duplicates.bands" } else { "near_duplicates.rows" };
        if b == 0 || r == 0 {
            return Err(CurateError::config(
                key,
                format!("bands and rows must be at least 1 (got {b} bands of {r} rows for {p} permutations)"),
            ));
        }
        if b.checked_mul(r).is_none_or(|n| n > p) {
            return Err(CurateError::config(
                key,
                format!("bands × rows = {b} × {r} exceeds permutations = {p}"),
            ));
        }
        Ok((b, r))
    }

    /// Checks the ranges; errors name the key.
    pub fn validate(&self) -> Result<(), CurateError> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(CurateError::config(
                "near_duplicates.threshold",
                format!("must be greater than 0 and at most 1, got {}", self.threshold),
            ));
        }
        if self.permutations == 0 || self.permutations > MAX_PERMUTATIONS {
            return Err(CurateError::config(
                "near_duplicates.permutations",
                format!("must be between 1 and {MAX_PERMUTATIONS}, got {}", self.permutations),
            ));
        }
        if self.ngram == 0 {
            return Err(CurateError::config("near_duplicates.ngram", "must be at least 1 word"));
        }
        self.bands_rows().map(|_| ())
    }
}

impl CurateConfig {
    /// The text compared for duplicates (after [`validate`](Self::validate) succeeded;
    /// an unknown name counts as the response).
    pub fn dedup_field(&self) -> DedupField {
        self.field.as_deref().and_then(DedupField::parse).unwrap_or(DedupField::Response)
    }

    /// Checks what serde cannot: ranges and consistency. Errors name the key.
    pub fn validate(&self) -> Result<(), CurateError> {
        if let Some(m) = self.min_score
            && !m.is_finite()
        {
            return Err(CurateError::config("min_score", format!("must be a finite number, got {m}")));
        }
        if let Some(max) = self.max_words
            && max < self.min_words
        {
            return Err(CurateError::config(
                "max_words",
                format!("{max} is below min_words = {}", self.min_words),
            ));
        }
        if !(0.0..=1.0).contains(&self.max_repetition) {
            return Err(CurateError::config(
                "max_repetition",
                format!("must be between 0 and 1, got {}", self.max_repetition),
            ));
        }
        if self.decontaminate_ngram == 0 {
            return Err(CurateError::config("decontaminate_ngram", "must be at least 1 word"));
        }
        if let Some(f) = &self.field
            && DedupField::parse(f).is_none()
        {
            return Err(CurateError::config(
                "field",
                format!("unknown field {f:?}: expected \"response\", \"prompt\" or \"prompt+response\""),
            ));
        }
        if self.budget == Some(0) {
            return Err(CurateError::config("budget", "must be at least 1 record (leave it out for no limit)"));
        }
        if let Some(n) = &self.near_duplicates {
            n.validate()?;
        }
        Ok(())
    }
}

/// `min_score`: a number, or `false` for no threshold.
mod min_score_serde {
    use std::fmt;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => s.serialize_f64(*x),
            None => s.serialize_bool(false),
        }
    }

    struct V;

    impl<'de> Visitor<'de> for V {
        type Value = Option<f64>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number, or false for no threshold")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            if v { Err(E::invalid_value(de::Unexpected::Bool(true), &self)) } else { Ok(None) }
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(V)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        d.deserialize_any(V)
    }
}

/// `near_duplicates`: a table, `true` for the defaults, or `false` for off.
mod near_serde {
    use std::fmt;

    use serde::de::{self, MapAccess, Visitor, value::MapAccessDeserializer};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::NearDupConfig;

    pub fn serialize<S: Serializer>(v: &Option<NearDupConfig>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(c) => c.serialize(s),
            None => s.serialize_bool(false),
        }
    }

    struct V;

    impl<'de> Visitor<'de> for V {
        type Value = Option<NearDupConfig>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a table of near-duplicate settings, true for the defaults, or false for off")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(v.then(NearDupConfig::default))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            NearDupConfig::deserialize(MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(V)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NearDupConfig>, D::Error> {
        d.deserialize_any(V)
    }
}
