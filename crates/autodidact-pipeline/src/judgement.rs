//! Reading a judge's answer defensively.
//!
//! Servers that honour `response_format` answer with clean JSON; others wrap it in prose or
//! code fences, write scores as `"8"`, `8/10` or `7.5 out of 10`, or skip JSON entirely and
//! write `clarity: 8/10` lines. All of these are read; only an answer that names no usable
//! score for some criterion is an error.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::rubric::Rubric;

/// A judge's per-criterion scores (on the rubric's scale) and reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// Score per criterion name, clamped to `0..=scale`.
    pub scores: BTreeMap<String, f64>,
    /// The judge's explanation (may be empty).
    pub explanation: String,
}

/// Reads a judge's answer against a rubric.
pub fn parse_judgement(text: &str, rubric: &Rubric) -> Result<Judgement, String> {
    let mut last_err = None;
    for value in json_objects(text) {
        match from_json(&value, rubric) {
            Ok(j) => return Ok(j),
            Err(e) => last_err = Some(e),
        }
    }
    if let Some(j) = from_lines(text, rubric) {
        return Ok(j);
    }
    Err(last_err.unwrap_or_else(|| {
        let snippet: String = text.chars().take(80).collect();
        format!("no JSON object and no scores in the judge's answer: {snippet:?}")
    }))
}

/// Every JSON object in the text, outermost first, in order of appearance.
fn json_objects(text: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{'
            && let Some(end) = matching_brace(&text[i..])
                && let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&text[i..i + end]) {
                    found.push(v);
                    i += end;
                    continue;
                }
        i += 1;
    }
    found
}

/// The byte length of the balanced `{...}` starting the string, skipping braces in strings.
fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

fn from_json(value: &Value, rubric: &Rubric) -> Result<Judgement, String> {
    let obj = value.as_object().ok_or("not an object")?;
    let explanation = ["explanation", "reason", "reasons", "rationale", "feedback", "justification"]
        .iter()
        .find_map(|k| obj.get(*k))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    // Where the scores are: `scores` (object or list), or the top level.
    let mut table: BTreeMap<String, &Value> = BTreeMap::new();
    match obj.get("scores").or_else(|| obj.get("criteria")) {
        Some(Value::Object(m)) => table.extend(m.iter().map(|(k, v)| (k.to_lowercase(), v))),
        Some(Value::Array(items)) => {
            for item in items {
                if let (Some(name), Some(score)) =
                    (item.get("name").or_else(|| item.get("criterion")).and_then(Value::as_str), item.get("score"))
                {
                    table.insert(name.to_lowercase(), score);
                }
            }
        }
        _ => {}
    }
    for (k, v) in obj {
        table.entry(k.to_lowercase()).or_insert(v);
    }
    let overall = ["overall", "score", "total"].iter().find_map(|k| table.get(*k)).and_then(|v| read_score(v, rubric.scale));
    let mut scores = BTreeMap::new();
    let mut missing = Vec::new();
    for c in &rubric.criteria {
        match table.get(&c.name.to_lowercase()).and_then(|v| read_score(v, rubric.scale)) {
            Some(s) => {
                scores.insert(c.name.clone(), s);
            }
            None => missing.push(c.name.as_str()),
        }
    }
    if !missing.is_empty() {
        match overall {
            // One overall score stands for every criterion it was not broken down into.
            Some(s) if scores.is_empty() => {
                for c in &rubric.criteria {
                    scores.insert(c.name.clone(), s);
                }
            }
            _ => return Err(format!("the judge's answer has no usable score for: {}", missing.join(", "))),
        }
    }
    Ok(Judgement { scores, explanation })
}

/// A score from a JSON value: `8`, `7.5`, `"8"`, `"8/10"`, `"7.5 out of 10"`, `{"score": 8}`.
fn read_score(v: &Value, scale: f64) -> Option<f64> {
    let s = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => score_from_str(s, scale),
        Value::Object(m) => m.get("score").and_then(|v| read_score(v, scale)),
        _ => None,
    }?;
    s.is_finite().then_some(s.clamp(0.0, scale))
}

/// `8`, `7.5`, `8/10`, `4/5` (rescaled), `7 out of 10`, `8 / 10`.
pub fn score_from_str(s: &str, scale: f64) -> Option<f64> {
    let s = s.trim().trim_end_matches('.');
    let (num, den) = if let Some((a, b)) = s.split_once('/') {
        (a.trim(), Some(b.trim()))
    } else if let Some((a, b)) = s.split_once(" out of ") {
        (a.trim(), Some(b.trim()))
    } else {
        (s, None)
    };
    let num: f64 = leading_number(num)?;
    match den {
        Some(d) => {
            let d: f64 = leading_number(d)?;
            (d > 0.0).then(|| num / d * scale)
        }
        None => Some(num),
    }
}

