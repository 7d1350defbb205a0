//! The `arithmetic` task: addition of non-negative integers, in the format the model reads.
//!
//! # Format
//!
//! `a+b=s$`, every number written **least significant digit first** (Lee et al. 2025 and
//! most length-generalisation work: the model then writes the sum in the order a person
//! adds, carry included). 123 + 45 = 168 is the text `321+54=861$`. Tokens: `0`–`9` are ids
//! 0–9, `+` 10, `=` 11, `$` (end of answer) 12.
//!
//! Position ids are the digit's **significance**, not its place in the sequence ("abacus"
//! positions, McLeish et al. 2024): the digit of 10^j of either operand sits at position
//! `o + 1 + j`, `+` at `o`, `=` at `o + 1`, and the answer digit of 10^j at `o + 2 + j` — so
//! the token that *predicts* the answer digit of 10^j has the position of the operand digits
//! of 10^j, whatever the numbers' lengths. `o` is a random offset in training (so every
//! position id is trained, not only those of the lengths seen) and 0 in evaluation.
//!
//! A problem of **length** n has operands of at most n digits, one of exactly n.

use std::collections::HashSet;
use std::fmt;

use rand::Rng;

/// Token id of `+`.
pub const PLUS: u32 = 10;
/// Token id of `=`.
pub const EQUALS: u32 = 11;
/// Token id of `$`, the end of an answer.
pub const END: u32 = 12;
/// Number of token ids.
pub const VOCAB_SIZE: usize = 13;

/// One addition problem; digits least significant first, no leading zeros (0 is `[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Problem {
    /// First operand's digits.
    pub a: Vec<u8>,
    /// Second operand's digits.
    pub b: Vec<u8>,
}

impl Problem {
    /// The problem with operands from their usual decimal text, e.g. `("123", "45")`.
    pub fn parse(a: &str, b: &str) -> Option<Problem> {
        let digits = |s: &str| -> Option<Vec<u8>> {
            if s.is_empty() || (s.len() > 1 && s.starts_with('0')) {
                return None;
            }
            s.bytes()
                .rev()
                .map(|c| c.is_ascii_digit().then(|| c - b'0'))
                .collect()
        };
        Some(Problem {
            a: digits(a)?,
            b: digits(b)?,
        })
    }

    /// The length of the problem: digits of the longer operand.
    pub fn length(&self) -> usize {
        self.a.len().max(self.b.len())
    }

    /// The same problem with the operands swapped.
    pub fn swapped(&self) -> Problem {
        Problem {
            a: self.b.clone(),
            b: self.a.clone(),
        }
    }

    /// The true sum's digits, least significant first. Used by the `oracle` grader and to
    /// measure; never by a grader that claims not to know the truth.
    pub fn sum(&self) -> Vec<u8> {
        let n = self.length();
        let mut out = Vec::with_capacity(n + 1);
        let mut carry = 0;
        for j in 0..n {
            let s = self.a.get(j).copied().unwrap_or(0) + self.b.get(j).copied().unwrap_or(0) + carry;
            out.push(s % 10);
            carry = s / 10;
        }
        if carry > 0 {
            out.push(carry);
        }
        out
    }

    /// The prompt's tokens, `a+b=`, and their position ids at offset `offset`.
    pub fn prompt(&self, offset: u32) -> (Vec<u32>, Vec<u32>) {
        let mut tokens = Vec::with_capacity(self.a.len() + self.b.len() + 2);
        let mut positions = Vec::with_capacity(tokens.capacity());
        for (j, d) in self.a.iter().enumerate() {
            tokens.push(u32::from(*d));
            positions.push(offset + 1 + j as u32);
        }
        tokens.push(PLUS);
        positions.push(offset);
        for (j, d) in self.b.iter().enumerate() {
            tokens.push(u32::from(*d));
            positions.push(offset + 1 + j as u32);
        }
        tokens.push(EQUALS);
        positions.push(offset + 1);
        (tokens, positions)
    }

