//! The happy path: two generations of essays, self-grading, revision and near-duplicate
//! removal, checked file by file and number by number.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::path::Path;

use arrow_array::{Array, Float64Array, StringArray, UInt32Array};
use arrow_schema::DataType;
use autodidact_data::{Record, Verdict};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use crate::server::{Behaviour, Kind, TestServer, quality};
use crate::util::{Cfg, Sandbox, category, gen_dir, id_counts, json, records};

const SEEDS: usize = 12;
const PER_SEED: usize = 2;

#[test]
fn two_generations_with_revision_and_near_duplicates() {
    // `repeats`: for some topics generation 1 rewrites generation 0's text word for word.
    let server = TestServer::start(Behaviour { repeats: true, ..Behaviour::default() });
    let sb = Sandbox::new();
    sb.topics(SEEDS);
    let mut cfg = Cfg::new(&server.url());
    cfg.generations = 2;
    cfg.revise = Some((1, 0.7));
    cfg.write(&sb);

    let out = sb.run("out", &["--json"]);
    out.expect_code(0);
    let dir = sb.path().join("out");
    for f in ["config.toml", "run.db", "dataset.parquet", "dataset.jsonl", "summary.json", "report.html"] {
        assert!(dir.join(f).is_file(), "{f} is missing");
    }
    let summary = json(&dir.join("summary.json"));
    let printed: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("--json stdout is not JSON ({e}):\n{}", out.stdout));
    assert_eq!(printed, summary, "--json prints the summary");
    assert_eq!(summary["task"], "essay");
    assert_eq!(summary["seed"], 7);
    let gens = summary["generations"].as_array().expect("generations");
    assert_eq!(gens.len(), 2);

    let mut kept_all: Vec<Record> = Vec::new();
    let mut totals = (0u64, 0u64, 0u64);
    // (prompt, response) pairs the judge was asked about, and those rewritten.
    let mut judged: HashSet<(String, String)> = HashSet::new();
    let mut revised: HashSet<(String, String)> = HashSet::new();
    let mut near_duplicate_rejections = 0;
    let mut repeats_of_history = 0;
    for g in 0..2u32 {
        let gd = gen_dir(&dir, g);
        let generated = records(&gd.join("generated.parquet"));
        let graded = records(&gd.join("graded.parquet"));
        let curated = records(&gd.join("curated.parquet"));
        let rejected = records(&gd.join("rejected.parquet"));

        assert_eq!(generated.len(), SEEDS * PER_SEED, "generation {g}: one record per seed and sample");
        for r in &generated {
            assert_eq!((r.generation, r.task.as_str(), r.model.as_deref()), (g, "essay", Some("test-model")));
            assert_eq!(r.verdict, Verdict::Pending, "{r:?}");
            assert!(r.response.split_whitespace().count() > 40, "{r:?}");
            assert_eq!(r.id, Record::content_id(&r.prompt, &r.response, None));
        }
        let parents: HashSet<_> = generated.iter().map(|r| r.parent.clone().unwrap()).collect();
        assert_eq!(parents.len(), SEEDS);

        // Grading keeps the records in place; a revision changes the response (and so the id).
        assert_eq!(graded.len(), generated.len());
        let mut revisions = 0;
        for (before, after) in generated.iter().zip(&graded) {
            judged.insert((before.prompt.clone(), before.response.clone()));
            assert_eq!((&before.prompt, &before.parent), (&after.prompt, &after.parent));
            let judge_grades: Vec<f64> = after
                .grades
                .iter()
                .filter(|gr| gr.grader == "judge")
                .map(|gr| gr.score.expect("a judge score"))
                .collect();
            assert!(!judge_grades.is_empty(), "every record is judged: {after:?}");
            assert_eq!(after.score, judge_grades.last().copied(), "the score is the last judge grade");
            // The server's judge scores its quality, give or take one point per criterion.
            let s = after.score.unwrap();
            assert!((s - quality(&after.response) as f64 / 10.0).abs() <= 0.1 + 1e-9, "score {s} of {after:?}");
            if before.response == after.response {
                assert_eq!(before.id, after.id);
                assert_eq!(judge_grades.len(), 1, "a record graded {} was revised", judge_grades[0]);
                assert!(judge_grades[0] >= 0.7, "a record below the bar was not revised: {after:?}");
            } else {
                assert_ne!(before.id, after.id, "a revision gets a new id");
                assert_eq!(judge_grades.len(), 2, "one round of revision: {after:?}");
                assert!(judge_grades[0] < 0.7, "only records below 0.7 are revised");
                assert!(judge_grades[1] > judge_grades[0], "the server's revisions are better");
                revisions += 1;
                judged.insert((after.prompt.clone(), after.response.clone()));
                revised.insert((before.prompt.clone(), before.response.clone()));
            }
        }
        assert!(revisions > 0, "generation {g}: some records were revised");

        // Nothing is lost: what was graded is exactly what is curated or rejected.
        assert_eq!(id_counts(&graded), id_counts(curated.iter().chain(&rejected)), "generation {g}");
        assert!(!curated.is_empty() && !rejected.is_empty(), "generation {g}: some records pass 0.7, some don't");
        for r in &curated {
            assert_eq!(r.verdict, Verdict::Kept);
            assert!(r.reason.is_none(), "{r:?}");
            assert!(r.score.unwrap() >= 0.7, "{r:?}");
        }
        let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
        for r in &rejected {
            assert_eq!(r.verdict, Verdict::Rejected);
            let reason =
                r.reason.as_deref().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| panic!("no reason: {r:?}"));
            *by_reason.entry(category(reason).to_string()).or_default() += 1;
            if category(reason) == "score" {
                assert!(r.score.unwrap() < 0.7, "{r:?}");
            }
            if category(reason) == "exact_duplicate" && kept_all.iter().any(|k| k.response == r.response) {
                repeats_of_history += 1;
            }
        }
        near_duplicate_rejections += by_reason.get("near_duplicate").copied().unwrap_or(0);

        // metrics.json tells the same story as the files, and summary.json repeats it.
        let metrics = json(&gd.join("metrics.json"));
        assert_eq!(metrics, gens[g as usize], "generation {g}: summary.json holds metrics.json");
        assert_eq!(metrics["generation"], g);
        assert_eq!(metrics["seeds"], SEEDS);
        assert_eq!(metrics["generated"], generated.len());
        assert_eq!(metrics["graded"], graded.len());
        assert_eq!(metrics["kept"], curated.len());
        assert_eq!(metrics["rejected"], rejected.len());
        assert_eq!(metrics["revisions"], revisions);
        assert_eq!(metrics["generation_failures"], 0);
        assert_eq!(metrics["grading_failures"], 0);
        assert_eq!(metrics["rejected_by"], serde_json::to_value(&by_reason).unwrap());
        let mean = graded.iter().map(|r| r.score.unwrap()).sum::<f64>() / graded.len() as f64;
        assert!((metrics["mean_score"].as_f64().unwrap() - mean).abs() < 1e-9);
        totals.0 += generated.len() as u64;
        totals.1 += curated.len() as u64;
        totals.2 += rejected.len() as u64;
        kept_all.extend(curated);
    }
    assert_eq!(summary["totals"]["generated"], totals.0);
    assert_eq!(summary["totals"]["kept"], totals.1);
    assert_eq!(summary["totals"]["rejected"], totals.2);

    // Near-duplicate removal is on: the server writes pairs that differ in one sentence, and
    // never do both survive (across generations too).
    assert!(near_duplicate_rejections > 0, "the server's near-duplicate pairs were caught");
    assert!(repeats_of_history > 0, "generation 1's repeats of kept generation-0 texts were caught");
    let mut heads = HashSet::new();
    for r in &kept_all {
        let head: Vec<&str> = r.response.split_whitespace().take(24).collect();
        assert!(heads.insert(head.join(" ")), "two kept records are near duplicates: {}", r.id);
    }

    // The final dataset: every kept record, generation by generation, in both formats.
    let kept_ids: Vec<String> = kept_all.iter().map(|r| r.id.clone()).collect();
    let dataset = records(&dir.join("dataset.parquet"));
    assert_eq!(dataset.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), kept_ids);
    assert_eq!(dataset, kept_all, "dataset.parquet holds the kept records as curated");
    assert_eq!(records(&dir.join("dataset.jsonl")), kept_all);
    assert_eq!(summary["dataset_records"], kept_ids.len());
    check_with_arrow(&dir.join("dataset.parquet"), &kept_all);

    // What the client counted is what the server saw.
    let stats = server.stats();
    assert_eq!(stats.bodies_of(Kind::Write), 2 * SEEDS, "one writer request per seed and generation (n honoured)");
    // A repeated text's grading and revision are answered from the run store, not asked again.
    assert_eq!(stats.bodies_of(Kind::Judge), judged.len());
    assert_eq!(stats.bodies_of(Kind::Revise), revised.len());
    assert!(stats.received.values().all(|&n| n == 1), "no request was sent twice");
    let usage = &summary["usage"]["writer"];
    assert_eq!(usage["requests"], stats.total);
    assert_eq!(usage["retries"], 0);
    assert_eq!(usage["failures"], 0);
    assert_eq!(usage["prompt_tokens"], stats.prompt_tokens);
    assert_eq!(usage["completion_tokens"], stats.completion_tokens);
    let sent: u64 = gens.iter().map(|g| g["requests"]["writer"]["sent"].as_u64().unwrap()).sum();
    assert_eq!(sent, stats.total);

    // The run directory's config is the one that ran, and runs again.
    let resolved = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(resolved.contains("generations = 2"), "{resolved}");
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.to_lowercase().contains("<html"), "report.html is a page");
}

