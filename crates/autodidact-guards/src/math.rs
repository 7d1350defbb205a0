//! Executable verification of worked math solutions.
//!
//! Three checks, none needing a model:
//!
//! - **steps**: every equation the solution writes is recomputed: GSM8K's calculator
//!   annotations `<<16-3-4=9>>` and plain ones, `9 * 2 = 18`; a result that is not the
//!   expression's value (rounded to the decimals shown) is an error;
//! - **answer in the work**: the final answer ([`extract_answer`]: `#### 18`, `The answer is
//!   18`, `\boxed{18}`, else the last number) must be a number the work arrived at, not one
//!   that appears from nowhere;
//! - **checker**: when the task knows the right answer, the final answer must equal it.
//!
//! ```
//! use autodidact_guards::math::verify;
//! let good = "She sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs.\nShe makes 9 * 2 = $<<9*2=18>>18.\n#### 18";
//! assert!(verify(good, Some(18.0)).ok());
//! let bad = "She sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs.\nShe makes 9 * 2 = $<<9*2=19>>19.\n#### 19";
//! let v = verify(bad, None);
//! assert_eq!(v.step_errors, vec!["9*2 is 18, not 19".to_string()]);
//! ```

use serde::{Deserialize, Serialize};

use crate::numbers::{numbers, same};

/// What the verifier found in one solution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MathVerdict {
    /// Equations recomputed.
    pub steps_checked: usize,
    /// Equations whose result is wrong: `9*2 is 18, not 19`.
    pub step_errors: Vec<String>,
    /// The final answer, when one was found.
    pub answer: Option<f64>,
    /// Whether the final answer is a number the work arrived at (a step's result or a number
    /// of the text before the answer); `None` without an answer or without work.
    pub answer_in_work: Option<bool>,
    /// Whether the final answer equals the checker's; `None` without a checker or answer.
    pub matches_reference: Option<bool>,
}

impl MathVerdict {
    /// Whether the arithmetic holds: no wrong step and an answer that comes from the work
    /// (the checks that need no reference).
    pub fn arithmetic_ok(&self) -> bool {
        self.step_errors.is_empty() && self.answer_in_work != Some(false)
    }

    /// Whether every check passed, the checker's included.
    pub fn ok(&self) -> bool {
        self.arithmetic_ok() && self.matches_reference != Some(false) && self.answer.is_some()
    }