    /// A whole training sequence `a+b=s$` with answer `answer` (digits, least significant
    /// first), its loss mask (true on the answer and `$`) and position ids.
    pub fn sequence(&self, answer: &[u8], offset: u32) -> (Vec<u32>, Vec<bool>, Vec<u32>) {
        let (mut tokens, mut positions) = self.prompt(offset);
        let mut mask = vec![false; tokens.len()];
        for (j, d) in answer.iter().enumerate() {
            tokens.push(u32::from(*d));
            positions.push(offset + 2 + j as u32);
            mask.push(true);
        }
        tokens.push(END);
        positions.push(offset + 2 + answer.len() as u32);
        mask.push(true);
        (tokens, mask, positions)
    }

    /// Tokens of the longest answer a problem of this length may need, with its `$`.
    pub fn max_answer_tokens(&self) -> usize {
        self.length() + 2
    }

    /// Draws a problem of length `n`: one operand of exactly `n` digits, the other of 1 to `n`
    /// (uniform), in random order; digits uniform, leading digits non-zero.
    pub fn draw(n: usize, rng: &mut impl Rng) -> Problem {
        let long = number(n, rng);
        let short = number(rng.random_range(1..=n), rng);
        if rng.random_bool(0.5) {
            Problem { a: long, b: short }
        } else {
            Problem { a: short, b: long }
        }
    }

    /// Draws an evaluation problem of length `n`: both operands of exactly `n` digits.
    pub fn draw_full(n: usize, rng: &mut impl Rng) -> Problem {
        Problem {
            a: number(n, rng),
            b: number(n, rng),
        }
    }
}

/// A uniform random number of exactly `n` digits (0–9 when `n` is 1).
fn number(n: usize, rng: &mut impl Rng) -> Vec<u8> {
    let mut digits: Vec<u8> = (0..n).map(|_| rng.random_range(0..10)).collect();
    if n > 1 {
        digits[n - 1] = rng.random_range(1..10);
    }
    digits
}

/// Draws `count` distinct problems of length `n` that are not in `exclude` (the held-out
/// evaluation problems). Stops early when the length has too few problems left.
pub fn draw_distinct(
    count: usize,
    n: usize,
    exclude: &HashSet<Problem>,
    rng: &mut impl Rng,
) -> Vec<Problem> {
    draw_distinct_with(count, n, exclude, rng, Problem::draw)
}

/// Like [`draw_distinct`], with both operands of exactly `n` digits ([`Problem::draw_full`]),
/// as the held-out evaluation problems are.
pub fn draw_distinct_full(
    count: usize,
    n: usize,
    exclude: &HashSet<Problem>,
    rng: &mut impl Rng,
) -> Vec<Problem> {
    draw_distinct_with(count, n, exclude, rng, Problem::draw_full)
}

fn draw_distinct_with<R: Rng>(
    count: usize,
    n: usize,
    exclude: &HashSet<Problem>,
    rng: &mut R,
    draw: fn(usize, &mut R) -> Problem,
) -> Vec<Problem> {
    let mut seen: HashSet<Problem> = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    let mut misses = 0;
    while out.len() < count && misses < 20 * count + 1000 {
        let p = draw(n, rng);
        if exclude.contains(&p) || !seen.insert(p.clone()) {
            misses += 1;
            continue;
        }
        out.push(p);
    }
    out
}

/// Digits least significant first, as decimal text (most significant first).
pub fn to_decimal(digits: &[u8]) -> String {
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

/// What a model wrote after `=`, read back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Answer {
    /// Digits (least significant first) followed by `$`.
    Digits(Vec<u8>),
    /// Anything else: a non-digit before `$`, or no `$` within the allowed tokens.
    Malformed(Vec<u32>),
}

impl Answer {
    /// Reads generated tokens (as returned by sampling: up to and including a stop token).
    pub fn read(tokens: &[u32]) -> Answer {
        let mut digits = Vec::with_capacity(tokens.len());
        for &t in tokens {
            match t {
                0..=9 => digits.push(t as u8),
                END if !digits.is_empty() => return Answer::Digits(digits),
                _ => return Answer::Malformed(tokens.to_vec()),
            }
        }
        Answer::Malformed(tokens.to_vec())
    }

    /// The digits, when well formed.
    pub fn digits(&self) -> Option<&[u8]> {
        match self {
            Answer::Digits(d) => Some(d),
            Answer::Malformed(_) => None,
        }
    }