/// Reads `dataset.parquet` with Arrow's own reader, not the product's: the columns a
/// pandas/polars/datasets user sees, with their types and values.
fn check_with_arrow(path: &Path, expected: &[Record]) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let columns: Vec<(&str, &DataType)> = schema.fields().iter().map(|f| (f.name().as_str(), f.data_type())).collect();
    let want_scalar = [
        ("id", DataType::Utf8),
        ("origin", DataType::Utf8),
        ("generation", DataType::UInt32),
        ("task", DataType::Utf8),
        ("prompt", DataType::Utf8),
        ("response", DataType::Utf8),
        ("context", DataType::Utf8),
        ("model", DataType::Utf8),
        ("parent", DataType::Utf8),
        ("score", DataType::Float64),
        ("verdict", DataType::Utf8),
        ("reason", DataType::Utf8),
    ];
    for (name, ty) in &want_scalar {
        let found =
            columns.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no column {name} in {columns:?}"));
        assert_eq!(found.1, ty, "column {name}");
    }
    let grades = columns.iter().find(|(n, _)| *n == "grades").expect("a grades column").1;
    let DataType::List(item) = grades else { panic!("grades is a list, not {grades:?}") };
    let DataType::Struct(fields) = item.data_type() else { panic!("grades items are structs, not {item:?}") };
    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["grader", "score", "explanation", "error", "details"]);
    assert_eq!(columns.len(), want_scalar.len() + 1, "{columns:?}");

    let (mut ids, mut scores, mut gens, mut verdicts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        let text =
            |name: &str| batch.column_by_name(name).unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
        let id = text("id");
        let verdict = text("verdict");
        let score = batch.column_by_name("score").unwrap().as_any().downcast_ref::<Float64Array>().unwrap().clone();
        let generation =
            batch.column_by_name("generation").unwrap().as_any().downcast_ref::<UInt32Array>().unwrap().clone();
        for i in 0..batch.num_rows() {
            ids.push(id.value(i).to_string());
            verdicts.push(verdict.value(i).to_string());
            scores.push((!score.is_null(i)).then(|| score.value(i)));
            gens.push(generation.value(i));
        }
    }
    assert_eq!(ids, expected.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
    assert_eq!(scores, expected.iter().map(|r| r.score).collect::<Vec<_>>());
    assert_eq!(gens, expected.iter().map(|r| r.generation).collect::<Vec<_>>());
    assert!(verdicts.iter().all(|v| v == "kept"), "{verdicts:?}");
}