    /// The rejection reason, when a check failed.
    pub fn reason(&self) -> Option<String> {
        let mut parts = self.step_errors.iter().map(|e| format!("wrong step: {e}")).collect::<Vec<_>>();
        if self.answer.is_none() {
            parts.push("no final answer".into());
        }
        if self.answer_in_work == Some(false) {
            parts.push(format!("the final answer {} comes from no step of the work", show(self.answer.unwrap_or(f64::NAN))));
        }
        if self.matches_reference == Some(false) {
            parts.push(format!("the final answer {} is not the checker's", show(self.answer.unwrap_or(f64::NAN))));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

fn show(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

/// The final answer of a solution: after `####`, `answer is`, `answer:` or in `\boxed{}`,
/// else the last number of the text.
pub fn extract_answer(text: &str) -> Option<f64> {
    let lower = text.to_lowercase();
    for marker in ["####", "\\boxed{", "answer is", "answer:", "answer ="] {
        if let Some(i) = lower.rfind(marker) {
            let tail = &text[i + marker.len()..];
            let line = tail.lines().next().unwrap_or("");
            if let Some(n) = numbers(line).first() {
                return Some(n.value);
            }
        }
    }
    numbers(text).last().map(|n| n.value)
}

/// The text before the final-answer marker (all of it when there is none).
fn work_of(text: &str) -> &str {
    let lower = text.to_lowercase();
    for marker in ["####", "\\boxed{", "answer is", "answer:"] {
        if let Some(i) = lower.rfind(marker) {
            return &text[..i];
        }
    }
    match numbers(text).last() {
        Some(n) => &text[..n.start],
        None => text,
    }
}

/// Verifies a worked solution; `reference` is the checker's answer when the task has one.
pub fn verify(solution: &str, reference: Option<f64>) -> MathVerdict {
    let (steps_checked, step_errors, results) = check_steps(solution);
    let answer = extract_answer(solution);
    let work = work_of(solution);
    let answer_in_work = answer.and_then(|a| {
        let mut seen: Vec<f64> = numbers(work).into_iter().map(|n| n.value).collect();
        seen.extend(results.iter().copied());
        // An amount in dollars answered in cents: `$0.25 each` and `#### 25`.
        let cents = |v: f64| v.fract() != 0.0 && same(v * 100.0, a);
        (!seen.is_empty()).then(|| seen.iter().any(|&v| same(v, a) || same(v.abs(), a.abs()) || cents(v)))
    });
    let matches_reference = match (answer, reference) {
        (Some(a), Some(r)) => Some(same(a, r)),
        _ => None,
    };
    MathVerdict { steps_checked, step_errors, answer, answer_in_work, matches_reference }
}

/// Recomputes every equation: (equations checked, errors, results seen).
fn check_steps(text: &str) -> (usize, Vec<String>, Vec<f64>) {
    let mut checked = 0;
    let mut errors = Vec::new();
    let mut results = Vec::new();
    // Calculator annotations first; the display text around them repeats them.
    let mut rest = text;
    let mut plain = String::new();
    while let Some(open) = rest.find("<<") {
        plain.push_str(&rest[..open]);
        let Some(close) = rest[open..].find(">>") else { break };
        let inner = &rest[open + 2..open + close];
        if let Some((expr, result)) = inner.rsplit_once('=') {
            if let (Some(v), Some(r)) = (eval(expr), parse_result(result)) {
                checked += 1;
                results.push(r);
                if !agrees(v, r, result) {
                    errors.push(format!("{} is {}, not {}", expr.trim(), show_rounded(v, result), result.trim()));
                }
            }
        }
        // The annotation and the display number after it become one mark, so that the plain
        // equation around them (`9 * 2 = $<<9*2=18>>18`) is not checked twice.
        plain.push('§');
        rest = &rest[open + close + 2..];
        let shown = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',').map(char::len_utf8).sum::<usize>();
        rest = &rest[shown..];
    }
    plain.push_str(rest);
    // Plain equations: `a op b ... = c` (only those with an operator on the left).
    for line in plain.lines() {
        // En dashes and minus signs written as such subtract too: `1 – 3/4 = 1/4`.
        let line = line.replace(['–', '−'], "-");
        let parts: Vec<&str> = line.split('=').collect();
        for w in 0..parts.len().saturating_sub(1) {
            let left = tail_expression(parts[w]);
            let right = head_number(parts[w + 1]);
            let (Some(left), Some(right)) = (left, right) else { continue };
            if !left.contains(['+', '-', '*', '/', '×', '÷', 'x']) {
                continue;
            }
            // The right side is itself an expression: the middle of a chain (`4 * 60 / 5 =
            // 4 * 12 = 48`) or a fraction (`1 - 3/5 = 2/5`). The values must agree.
            if let Some(expr) = right_expression(parts[w + 1], w + 2 < parts.len()) {
                if let (Some(v), Some(r)) = (eval(&left), eval(&expr)) {
                    checked += 1;
                    if (v - r).abs() > 1e-6 * v.abs().max(r.abs()).max(1.0) {
                        errors.push(format!("{} is {}, not {}", left.trim(), show_rounded(v, "0.00"), expr.trim()));
                    }
                }
                continue;
            }
            if let (Some(v), Some(r)) = (eval(&left), parse_result(&right)) {
                checked += 1;
                results.push(r);
                // `12/20 x 100% = 60%`, `3/6 = 50%`: a per cent written as a number.
                let right_percent = parts[w + 1].trim_start().trim_start_matches('$').trim_start()[right.len()..].starts_with('%');
                let percent = (left.contains('%') || right_percent) && agrees(v * 100.0, r, &right);
                if !agrees(v, r, &right) && !percent {
                    errors.push(format!("{} is {}, not {}", left.trim(), show_rounded(v, &right), right.trim()));
                }
            }
        }
    }
    (checked, errors, results)
}

/// The number of decimals a result is written with.
fn decimals(result: &str) -> i32 {
    result.trim().split_once('.').map_or(0, |(_, d)| d.chars().take_while(char::is_ascii_digit).count() as i32)
}

/// Whether `value` written with the decimals of `result` is `r`.
fn agrees(value: f64, r: f64, result: &str) -> bool {
    let tol = 0.5 * 10f64.powi(-decimals(result)) + 1e-9 * value.abs().max(1.0);
    (value - r).abs() <= tol
}

fn show_rounded(v: f64, result: &str) -> String {
    let d = decimals(result).max(0) as usize;
    if d == 0 && (v.fract().abs() < 1e-9) { show(v) } else { format!("{:.*}", d.max(2), v) }
}

fn parse_result(s: &str) -> Option<f64> {
    let t: String = s.trim().chars().filter(|c| !matches!(c, '$' | ',' | ' ')).collect();
    let t = t.trim_end_matches('%');
    t.parse().ok()
}

/// The arithmetic expression ending a text: the longest tail of digits, operators, dots,
/// commas, parentheses and spaces (currency signs dropped). `None` when the tail starts with
/// an operator (the expression goes on into words, as in `60g * 4/5`: not checkable).
fn tail_expression(s: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_digit() || " .,+-*/×÷()$%x".contains(c);
    let start = s.char_indices().rev().take_while(|(_, c)| allowed(*c)).last().map(|(i, _)| i)?;
    let mut e = s[start..].trim().to_string();
    // A leading `x` is a word's end, not a multiplication.
    if e.starts_with('x') && s[..start].ends_with(|c: char| c.is_alphabetic()) {
        e.remove(0);
        e = e.trim().to_string();
    }
    if e.starts_with(['x', '+', '*', '/', '×', '÷', ')', ',']) {
        return None;
    }
    // A minus after a word or a letter (`B - 10`, `3c - 2`) subtracts from what cannot be
    // read: not a negative number.
    if e.starts_with('-') && s[..start].trim_end().ends_with(|c: char| c.is_alphanumeric() || c == ')') {
        return None;
    }
    if has_variable_x(&e) {
        return None;
    }
    (!e.is_empty() && e.chars().any(|c| c.is_ascii_digit())).then_some(e)
}

/// Whether an `x` is an unknown rather than a multiplication: nothing to multiply by follows
/// it (`4x-13`, `(4x)`, `9x`).
fn has_variable_x(e: &str) -> bool {
    let b = e.as_bytes();
    (0..b.len()).any(|i| b[i] == b'x' && b.get(i + 1).is_none_or(|n| b"+-*/)=".contains(n)))
}

/// The expression the right side of an `=` is, when it is one: a whole middle part of a
/// chain of equalities (`middle`), or a fraction `a/b` at its start. `None` for a plain
/// number (checked as a result) or for words.
fn right_expression(part: &str, middle: bool) -> Option<String> {
    let t = part.trim();
    let allowed = |c: char| c.is_ascii_digit() || " .,+-*/×÷()$%x".contains(c);
    if middle && !t.is_empty() && t.chars().all(allowed) && t.contains(['+', '-', '*', '/', '×', '÷']) && !has_variable_x(t) {
        return Some(t.to_string());
    }
    let t = t.trim_start_matches('$');
    let num = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
    let a = num(t);
    let rest = t[a..].strip_prefix('/')?;
    let b = num(rest);
    let after = rest[b..].chars().next();
    // `2/5 of`, `1/20 miles`, `8/12.` but not `2/3x` or a date-like `1/2/3`.
    (a > 0 && b > 0 && after.is_none_or(|c| !c.is_ascii_digit() && c != '/' && c != 'x' && c != '.'  || c == '.' && !rest[b + 1..].starts_with(|d: char| d.is_ascii_digit())))
        .then(|| t[..a + 1 + b].to_string())
}

/// The number a text starts with (after spaces and a currency sign).
fn head_number(s: &str) -> Option<String> {
    let t = s.trim_start().trim_start_matches('$').trim_start();
    let mut n: String = t.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',').collect();
    // Thousands grouped by spaces: `$409 500`, `12 000`.
    if (1..=3).contains(&n.len()) && n.chars().all(|c| c.is_ascii_digit()) {
        let mut rest = &t[n.len()..];
        while let Some(group) = rest.strip_prefix(' ').filter(|g| g.len() >= 3 && g.as_bytes()[..3].iter().all(u8::is_ascii_digit) && !g.as_bytes().get(3).is_some_and(u8::is_ascii_digit)) {
            n.push_str(&group[..3]);
            rest = &group[3..];
        }
    }
    let n = n.trim_end_matches(['.', ',']).to_string();
    (!n.is_empty() && n.chars().next().is_some_and(|c| c.is_ascii_digit())).then_some(n)
}

/// Evaluates `+ - * / × ÷ x`, parentheses, unary minus, `%` (per cent) and numbers with
/// thousands commas and leading dots (`.5`). `None` when it is not such an expression.
pub fn eval(expr: &str) -> Option<f64> {
    // Mixed numbers (`1 1/2`) become sums before spaces go.
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let mut joined = String::new();
    let mut i = 0;
    while i < parts.len() {
        let whole = parts[i].chars().all(|c| c.is_ascii_digit());
        let is_fraction = |p: &str| {
            p.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit()))
        };
        if whole && parts.get(i + 1).is_some_and(|p| is_fraction(p)) {
            joined.push_str(&format!("({}+{})", parts[i], parts[i + 1]));
            i += 2;
        } else if is_fraction(parts[i]) && parts.len() > 1 {
            // A fraction standing alone between spaces is one number: `1/2 / 1/4`.
            joined.push_str(&format!("({})", parts[i]));
            i += 1;
        } else {
            joined.push_str(parts[i]);
            i += 1;
        }
    }
    let cleaned: String = joined.chars().filter(|c| *c != '$').collect();
    let tokens = tokenize(&cleaned)?;
    let mut p = Parser { t: &tokens, i: 0 };
    let v = p.sum()?;
    (p.i == tokens.len() && v.is_finite()).then_some(v)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Op(char),
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (c == '.' && b.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let mut n = String::new();
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == '.' || (b[i] == ',' && b.get(i + 1).is_some_and(char::is_ascii_digit))) {
                if b[i] != ',' {
                    n.push(b[i]);
                }
                i += 1;
            }
            out.push(Tok::Num(n.parse().ok()?));
            continue;
        }
        match c {
            '+' | '-' | '*' | '/' | '(' | ')' | '%' => out.push(Tok::Op(c)),
            '×' | 'x' => out.push(Tok::Op('*')),
            '÷' => out.push(Tok::Op('/')),
            _ => return None,
        }
        i += 1;
    }
    Some(out)
}

