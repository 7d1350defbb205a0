//! The generate stage: the writer model writes records from seeds.
//!
//! Every request is deterministic given the configuration, the seed and the generation, so a
//! resumed run asks exactly the same questions and finds their answers in the run store.
//! A request that fails after its retries becomes a rejected record with the reason: nothing
//! is dropped.

use std::future::Future;

use autodidact_data::{Origin, Record, Verdict};
use autodidact_models::{ChatRequest, Message};
use futures::StreamExt;
use minijinja::context;
use rand::SeedableRng;
use rand::seq::IndexedRandom;

use crate::config::{Config, EssayKind, TaskKind};
use crate::context::Context;
use crate::error::PipelineError;
use crate::progress::StageProgress;
use crate::tasks::{Seed, Templates, clean_instruction};

/// A seed for one request, derived from the run seed and the request's identity.
pub fn derive_seed(run_seed: u64, parts: &[&str]) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&run_seed.to_le_bytes());
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let bytes = h.finalize();
    // Servers take the seed as a signed 64-bit or smaller integer; keep it in 0..2^31.
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().unwrap()) & 0x7fff_ffff
}

/// Runs `f` over `items` with at most `limit` in flight, returning results in input order.
pub(crate) async fn run_ordered<T, O, F, Fut>(items: Vec<T>, limit: usize, bar: &dyn StageProgress, f: F) -> Vec<O>
where
    F: Fn(usize, T) -> Fut,
    Fut: Future<Output = O>,
{
    let n = items.len();
    let mut out: Vec<Option<O>> = (0..n).map(|_| None).collect();
    let mut stream = futures::stream::iter(items.into_iter().enumerate())
        .map(|(i, t)| {
            let fut = f(i, t);
            async move { (i, fut.await) }
        })
        .buffer_unordered(limit.max(1));
    while let Some((i, o)) = stream.next().await {
        out[i] = Some(o);
        bar.inc(1);
    }
    out.into_iter().map(|o| o.expect("every item yields once")).collect()
}

/// How many requests a stage keeps under way for a model: its bound plus a little slack so
/// that cached answers never starve the server.
pub(crate) fn stage_limit(cfg: &Config, model: &str) -> usize {
    cfg.models[model].max_in_flight * 2 + 32
}

fn failed_record(cfg: &Config, gen_no: u32, prompt: String, context: Option<String>, parent: &str, why: String) -> Record {
    let mut r = Record::new(prompt, "", context);
    r.origin = Origin::Synthetic;
    r.generation = gen_no;
    r.task = cfg.generate.task.name().to_string();
    r.model = Some(cfg.models[&cfg.generate.writer].model.clone());
    r.parent = Some(parent.to_string());
    r.verdict = Verdict::Rejected;
    r.reason = Some(format!("generation failed: {why}"));
    r
}

fn new_record(cfg: &Config, gen_no: u32, prompt: &str, response: &str, context: Option<String>, parent: &str) -> Record {
    let mut r = Record::new(prompt, response.trim(), context);
    r.origin = Origin::Synthetic;
    r.generation = gen_no;
    r.task = cfg.generate.task.name().to_string();
    r.model = Some(cfg.models[&cfg.generate.writer].model.clone());
    r.parent = Some(parent.to_string());
    r
}

fn writer_request(cfg: &Config, prompt: &str, n: u32, seed: u64) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::user(prompt)],
        temperature: Some(cfg.generate.temperature),
        max_tokens: Some(cfg.generate.max_tokens),
        n,
        seed: Some(seed),
        ..ChatRequest::default()
    }
}

/// Writes generation `gen_no`'s records from the seeds. `pool` holds, for `self-instruct`, the
/// instructions kept in earlier generations, which join the seeds as examples.
pub async fn generate(
    cfg: &Config,
    cx: &Context,
    templates: &Templates,
    seeds: &[Seed],
    pool: &[Seed],
    gen_no: u32,
) -> Result<Vec<Record>, PipelineError> {
    match cfg.generate.task {
        TaskKind::Essay => essays(cfg, cx, templates, seeds, gen_no).await,
        TaskKind::SelfInstruct => self_instruct(cfg, cx, templates, seeds, pool, gen_no).await,
        TaskKind::QaFromDocs => qa(cfg, cx, templates, seeds, gen_no).await,
        TaskKind::Code => code(cfg, cx, templates, seeds, gen_no).await,
    }
}

