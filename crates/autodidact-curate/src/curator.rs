//! The curator: decides every record's fate.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use autodidact_data::{Record, Verdict};
use rayon::prelude::*;
use serde::Serialize;

use crate::config::{CurateConfig, DedupField, Selection};
use crate::decontaminate::{EvalFile, EvalSet};
use crate::error::CurateError;
use crate::hash::{PassThrough, hash_str};
use crate::lsh::LshIndex;
use crate::minhash::{MinHasher, Signature};
use crate::normalize::Words;
use crate::select::{SELECT_PERMUTATIONS, SelectionReport, diversity, k_center, random_choice};
use crate::unionfind::UnionFind;

mod persist;

thread_local! {
    /// Each thread's buffers for the words of the response being analysed.
    static RESPONSE_WORDS: std::cell::RefCell<Words> = std::cell::RefCell::new(Words::default());
}

/// Seed of the MinHash permutations. Fixed, so that signatures, and so decisions, are the
/// same in every run.
const MINHASH_SEED: u64 = 0x6175_746f_6469_6461;

/// Seed of the word-set signatures of selection, and of its random choices.
const SELECT_SEED: u64 = 0x7365_6c65_6374_2121;

/// Seed of the repetition check's 3-gram hashes.
const REPETITION_SEED: u64 = 0x7265_7065_6174_7333;

/// Records handed to one rayon task at least: below this, splitting costs more than it saves.
const MIN_CHUNK: usize = 16;

/// Records remembered per parallel step.
const REMEMBER_CHUNK: usize = 8192;

/// Counts of what curation decided, over every [`Curator::curate`] call.
#[derive(Default, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct CurateStats {
    /// Records curated.
    pub seen: u64,
    /// Records kept.
    pub kept: u64,
    /// Records rejected, by check: `failed` (rejected before curation), `score`, `length`,
    /// `repetition`, `contaminated`, `exact_duplicate`, `near_duplicate`, `budget` (passed, not
    /// selected).
    pub rejected_by: BTreeMap<String, u64>,
}

impl CurateStats {
    /// Records rejected, all checks together.
    pub fn rejected(&self) -> u64 {
        self.rejected_by.values().sum()
    }
}

/// The near-duplicate machinery: signatures and the history's LSH index.
struct Near {
    hasher: MinHasher,
    threshold: f64,
    bands: usize,
    rows: usize,
    index: LshIndex,
    /// LSH item → history entry.
    entries: Vec<u32>,
    /// The index of one batch's own records, emptied and reused by every batch.
    batch: LshIndex,
}

/// Decides every record's fate: kept, or rejected with a reason. Remembers what it kept (and
/// what it was told to [`remember`](Curator::remember)) so later records are checked against it.
pub struct Curator {
    cfg: CurateConfig,
    field: DedupField,
    near: Option<Near>,
    /// Whether anything is deduplicated at all (exact or near).
    dedup: bool,
    /// Normalised-text key → history entry. Kept even when exact duplicates are allowed, so
    /// that identical texts enter the LSH index once.
    exact: HashMap<u128, u32, PassThrough>,
    /// History entries' record ids.
    history: Vec<String>,
    evals: Option<EvalSet>,
    stats: CurateStats,
    /// What the budget did in the last `curate` call, when it chose.
    selection: Option<SelectionReport>,
}

/// A rejection decided per record, before deduplication.
#[derive(Debug)]
struct Rejection {
    kind: &'static str,
    reason: String,
}

/// The verdicts of [`Curator::decide`], one per record, in input order.
#[derive(Debug)]
pub struct Decisions(Vec<Option<Rejection>>);

impl Decisions {
    /// Sets each record's verdict: `Kept`, or `Rejected` with its reason.
    ///
    /// # Panics
    /// If `records` are not as many as were decided.
    pub fn apply(self, records: &mut [Record]) {
        assert_eq!(records.len(), self.0.len(), "decisions apply to the records decided");
        for (rec, fate) in records.iter_mut().zip(self.0) {
            match fate {
                Some(Rejection { reason, .. }) => rec.reject(reason),
                None => {
                    rec.verdict = Verdict::Kept;
                    rec.reason = None;
                }
            }
        }
    }
}