    /// As a model's raw training target: the digits, or the raw tokens' digits for a
    /// malformed answer (what an arm that trusts every answer would learn from). `None` when
    /// nothing digit-like was written.
    pub fn as_written(&self) -> Option<Vec<u8>> {
        match self {
            Answer::Digits(d) => Some(d.clone()),
            Answer::Malformed(t) => {
                let d: Vec<u8> = t.iter().take_while(|&&t| t < 10).map(|&t| t as u8).collect();
                (!d.is_empty()).then_some(d)
            }
        }
    }
}

impl fmt::Display for Answer {
    /// The answer as a person reads it: decimal, most significant digit first; a malformed
    /// answer as its raw text in the model's format (least significant first).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Digits(d) => f.write_str(&to_decimal(d)),
            Answer::Malformed(t) => {
                f.write_str("malformed: ")?;
                for &t in t {
                    let c = match t {
                        0..=9 => char::from(b'0' + t as u8),
                        PLUS => '+',
                        EQUALS => '=',
                        END => '$',
                        _ => '?',
                    };
                    write!(f, "{c}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Problem {
    /// `123+45=`, most significant digit first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}=", to_decimal(&self.a), to_decimal(&self.b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn format_and_positions_of_a_worked_example() {
        let p = Problem::parse("123", "45").unwrap();
        assert_eq!(to_decimal(&p.sum()), "168");
        let (tokens, mask, pos) = p.sequence(&p.sum(), 0);
        // 321+54=861$
        assert_eq!(tokens, vec![3, 2, 1, PLUS, 5, 4, EQUALS, 8, 6, 1, END]);
        assert_eq!(pos, vec![1, 2, 3, 0, 1, 2, 1, 2, 3, 4, 5]);
        assert_eq!(mask, vec![false, false, false, false, false, false, false, true, true, true, true]);
        // The token predicting the digit of 10^j has the position of the operands' 10^j digits.
        let (_, _, pos) = p.sequence(&p.sum(), 5);
        assert_eq!(pos[6], pos[0]); // `=` predicts 10^0
        assert_eq!(pos[7], pos[1]); // answer digit 10^0 predicts 10^1
        assert_eq!(p.to_string(), "123+45=");
    }

    #[test]
    fn sums_carry_and_grow() {
        for (a, b, s) in [("999", "1", "1000"), ("0", "0", "0"), ("58", "67", "125"), ("5", "5", "10")] {
            assert_eq!(to_decimal(&Problem::parse(a, b).unwrap().sum()), s, "{a}+{b}");
        }
        assert!(Problem::parse("012", "1").is_none());
        assert!(Problem::parse("1a", "1").is_none());
    }

    #[test]
    fn answers_are_read_strictly() {
        assert_eq!(Answer::read(&[8, 6, 1, END]), Answer::Digits(vec![8, 6, 1]));
        assert_eq!(Answer::read(&[8, 6, 1, END]).to_string(), "168");
        assert!(matches!(Answer::read(&[8, 6, 1]), Answer::Malformed(_)));
        assert!(matches!(Answer::read(&[END]), Answer::Malformed(_)));
        assert!(matches!(Answer::read(&[8, PLUS, END]), Answer::Malformed(_)));
        assert_eq!(Answer::read(&[8, 6, 1]).as_written(), Some(vec![8, 6, 1]));
        assert_eq!(Answer::read(&[PLUS]).as_written(), None);
    }

    #[test]
    fn drawn_problems_have_their_length_and_avoid_the_excluded() {
        let mut rng = StdRng::seed_from_u64(3);
        let exclude: HashSet<Problem> = (0..50).map(|_| Problem::draw(2, &mut rng)).collect();
        let drawn = draw_distinct(500, 2, &exclude, &mut rng);
        assert_eq!(drawn.len(), 500);
        assert!(drawn.iter().all(|p| p.length() == 2 && !exclude.contains(p)));
        let unique: HashSet<_> = drawn.iter().collect();
        assert_eq!(unique.len(), drawn.len());
        // Length 1 has only 100 problems: the draw stops instead of looping.
        assert!(draw_distinct(500, 1, &HashSet::new(), &mut rng).len() <= 100);
        let full_drawn = draw_distinct_full(50, 3, &exclude, &mut rng);
        assert!(full_drawn.iter().all(|p| p.a.len() == 3 && p.b.len() == 3));
        let full = Problem::draw_full(4, &mut rng);
        assert_eq!((full.a.len(), full.b.len()), (4, 4));
        assert_ne!(full.a[3], 0);
    }
}