/// Programming problems → answers with a solution (and tests when the problem gives none).
/// The problem's given tests become the record's context, which `verify = "code"` runs.
async fn code(cfg: &Config, cx: &Context, t: &Templates, seeds: &[Seed], gen_no: u32) -> Result<Vec<Record>, PipelineError> {
    let mut jobs = Vec::with_capacity(seeds.len());
    for seed in seeds {
        jobs.push((seed, t.render("code", context! { problem => &seed.text, tests => &seed.tests })?, seed.tests.clone()));
    }
    write_per_seed(cfg, cx, "code", &format!("generation {gen_no}: writing code"), jobs, gen_no).await
}

async fn essays(cfg: &Config, cx: &Context, t: &Templates, seeds: &[Seed], gen_no: u32) -> Result<Vec<Record>, PipelineError> {
    let mut jobs = Vec::with_capacity(seeds.len());
    for (i, seed) in seeds.iter().enumerate() {
        let template = match cfg.generate.kind {
            EssayKind::Essay => "essay",
            EssayKind::Thesis => "thesis",
            EssayKind::Mixed if i % 2 == 0 => "essay",
            EssayKind::Mixed => "thesis",
        };
        jobs.push((seed, t.render(template, context! { topic => &seed.text })?, None));
    }
    write_per_seed(cfg, cx, "essay", &format!("generation {gen_no}: writing"), jobs, gen_no).await
}

/// One request per (seed, prompt, context) for `per_seed` samples; a record per sample, or
/// `per_seed` failed records when the request failed.
async fn write_per_seed(
    cfg: &Config,
    cx: &Context,
    kind: &str,
    label: &str,
    jobs: Vec<(&Seed, String, Option<String>)>,
    gen_no: u32,
) -> Result<Vec<Record>, PipelineError> {
    let writer = cfg.generate.writer.as_str();
    let bar = cx.progress.start(label, jobs.len() as u64);
    let results = run_ordered(jobs, stage_limit(cfg, writer), bar.as_ref(), |_, (seed, prompt, context)| async move {
        let rs = derive_seed(cfg.run.seed, &[kind, &gen_no.to_string(), &seed.id]);
        let req = writer_request(cfg, &prompt, cfg.generate.per_seed, rs);
        let res = cx.chat(writer, &req).await;
        (seed, prompt, context, res)
    })
    .await;
    bar.finish();
    let mut records = Vec::new();
    let mut last_err = None;
    for (seed, prompt, context, res) in results {
        match res {
            Ok(resp) => {
                for c in resp.choices {
                    records.push(new_record(cfg, gen_no, &prompt, &c.text, context.clone(), &seed.id));
                }
            }
            Err(e) => {
                for _ in 0..cfg.generate.per_seed {
                    records.push(failed_record(cfg, gen_no, prompt.clone(), context.clone(), &seed.id, e.to_string()));
                }
                last_err = Some(e);
            }
        }
    }
    cx.check(last_err.as_ref().map(|e| (writer, e)))?;
    Ok(records)
}