/// What the per-record checks found about one record.
enum Analysis {
    Rejected(Rejection),
    /// Passed the filters and does not duplicate history; competes within the batch.
    Candidate { key: u128, sig: Option<Signature> },
    /// Passed the filters; nothing is deduplicated.
    Pass,
}

impl Curator {
    /// Validates the configuration and loads the decontamination sets (errors name file and
    /// line).
    pub fn new(cfg: &CurateConfig) -> Result<Self, CurateError> {
        cfg.validate()?;
        let near = match &cfg.near_duplicates {
            Some(n) => {
                let (bands, rows) = n.bands_rows()?;
                Some(Near {
                    hasher: MinHasher::new(n.permutations, n.ngram, MINHASH_SEED),
                    threshold: n.threshold,
                    bands,
                    rows,
                    index: LshIndex::new(bands, rows, n.permutations),
                    entries: Vec::new(),
                    batch: LshIndex::new(bands, rows, n.permutations),
                })
            }
            None => None,
        };
        let evals = if cfg.decontaminate.is_empty() {
            None
        } else {
            Some(EvalSet::load(&cfg.decontaminate, cfg.decontaminate_ngram)?)
        };
        Ok(Curator {
            field: cfg.dedup_field(),
            dedup: cfg.exact_duplicates || near.is_some(),
            near,
            exact: HashMap::default(),
            history: Vec::new(),
            evals,
            stats: CurateStats::default(),
            selection: None,
            cfg: cfg.clone(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &CurateConfig {
        &self.cfg
    }

    /// The LSH bands and rows in force, when near duplicates are removed.
    pub fn bands_rows(&self) -> Option<(usize, usize)> {
        self.near.as_ref().map(|n| (n.bands, n.rows))
    }

    /// What was read from each decontamination file.
    pub fn eval_files(&self) -> &[EvalFile] {
        self.evals.as_ref().map_or(&[], |e| e.files())
    }

    /// The number of records new ones are checked against (remembered and kept so far; texts
    /// seen twice count once).
    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    /// Makes room in the indexes for `additional` more kept records (a file's row count, say),
    /// so that they never grow, and copy themselves, on the way.
    pub fn reserve(&mut self, additional: usize) {
        self.exact.reserve(additional);
        self.history.reserve(additional);
        if let Some(near) = self.near.as_mut() {
            near.index.reserve(additional);
            near.entries.reserve(additional);
        }
    }

    /// Counts of every decision so far.
    pub fn stats(&self) -> &CurateStats {
        &self.stats
    }

    /// What the budget chose in the last [`curate`](Self::curate) call, with the diversity of
    /// the choice against a random one and the best-scored one of the same size; `None` when
    /// no budget is set or no more records passed than it keeps.
    pub fn last_selection(&self) -> Option<&SelectionReport> {
        self.selection.as_ref()
    }

    /// Adds earlier kept data (previous generations, real data) to the indexes so new records
    /// are checked against it, without deciding anything about them. Records whose verdict is
    /// `Rejected` are not kept data and are skipped.
    pub fn remember(&mut self, records: &[Record]) {
        if !self.dedup {
            return;
        }
        // In chunks, so that remembering millions of records never holds all their
        // signatures at once besides the index's own copy.
        for chunk in records.chunks(REMEMBER_CHUNK) {
            let keyed: Vec<Option<(u128, Option<Signature>)>> = chunk
                .par_iter()
                .with_min_len(MIN_CHUNK)
                .map(|r| (r.verdict != Verdict::Rejected).then(|| self.dedup_key(r, None)))
                .collect();
            let entries = chunk.iter().zip(keyed).filter_map(|(r, k)| k.map(|(key, sig)| (r.id.clone(), key, sig)));
            self.add_history_many(entries.collect::<Vec<_>>());
        }
    }

    /// Adds the rows of a file of earlier kept data (real data, an earlier dataset; JSONL or
    /// Parquet, the text in `text`, else `response`) to the history, as
    /// [`remember`](Self::remember) adds records; the text is compared as the response (or as
    /// the prompt when `field = "prompt"`). Returns the number of rows read. Rows without an
    /// `id` are named by file and line (or row) in the reasons of their duplicates.
    pub fn remember_file(&mut self, path: &std::path::Path) -> Result<usize, CurateError> {
        let bad = |e: autodidact_data::DataError| CurateError::Remember { path: path.to_path_buf(), message: e.to_string() };
        let mut reader = autodidact_data::open_rows(path, None).map_err(bad)?;
        let file = path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
        let mut rows = 0;
        while let Some(batch) = reader.next_batch(REMEMBER_CHUNK).map_err(bad)? {
            rows += batch.texts.len();
            let records: Vec<Record> = batch
                .texts
                .into_iter()
                .zip(batch.names)
                .map(|(text, name)| {
                    let id = if name.starts_with("line ") || name.starts_with("row ") { format!("{file} {name}") } else { name };
                    match self.field {
                        DedupField::Prompt => Record { id, prompt: text, ..Record::default() },
                        _ => Record { id, response: text, ..Record::default() },
                    }
                })
                .collect();
            self.remember(&records);
        }
        Ok(rows)
    }

    /// Decides each record; returns them in input order, each `Kept` or `Rejected` with a
    /// reason, and adds the kept ones to the indexes (so a later call sees them as history).
    ///
    /// Checks, in order: rejected upstream (`failed`, its reason kept), score, length,
    /// repetition, contamination, exact duplicate, near duplicate, and last the budget (see
    /// [`CurateConfig::budget`]; `budget`). Among new records that
    /// duplicate each other (a cluster, joined through exact or near duplicate pairs), the one
    /// with the highest score is kept, the earliest on ties; a record duplicating history is
    /// rejected whatever its score.
    pub fn curate(&mut self, mut records: Vec<Record>) -> Vec<Record> {
        self.decide(&records).apply(&mut records);
        records
    }

    /// [`curate`](Self::curate) without touching the records: decides each record and adds
    /// the kept ones to the indexes, and returns the verdicts for [`Decisions::apply`]. The
    /// records stay borrowed only for reading, so they can be written out meanwhile.
    pub fn decide(&mut self, records: &[Record]) -> Decisions {
        let analyses: Vec<Analysis> =
            records.par_iter().with_min_len(MIN_CHUNK).map(|r| self.analyze(r)).collect();

        // Batch records that passed every per-record check, in input order.
        let mut members: Vec<Member> = Vec::new();
        let mut fates: Vec<Option<Rejection>> = Vec::with_capacity(records.len());
        for (i, a) in analyses.into_iter().enumerate() {
            match a {
                Analysis::Rejected(r) => fates.push(Some(r)),
                Analysis::Candidate { key, sig } => {
                    fates.push(None);
                    members.push(Member { record: i, key, sig, rank: rank(records[i].score) });
                }
                Analysis::Pass => fates.push(None),
            }
        }
        self.cluster(records, &members, &mut fates);
        self.selection = None;
        if let Some(budget) = self.cfg.budget {
            self.select(records, budget, &mut fates);
        }

        let mut members = members.into_iter().peekable();
        let mut kept = Vec::new();
        for (i, (rec, fate)) in records.iter().zip(&fates).enumerate() {
            self.stats.seen += 1;
            let member = members.next_if(|m| m.record == i);
            match fate {
                Some(Rejection { kind, .. }) => {
                    *self.stats.rejected_by.entry(kind.to_string()).or_insert(0) += 1;
                }
                None => {
                    self.stats.kept += 1;
                    if let Some(m) = member {
                        kept.push((rec.id.clone(), m.key, m.sig));
                    }
                }
            }
        }
        self.add_history_many(kept);
        Decisions(fates)
    }

    /// The exact-duplicate key of the text compared for duplicates (BLAKE3 of the normalised
    /// text, 128 bits: collisions are out of reach at any data size) and, with near duplicates
    /// on, its MinHash signature. `response` is the response's words when already computed.
    fn dedup_key(&self, r: &Record, response: Option<&Words>) -> (u128, Option<Signature>) {
        let sign = |w: &Words| self.near.as_ref().map(|n| n.hasher.signature_of_words(w));
        let mut slot = None;
        match self.field {
            DedupField::Response => {
                let w = words_or(response, &r.response, &mut slot);
                (digest(&[w.as_str()]), sign(w))
            }
            DedupField::Prompt => {
                let p = Words::new(&r.prompt);
                (digest(&[p.as_str()]), sign(&p))
            }
            DedupField::PromptResponse => {
                let mut both = Words::new(&r.prompt);
                let w = words_or(response, &r.response, &mut slot);
                let key = digest(&[both.as_str(), w.as_str()]);
                both.push_text(w.as_str());
                (key, sign(&both))
            }
        }
    }

    /// The words of the text compared for duplicates (and for diversity).
    fn compared_words(&self, r: &Record) -> Words {
        match self.field {
            DedupField::Response => Words::new(&r.response),
            DedupField::Prompt => Words::new(&r.prompt),
            DedupField::PromptResponse => {
                let mut both = Words::new(&r.prompt);
                both.push_text(Words::new(&r.response).as_str());
                both
            }
        }
    }

    /// When more records passed than `budget`, keeps `budget` of them by the configured
    /// selection and rejects the others; measures the choice against a random one and the
    /// best-scored one of the same size.
    fn select(&mut self, records: &[Record], budget: usize, fates: &mut [Option<Rejection>]) {
        let passed: Vec<usize> = (0..records.len()).filter(|&i| fates[i].is_none()).collect();
        let n = passed.len();
        if n <= budget {
            return;
        }
        let hasher = MinHasher::new(SELECT_PERMUTATIONS, 1, SELECT_SEED);
        let words: Vec<Words> = passed.par_iter().map(|&i| self.compared_words(&records[i])).collect();
        let sigs: Vec<Signature> = words.par_iter().map(|w| hasher.signature_of_words(w)).collect();
        let ranks: Vec<f64> = passed.iter().map(|&i| rank(records[i].score)).collect();
        // Different draws in different calls, the same in every run.
        let seed = SELECT_SEED ^ self.stats.seen;
        let mut by_score: Vec<usize> = (0..n).collect();
        by_score.sort_by(|&a, &b| ranks[b].total_cmp(&ranks[a]).then(a.cmp(&b)));
        by_score.truncate(budget);
        by_score.sort_unstable();
        let random = random_choice(n, budget, seed);
        let method = self.cfg.selection;
        let mut chosen = match method {
            Selection::Diverse => k_center(&sigs, &ranks, budget),
            Selection::Score => by_score.clone(),
            Selection::Random => random_choice(n, budget, seed ^ 1),
        };
        chosen.sort_unstable();
        let mut keep = vec![false; n];
        for &c in &chosen {
            keep[c] = true;
        }
        let name = method.as_str();
        for (j, &i) in passed.iter().enumerate() {
            if !keep[j] {
                fates[i] = Some(Rejection {
                    kind: "budget",
                    reason: format!("not selected: {n} records passed and the budget keeps {budget} ({name} selection)"),
                });
            }
        }
        self.selection = Some(SelectionReport {
            method: name.to_string(),
            candidates: n,
            budget,
            kept: diversity(&sigs, &words, &chosen, seed),
            random: diversity(&sigs, &words, &random, seed),
            by_score: diversity(&sigs, &words, &by_score, seed),
        });
    }

    /// Every per-record check, and the lookups against history (read-only, so this runs in
    /// parallel).
    fn analyze(&self, r: &Record) -> Analysis {
        let cfg = &self.cfg;
        let reject = |kind, reason: String| Analysis::Rejected(Rejection { kind, reason });
        if r.verdict == Verdict::Rejected {
            let reason = r.reason.clone().unwrap_or_else(|| "rejected before curation".to_string());
            return reject("failed", reason);
        }
        if let Some(min) = cfg.min_score {
            match r.score {
                None => return reject("score", "not graded".into()),
                Some(s) if s.is_nan() => return reject("score", "not graded (score is NaN)".into()),
                Some(s) if s < min => {
                    let (s, m) = two(s, min);
                    return reject("score", format!("score {s} below min_score {m}"));
                }
                Some(_) => {}
            }
        }
        // The response's words go into this thread's buffers, reused from record to record.
        RESPONSE_WORDS.with_borrow_mut(|response| {
            response.set(&r.response);
            self.analyze_words(r, response)
        })
    }

    /// [`analyze`](Self::analyze) past the score check, given the response's words.
    fn analyze_words(&self, r: &Record, response: &Words) -> Analysis {
        let cfg = &self.cfg;
        let reject = |kind, reason: String| Analysis::Rejected(Rejection { kind, reason });
        let n = response.len();
        if n < cfg.min_words {
            return reject("length", format!("too short: {n} words < min_words {}", cfg.min_words));
        }
        if let Some(max) = cfg.max_words
            && n > max
        {
            return reject("length", format!("too long: {n} words > max_words {max}"));
        }
        // A share is at most 1: with `max_repetition` 1 or more nothing is measured.
        let rep = if cfg.max_repetition >= 1.0 { 0.0 } else { repetition(response) };
        if rep > cfg.max_repetition {
            let (a, b) = two(rep, cfg.max_repetition);
            return reject(
                "repetition",
                format!("repetitive: {a} of word 3-grams repeated > max_repetition {b}"),
            );
        }
        if let Some(evals) = &self.evals {
            let prompt = Words::new(&r.prompt);
            let context = r.context.as_deref().map(Words::new);
            let parts = [("prompt", Some(&prompt)), ("response", Some(response)), ("context", context.as_ref())];
            for (name, words) in parts {
                if let Some(hit) = words.and_then(|w| evals.find(w)) {
                    return reject(
                        "contaminated",
                        format!(
                            "contaminated: shares {}-gram \"{}\" with {} (in the {name})",
                            evals.ngram(),
                            hit.ngram,
                            hit.file.display()
                        ),
                    );
                }
            }
        }
        if !self.dedup {
            return Analysis::Pass;
        }
        let (key, sig) = self.dedup_key(r, Some(response));
        if self.cfg.exact_duplicates
            && let Some(&h) = self.exact.get(&key)
        {
            return reject("exact_duplicate", format!("exact duplicate of {}", self.history_name(h)));
        }
        if let (Some(near), Some(s)) = (&self.near, &sig)
            && let Some((item, j)) = near.index.query(s, near.threshold)
        {
            let h = near.entries[item as usize];
            return reject(
                "near_duplicate",
                format!("near duplicate of {} (estimated Jaccard {j:.2})", self.history_name(h)),
            );
        }
        Analysis::Candidate { key, sig }
    }

    fn history_name(&self, h: u32) -> String {
        match self.history.get(h as usize) {
            Some(id) if !id.is_empty() => id.clone(),
            _ => "an earlier record without id".to_string(),
        }
    }

    /// Adds one kept or remembered text to the indexes.
    fn add_history(&mut self, id: String, key: u128, sig: Option<Signature>) {
        self.add_history_many(std::iter::once((id, key, sig)));
    }

    /// Adds entries to the history, in order, as [`add_history`](Self::add_history) one by
    /// one would; the signatures go into the LSH index together, one band per thread.
    fn add_history_many(&mut self, entries: impl IntoIterator<Item = (String, u128, Option<Signature>)>) {
        let mut signed: Vec<Signature> = Vec::new();
        for (id, key, sig) in entries {
            let h = u32::try_from(self.history.len()).unwrap_or(u32::MAX);
            match self.exact.entry(key) {
                // The same text is already known: its id stays the one duplicates are
                // reported against, and its signature is already indexed.
                Entry::Occupied(_) => continue,
                Entry::Vacant(e) => {
                    e.insert(h);
                }
            }
            self.history.push(id);
            if let (Some(near), Some(sig)) = (self.near.as_mut(), sig)
                && !sig.is_empty()
            {
                near.entries.push(h);
                signed.push(sig);
            }
        }
        if let Some(near) = self.near.as_mut()
            && !signed.is_empty()
        {
            let values: Vec<&[u32]> = signed.iter().map(Signature::as_slice).collect();
            near.index.insert_many(&values);
        }
    }

    /// Groups the batch's candidates into clusters of exact and near duplicates, keeps the
    /// best of each and writes the others' rejections into `fates`.
    fn cluster(&mut self, records: &[Record], members: &[Member], fates: &mut [Option<Rejection>]) {
        let m = members.len();
        if m < 2 {
            return;
        }
        let mut uf = UnionFind::new(m);
        // Identical texts are joined directly and only the first of them (its representative)
        // goes through LSH: they have the same signature, and a bucket of many identical texts
        // would otherwise cost a quadratic number of comparisons.
        let mut rep = (0..m).collect::<Vec<usize>>();
        let mut first: HashMap<u128, usize, PassThrough> = HashMap::default();
        for (i, x) in members.iter().enumerate() {
            let joinable = self.cfg.exact_duplicates || x.sig.as_ref().is_some_and(|s| !s.is_empty());
            if !joinable {
                continue;
            }
            match first.entry(x.key) {
                Entry::Occupied(e) => {
                    rep[i] = *e.get();
                    uf.union(i, *e.get());
                }
                Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
        // Best verified neighbour of each representative, to explain transitive links.
        let mut best: Vec<Option<(usize, f64)>> = vec![None; m];
        if let Some(near) = self.near.as_mut() {
            let threshold = near.threshold;
            let index = &mut near.batch;
            index.clear();
            let mut items: Vec<usize> = Vec::new();
            let mut cands = Vec::new();
            for i in 0..m {
                let Some(sig) = members[i].sig.as_ref().filter(|s| !s.is_empty() && rep[i] == i) else {
                    continue;
                };
                cands.clear();
                index.candidates(sig.as_slice(), &mut cands);
                for &c in &cands {
                    let j = items[c as usize];
                    if uf.find(i) == uf.find(j) {
                        // Already in one cluster: the pair cannot change the clusters.
                        continue;
                    }
                    let jac = crate::minhash::jaccard_slices(sig.as_slice(), index.signature(c));
                    if jac >= threshold {
                        uf.union(i, j);
                        for (a, b) in [(i, j), (j, i)] {
                            if best[a].is_none_or(|(_, s)| jac > s) {
                                best[a] = Some((b, jac));
                            }
                        }
                    }
                }
                index.insert(sig);
                items.push(i);
            }
        }
        // The winner of each cluster: highest score, then earliest (members are in input order).
        let mut winner = vec![usize::MAX; m];
        for i in 0..m {
            let r = uf.find(i);
            if winner[r] == usize::MAX || members[i].rank > members[winner[r]].rank {
                winner[r] = i;
            }
        }
        for i in 0..m {
            let w = winner[uf.find(i)];
            if w == i {
                continue;
            }
            let (x, y) = (&members[i], &members[w]);
            let wid = batch_name(&records[y.record], y.record);
            fates[x.record] = Some(if self.cfg.exact_duplicates && x.key == y.key {
                Rejection { kind: "exact_duplicate", reason: format!("exact duplicate of {wid}") }
            } else {
                let threshold = self.near.as_ref().map_or(1.0, |n| n.threshold);
                let j = match (&x.sig, &y.sig) {
                    (Some(a), Some(b)) => a.jaccard(b),
                    _ => 1.0,
                };
                let mut reason = format!("near duplicate of {wid} (estimated Jaccard {j:.2}");
                // A record identical to another one of the cluster is linked through it;
                // otherwise through its most similar verified neighbour.
                let link = if rep[i] != i { Some((rep[i], 1.0)) } else { best[i] };
                if j < threshold
                    && let Some((via, s)) = link
                {
                    let m = &members[via];
                    reason.push_str(&format!(
                        "; linked through {} at {s:.2}",
                        batch_name(&records[m.record], m.record)
                    ));
                }
                reason.push(')');
                Rejection { kind: "near_duplicate", reason }
            });
        }
    }
}

/// One batch record that passed every per-record check.
struct Member {
    record: usize,
    key: u128,
    sig: Option<Signature>,
    /// Score for ranking within a cluster; ungraded or NaN ranks lowest.
    rank: f64,
}

/// `words`, or the words of `text` computed into `slot`.
fn words_or<'a>(words: Option<&'a Words>, text: &str, slot: &'a mut Option<Words>) -> &'a Words {
    match words {
        Some(w) => w,
        None => slot.insert(Words::new(text)),
    }
}

fn rank(score: Option<f64>) -> f64 {
    score.filter(|s| !s.is_nan()).unwrap_or(f64::NEG_INFINITY)
}

fn batch_name(r: &Record, position: usize) -> String {
    if r.id.is_empty() { format!("the record without id at position {position}") } else { r.id.clone() }
}

/// 128 bits of BLAKE3 over length-prefixed parts, so that moving a word from the prompt to
/// the response changes the key.
fn digest(parts: &[&str]) -> u128 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let bytes = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes.as_bytes()[..16]);
    u128::from_le_bytes(b)
}

/// The share of word 3-grams that repeat an earlier 3-gram of the same text (0 with fewer
/// than 3 words).
pub(crate) fn repetition(words: &Words) -> f64 {
    let total = words.len().saturating_sub(2);
    if total == 0 {
        return 0.0;
    }
    let mut seen: std::collections::HashSet<u64, PassThrough> =
        std::collections::HashSet::with_capacity_and_hasher(total, PassThrough::default());
    let repeated = words.ngrams(3).filter(|g| !seen.insert(hash_str(g, REPETITION_SEED))).count();
    repeated as f64 / total as f64
}

/// Two numbers for a reason, with two decimals unless that would show them equal.
fn two(a: f64, b: f64) -> (String, String) {
    let (x, y) = (format!("{a:.2}"), format!("{b:.2}"));
    if x == y && a != b { (format!("{a}"), format!("{b}")) } else { (x, y) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetition_share() {
        let check = |text: &str, expected: f64| {
            let got = repetition(&Words::new(text));
            assert!((got - expected).abs() < 1e-12, "{text:?}: {got} != {expected}");
        };
        check("", 0.0);
        check("a b", 0.0);
        check("a b c", 0.0);
        // a b c | b c a | c a b | a b c (repeat): 1 of 4.
        check("a b c a b c", 0.25);
        // 8 words, 6 trigrams, all "x x x": 5 repeats.
        check("x x x x x x x x", 5.0 / 6.0);
        check("The cat. the CAT! the cat", 2.0 / 4.0);
    }

    #[test]
    fn numbers_in_reasons_never_look_equal() {
        assert_eq!(two(0.55, 0.7), ("0.55".into(), "0.70".into()));
        assert_eq!(two(0.699, 0.7), ("0.699".into(), "0.7".into()));
        assert_eq!(two(0.5, 0.5), ("0.50".into(), "0.50".into()));
    }
}