struct Parser<'a> {
    t: &'a [Tok],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn sum(&mut self) -> Option<f64> {
        let mut v = self.product()?;
        while let Some(Tok::Op(op @ ('+' | '-'))) = self.peek().cloned() {
            self.i += 1;
            let r = self.product()?;
            v = if op == '+' { v + r } else { v - r };
        }
        Some(v)
    }
    fn product(&mut self) -> Option<f64> {
        let mut v = self.unary()?;
        while let Some(Tok::Op(op @ ('*' | '/'))) = self.peek().cloned() {
            self.i += 1;
            let r = self.unary()?;
            v = if op == '*' { v * r } else { v / r };
        }
        Some(v)
    }
    fn unary(&mut self) -> Option<f64> {
        if let Some(Tok::Op('-')) = self.peek() {
            self.i += 1;
            return self.unary().map(|v| -v);
        }
        let mut v = match self.peek()?.clone() {
            Tok::Num(n) => {
                self.i += 1;
                n
            }
            Tok::Op('(') => {
                self.i += 1;
                let v = self.sum()?;
                if self.peek() != Some(&Tok::Op(')')) {
                    return None;
                }
                self.i += 1;
                v
            }
            _ => return None,
        };
        while let Some(Tok::Op('%')) = self.peek() {
            self.i += 1;
            v /= 100.0;
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_extracted_from_every_usual_form() {
        assert_eq!(extract_answer("blah 3 blah\n#### 1,234"), Some(1234.0));
        assert_eq!(extract_answer("So the answer is $18.50."), Some(18.5));
        assert_eq!(extract_answer("Thus \\boxed{42}."), Some(42.0));
        assert_eq!(extract_answer("Answer: twenty-one"), Some(21.0));
        assert_eq!(extract_answer("He has 3 apples and eats 1, leaving 2."), Some(2.0));
        assert_eq!(extract_answer("no numbers here"), None);
        assert_eq!(extract_answer("#### -5"), Some(-5.0));
    }

    #[test]
    fn expressions_evaluate() {
        assert_eq!(eval("16-3-4"), Some(9.0));
        assert_eq!(eval("80,000+50,000"), Some(130000.0));
        assert_eq!(eval("(3+4)*2"), Some(14.0));
        assert_eq!(eval("2 × 3 ÷ 4"), Some(1.5));
        assert_eq!(eval("3*.5"), Some(1.5));
        assert_eq!(eval("50%*80"), Some(40.0));
        assert_eq!(eval("-2*-3"), Some(6.0));
        assert_eq!(eval("3 apples"), None);
        assert_eq!(eval("(1+2"), None);
        assert_eq!(eval("1 1/2 / 1/2"), Some(3.0));
    }

    #[test]
    fn steps_are_recomputed_annotated_or_plain() {
        let v = verify("It takes 2/2=<<2/2=1>>1 bolt\nSo the total is 2+1=<<2+1=3>>3 bolts\n#### 3", Some(3.0));
        assert_eq!((v.steps_checked >= 2, v.ok()), (true, true), "{v:?}");
        let v = verify("He pays 12 x 3 = $36 and 36 + 4 = 41 in all.\nThe answer is 41.", None);
        assert_eq!(v.step_errors, vec!["36 + 4 is 40, not 41"]);
        // Rounded results are right to the decimals shown.
        assert!(verify("Each gets 10/3=<<10/3=3.33>>3.33 cups.\n#### 3.33", None).arithmetic_ok());
        assert!(!verify("Each gets 10/3=<<10/3=3.43>>3.43 cups.\n#### 3.43", None).arithmetic_ok());
        // Per cents and units glued to numbers.
        assert!(verify("This is 12/20 x 100% = 60% of them.\n#### 60", None).arithmetic_ok());
        assert!(verify("It is 3 / 6 = 50% likely.\n#### 50", None).arithmetic_ok());
        let v = verify("I eat 60g * 4/5 = 240g/5 = 48 grams.\n#### 48", None);
        assert!(v.arithmetic_ok(), "{v:?}");
    }

    #[test]
    fn chains_fractions_spaced_thousands_and_algebra_are_read_as_written() {
        // Each from GSM8K's test set, where an earlier reading raised a false alarm, and a
        // corrupted copy that must still fail.
        let ok = |t: &str| {
            let v = verify(t, None);
            assert!(v.arithmetic_ok(), "{t:?}: {v:?}");
        };
        let wrong = |t: &str, error: &str| {
            let v = verify(t, None);
            assert!(v.step_errors.iter().any(|e| e == error), "{t:?}: {v:?}");
        };
        ok("he has to memorize 4 * 60 / 5 = 4 * 12 = <<4*60/5=48>>48 lines.\n#### 48");
        wrong("he has to memorize 4 * 60 / 5 = 4 * 13 = <<4*60/5=48>>48 lines.\n#### 48", "4 * 60 / 5 is 48.00, not 4 * 13");
        ok("Mr. Ruther is left with 1 - 3/5 = 2/5 of his 80 hectares.\n#### 80");
        wrong("Mr. Ruther is left with 1 - 3/5 = 3/5 of his 80 hectares.\n#### 80", "1 - 3/5 is 0.40, not 3/5");
        ok("flights make up 1 – 3/4 = 1/4 of the 88 flights.\n#### 88");
        ok("The total is $350 000 + $17500 + $42000 = $409 500.\n#### 409500");
        wrong("The total is $350 000 + $17500 + $42000 = $419 500.\n#### 419500", "$350 000 + $17500 + $42000 is 409500, not 419500");
        // Unknowns are not checked: `B - 10` is not minus ten, `4x-13` not four times -13.
        ok("Dinar = B - 10\nB + B -20 + B - 10 = 45\n#### 45");
        ok("Alex: 5+(4x-13)=4x-8\n9x-21=339\n#### 339");
        // Dollars answered in cents.
        ok("each razor costs $2.00/8 = $<<2/8=0.25>>0.25 each\n#### 25");
    }

    #[test]
    fn a_final_answer_from_nowhere_or_against_the_checker_fails() {
        let v = verify("She sells 16-3-4=<<16-3-4=9>>9 eggs for 9*2=<<9*2=18>>18 dollars.\n#### 81", None);
        assert_eq!(v.answer_in_work, Some(false));
        assert!(v.reason().unwrap().contains("81 comes from no step"));
        let v = verify("She makes 9*2=<<9*2=18>>18 dollars.\n#### 18", Some(20.0));
        assert!(v.arithmetic_ok() && !v.ok());
        assert!(v.reason().unwrap().contains("not the checker's"));
        assert!(!verify("I do not know.", None).ok());
    }
}