async fn self_instruct(
    cfg: &Config,
    cx: &Context,
    t: &Templates,
    seeds: &[Seed],
    pool: &[Seed],
    gen_no: u32,
) -> Result<Vec<Record>, PipelineError> {
    let writer = cfg.generate.writer.as_str();
    let all: Vec<&Seed> = seeds.iter().chain(pool.iter()).collect();
    let wanted = cfg.generate.instructions.unwrap_or(seeds.len()).max(1);
    let k = cfg.generate.examples.clamp(1, all.len().max(1));
    // Step 1: new instructions, each asked with its own seeded choice of examples.
    let mut jobs = Vec::with_capacity(wanted);
    for i in 0..wanted {
        let mut rng = rand::rngs::StdRng::seed_from_u64(derive_seed(cfg.run.seed, &["examples", &gen_no.to_string(), &i.to_string()]));
        let examples: Vec<&Seed> = all.choose_multiple(&mut rng, k).copied().collect();
        let texts: Vec<&str> = examples.iter().map(|s| s.text.as_str()).collect();
        let prompt = t.render("instruction", context! { examples => texts })?;
        jobs.push((i, examples[0].id.clone(), prompt));
    }
    let bar = cx.progress.start(&format!("generation {gen_no}: instructions"), jobs.len() as u64);
    let results = run_ordered(jobs, stage_limit(cfg, writer), bar.as_ref(), |_, (i, parent, prompt)| async move {
        let rs = derive_seed(cfg.run.seed, &["instruction", &gen_no.to_string(), &i.to_string()]);
        let mut req = writer_request(cfg, &prompt, 1, rs);
        req.max_tokens = Some(cfg.generate.max_tokens.min(256));
        let res = cx.chat(writer, &req).await;
        (parent, prompt, res)
    })
    .await;
    bar.finish();
    let mut records = Vec::new();
    let mut instructions = Vec::new();
    let mut last_err = None;
    for (parent, prompt, res) in results {
        match res.map(|r| r.choices.into_iter().next().map(|c| clean_instruction(&c.text)).unwrap_or_default()) {
            Ok(instruction) if !instruction.is_empty() => instructions.push((parent, instruction)),
            Ok(_) => records.push(failed_record(cfg, gen_no, prompt, None, &parent, "the writer returned an empty instruction".into())),
            Err(e) => {
                records.push(failed_record(cfg, gen_no, prompt, None, &parent, e.to_string()));
                last_err = Some(e);
            }
        }
    }
    cx.check(last_err.as_ref().map(|e| (writer, e)))?;
    // Step 2: responses to the new instructions.
    let mut jobs = Vec::with_capacity(instructions.len());
    for (parent, instruction) in instructions {
        let prompt = t.render("response", context! { instruction => &instruction })?;
        jobs.push((parent, instruction, prompt));
    }
    let bar = cx.progress.start(&format!("generation {gen_no}: responses"), jobs.len() as u64);
    let results = run_ordered(jobs, stage_limit(cfg, writer), bar.as_ref(), |_, (parent, instruction, prompt)| async move {
        let rs = derive_seed(cfg.run.seed, &["response", &gen_no.to_string(), &instruction]);
        let req = writer_request(cfg, &prompt, cfg.generate.per_seed, rs);
        let res = cx.chat(writer, &req).await;
        (parent, instruction, res)
    })
    .await;
    bar.finish();
    for (parent, instruction, res) in results {
        match res {
            Ok(resp) => {
                for c in resp.choices {
                    records.push(new_record(cfg, gen_no, &instruction, &c.text, None, &parent));
                }
            }
            Err(e) => {
                for _ in 0..cfg.generate.per_seed {
                    records.push(failed_record(cfg, gen_no, instruction.clone(), None, &parent, e.to_string()));
                }
                last_err = Some(e);
            }
        }
    }
    cx.check(last_err.as_ref().map(|e| (writer, e)))?;
    Ok(records)
}

fn qa_format() -> serde_json::Value {
    serde_json::json!({
        "type": "json_schema",
        "json_schema": {
            "name": "qa_pairs",
            "strict": true,
            "schema": {
                "type": "object",
                "properties": {
                    "pairs": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": { "question": { "type": "string" }, "answer": { "type": "string" } },
                            "required": ["question", "answer"],
                            "additionalProperties": false
                        }
                    }
                },
                "required": ["pairs"],
                "additionalProperties": false
            }
        }
    })
}