fn leading_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    s[..end].parse().ok()
}

/// `name: 8/10` lines, for judges that ignore the JSON request altogether.
fn from_lines(text: &str, rubric: &Rubric) -> Option<Judgement> {
    let mut scores = BTreeMap::new();
    for line in text.lines() {
        let clean = line.trim().trim_start_matches(['-', '*', ' ']).replace("**", "");
        let Some((name, rest)) = clean.split_once(':') else { continue };
        let name = name.trim().to_lowercase();
        if let Some(c) = rubric.criteria.iter().find(|c| c.name.to_lowercase() == name)
            && let Some(s) = score_from_str(rest, rubric.scale) {
                scores.insert(c.name.clone(), s.clamp(0.0, rubric.scale));
            }
    }
    (scores.len() == rubric.criteria.len()).then(|| Judgement { scores, explanation: text.trim().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn rubric() -> Rubric {
        Rubric::parse(
            "[[criteria]]\nname='accuracy'\ndescription='a'\n[[criteria]]\nname='clarity'\ndescription='c'\n",
            Path::new("r.toml"),
        )
        .unwrap()
    }

    fn check(text: &str, expected: Option<(f64, f64)>) {
        let got = parse_judgement(text, &rubric());
        match (got, expected) {
            (Ok(j), Some((a, c))) => {
                assert!((j.scores["accuracy"] - a).abs() < 1e-9, "{text}: {j:?}");
                assert!((j.scores["clarity"] - c).abs() < 1e-9, "{text}: {j:?}");
            }
            (Err(_), None) => {}
            (got, expected) => panic!("{text}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn reads_clean_json() {
        check(r#"{"scores": {"accuracy": 8, "clarity": 6}, "explanation": "ok"}"#, Some((8.0, 6.0)));
        let j = parse_judgement(r#"{"scores": {"accuracy": 8, "clarity": 6}, "explanation": "ok"}"#, &rubric()).unwrap();
        assert_eq!(j.explanation, "ok");
    }

    #[test]
    fn reads_scores_written_every_way() {
        check(r#"{"scores": {"accuracy": 7.5, "clarity": "8"}}"#, Some((7.5, 8.0)));
        check(r#"{"scores": {"Accuracy": "8/10", "clarity": "4/5"}}"#, Some((8.0, 8.0)));
        check(r#"{"scores": {"accuracy": "7 out of 10", "clarity": {"score": 3}}}"#, Some((7.0, 3.0)));
        check(r#"{"accuracy": 9, "clarity": 2, "explanation": "flat"}"#, Some((9.0, 2.0)));
        check(r#"{"scores": [{"name": "accuracy", "score": 5}, {"criterion": "clarity", "score": "6"}]}"#, Some((5.0, 6.0)));
        check(r#"{"score": 7, "explanation": "one overall score"}"#, Some((7.0, 7.0)));
        check(r#"{"scores": {"accuracy": 14, "clarity": -3}}"#, Some((10.0, 0.0)));
    }

    #[test]
    fn finds_json_inside_prose_and_fences() {
        check("Sure! Here is my grade:\n```json\n{\"scores\": {\"accuracy\": 8, \"clarity\": 9}, \"explanation\": \"a {brace} inside\"}\n```\nThanks.", Some((8.0, 9.0)));
        check("Thinking {not json} first. {\"scores\": {\"accuracy\": 3, \"clarity\": 4}}", Some((3.0, 4.0)));
    }

    #[test]
    fn reads_score_lines_without_json() {
        check("**Accuracy**: 8/10\n- Clarity: 7\nOverall fine.", Some((8.0, 7.0)));
    }

    #[test]
    fn malformed_answers_are_errors() {
        check("I think it is pretty good.", None);
        check(r#"{"scores": {"accuracy": 8"#, None);
        check(r#"{"scores": {"accuracy": 8}}"#, None);
        check(r#"{"scores": {"accuracy": "great", "clarity": 5}}"#, None);
        let err = parse_judgement(r#"{"scores": {"accuracy": 8}}"#, &rubric()).unwrap_err();
        assert!(err.contains("clarity"), "{err}");
    }

    #[test]
    fn score_strings() {
        assert_eq!(score_from_str("8", 10.0), Some(8.0));
        assert_eq!(score_from_str(" 7.5 ", 10.0), Some(7.5));
        assert_eq!(score_from_str("8/10", 10.0), Some(8.0));
        assert_eq!(score_from_str("3 / 5", 10.0), Some(6.0));
        assert_eq!(score_from_str("9 out of 10.", 10.0), Some(9.0));
        assert_eq!(score_from_str("x/10", 10.0), None);
        assert_eq!(score_from_str("8/0", 10.0), None);
    }
}