/// Question-answer pairs from a writer's answer: `{"pairs": [...]}`, a bare list, or JSON in prose.
pub fn parse_qa_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let start = text.find(['{', '[']).ok_or("no JSON in the answer")?;
    let mut de = serde_json::Deserializer::from_str(&text[start..]).into_iter::<serde_json::Value>();
    let value = match de.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(format!("malformed JSON: {e}")),
        None => return Err("no JSON in the answer".into()),
    };
    let items = match &value {
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::Object(o) => match o.get("pairs").or_else(|| o.get("qa")).or_else(|| o.get("questions")) {
            Some(serde_json::Value::Array(a)) => a.clone(),
            _ => vec![value.clone()],
        },
        _ => return Err("expected an object with \"pairs\"".into()),
    };
    let mut pairs = Vec::new();
    for item in items {
        let q = item.get("question").or_else(|| item.get("q")).and_then(|v| v.as_str());
        let a = item.get("answer").or_else(|| item.get("a")).and_then(|v| v.as_str());
        if let (Some(q), Some(a)) = (q, a)
            && !q.trim().is_empty() {
                pairs.push((q.trim().to_string(), a.trim().to_string()));
            }
    }
    if pairs.is_empty() {
        return Err("no question-answer pairs in the answer".into());
    }
    Ok(pairs)
}

async fn qa(cfg: &Config, cx: &Context, t: &Templates, seeds: &[Seed], gen_no: u32) -> Result<Vec<Record>, PipelineError> {
    let writer = cfg.generate.writer.as_str();
    let mut jobs = Vec::with_capacity(seeds.len());
    for seed in seeds {
        let prompt = t.render("qa", context! { count => cfg.generate.per_seed, document => &seed.text })?;
        jobs.push((seed, prompt));
    }
    let bar = cx.progress.start(&format!("generation {gen_no}: questions"), jobs.len() as u64);
    let results = run_ordered(jobs, stage_limit(cfg, writer), bar.as_ref(), |_, (seed, prompt)| async move {
        let rs = derive_seed(cfg.run.seed, &["qa", &gen_no.to_string(), &seed.id]);
        let mut req = writer_request(cfg, &prompt, 1, rs);
        req.response_format = Some(qa_format());
        let res = cx.chat(writer, &req).await;
        (seed, prompt, res)
    })
    .await;
    bar.finish();
    let mut records = Vec::new();
    let mut last_err = None;
    for (seed, prompt, res) in results {
        match res {
            Ok(resp) => {
                let text = resp.choices.into_iter().next().map(|c| c.text).unwrap_or_default();
                match parse_qa_pairs(&text) {
                    Ok(pairs) => {
                        for (q, a) in pairs {
                            records.push(new_record(cfg, gen_no, &q, &a, Some(seed.text.clone()), &seed.id));
                        }
                    }
                    Err(why) => records.push(failed_record(
                        cfg,
                        gen_no,
                        prompt,
                        Some(seed.text.clone()),
                        &seed.id,
                        format!("could not read question-answer pairs: {why}"),
                    )),
                }
            }
            Err(e) => {
                records.push(failed_record(cfg, gen_no, prompt, Some(seed.text.clone()), &seed.id, e.to_string()));
                last_err = Some(e);
            }
        }
    }
    cx.check(last_err.as_ref().map(|e| (writer, e)))?;
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_deterministic_and_distinct() {
        assert_eq!(derive_seed(1, &["a", "b"]), derive_seed(1, &["a", "b"]));
        assert_ne!(derive_seed(1, &["a", "b"]), derive_seed(2, &["a", "b"]));
        assert_ne!(derive_seed(1, &["ab", ""]), derive_seed(1, &["a", "b"]));
        assert!(derive_seed(7, &["x"]) < 1 << 31);
    }

    #[test]
    fn qa_pairs_are_read_defensively() {
        let p = parse_qa_pairs(r#"{"pairs": [{"question": "Q1", "answer": "A1"}, {"question": "Q2", "answer": "A2"}]}"#).unwrap();
        assert_eq!(p, vec![("Q1".into(), "A1".into()), ("Q2".into(), "A2".into())]);
        let p = parse_qa_pairs("Here you go:\n[{\"q\": \"Q\", \"a\": \"A\"}] done").unwrap();
        assert_eq!(p.len(), 1);
        assert!(parse_qa_pairs("no json").is_err());
        assert!(parse_qa_pairs(r#"{"pairs": [{"question": "Q"#).is_err());
        assert!(parse_qa_pairs(r#"{"pairs": []}"#).is_err());
    }
}
