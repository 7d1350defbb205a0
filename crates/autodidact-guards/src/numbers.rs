//! Numbers in text, as values: `1,234.5`, `$80,000`, `150%`, `-3`, `5km`, `twenty-five`,
//! `three hundred and two`, `1/2`.
//!
//! Digits: an optional sign, groups of three after commas (`1,234,567`; `1,23` is two numbers),
//! an optional decimal part; a unit or symbol glued on (`5km`, `$3`, `40%`) is not part of the
//! value. Words: cardinals from zero to the billions, with hyphens and `and` inside
//! (`one hundred and five`); `a hundred`, `a dozen` too. A fraction `a/b` of integers is its
//! value. Ordinals (`third`) and vague words (`several`) are not numbers.
//!
//! ```
//! use autodidact_guards::numbers::values;
//! assert_eq!(values("He paid $1,250.50 for twenty-five apples, 40% off."), vec![1250.5, 25.0, 40.0]);
//! ```

/// A number found in a text.
#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    /// Its value.
    pub value: f64,
    /// Byte range in the text.
    pub start: usize,
    /// End of the byte range.
    pub end: usize,
}

fn unit_word(w: &str) -> Option<f64> {
    const UNITS: [&str; 20] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    ];
    const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    if let Some(i) = UNITS.iter().position(|u| *u == w) {
        return Some(i as f64);
    }
    TENS.iter().position(|t| *t == w).map(|i| (i as f64 + 2.0) * 10.0)
}

fn scale_word(w: &str) -> Option<f64> {
    match w {
        "hundred" => Some(100.0),
        "thousand" => Some(1e3),
        "million" => Some(1e6),
        "billion" => Some(1e9),
        "dozen" => Some(12.0),
        _ => None,
    }
}

/// Every number of `text`, in order.
pub fn numbers(text: &str) -> Vec<Number> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    // Words (for number words): (lowercase word, start, end).
    let mut words: Vec<(String, usize, usize)> = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            let (mut n, mut end) = digits_at(text, i);
            // `2 dozen`, `1.5 million`: the scale word multiplies.
            let rest = &text[end..];
            let word: String = rest.trim_start_matches(' ').chars().take_while(char::is_ascii_alphabetic).collect();
            if rest.starts_with(' ') && let Some(sc) = scale_word(&word.to_ascii_lowercase()) {
                n.value *= sc;
                end += rest.len() - rest.trim_start_matches(' ').len() + word.len();
                n.end = end;
            }
            out.push(n);
            i = end;
            continue;
        }
        if c.is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            words.push((text[start..i].to_ascii_lowercase(), start, i));
            continue;
        }
        if !c.is_ascii() {
            // Skip a whole UTF-8 character; non-ASCII letters end a word run.
            let ch = text[i..].chars().next().map_or(1, char::len_utf8);
            words.push((String::new(), i, i + ch));
            i += ch;
            continue;
        }
        i += 1;
    }
    out.extend(word_numbers(text, &words));
    out.sort_by_key(|n| n.start);
    out
}

/// A number written in digits starting at byte `i` (a digit), with the sign and decimal part.
fn digits_at(text: &str, i: usize) -> (Number, usize) {
    let b = text.as_bytes();
    let mut start = i;
    if i > 0 && b[i - 1] == b'-' && (i < 2 || !b[i - 2].is_ascii_alphanumeric()) {
        start = i - 1;
    }
    let mut j = i;
    let mut int = String::new();
    while j < b.len() && b[j].is_ascii_digit() {
        int.push(b[j] as char);
        j += 1;
    }
    // Thousands groups: ",ddd" not followed by another digit.
    while j + 4 <= b.len() && b[j] == b',' && b[j + 1..j + 4].iter().all(u8::is_ascii_digit) && (j + 4 == b.len() || !b[j + 4].is_ascii_digit()) {
        int.push_str(&text[j + 1..j + 4]);
        j += 4;
    }
    let mut value: f64 = int.parse().unwrap_or(0.0);
    if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
        let mut k = j + 1;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        value = text[i..k].replace(',', "").parse().unwrap_or(value);
        j = k;
    } else if j + 1 < b.len() && b[j] == b'/' && b[j + 1].is_ascii_digit() {
        let mut k = j + 1;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        let den: f64 = text[j + 1..k].parse().unwrap_or(0.0);
        if den != 0.0 {
            value /= den;
            j = k;
        }
    }
    if start < i {
        value = -value;
    }
    (Number { value, start, end: j }, j)
}

fn word_numbers(text: &str, words: &[(String, usize, usize)]) -> Vec<Number> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (w, s, _) = &words[i];
        let starts = unit_word(w).is_some() || (w == "a" && words.get(i + 1).is_some_and(|n| scale_word(&n.0).is_some()));
        if !starts {
            i += 1;
            continue;
        }
        let (mut total, mut current, mut end, mut j) = (0.0f64, 0.0f64, *s, i);
        let mut any = false;
        while j < words.len() {
            let (w, _, e) = &words[j];
            // Only spaces or hyphens between the words of one number.
            if j > i {
                let gap = &text[words[j - 1].2..words[j].1];
                if !gap.chars().all(|c| c == ' ' || c == '-') {
                    break;
                }
            }
            if let Some(v) = unit_word(w) {
                // `twenty five`, `hundred and five`: one number; `six five`: two.
                let joins = current == 0.0 || (current % 100.0 >= 20.0 && current % 10.0 == 0.0 && v < 10.0) || current % 100.0 == 0.0;
                if !joins {
                    break;
                }
                current += v;
            } else if w == "a" && j == i {
                current = 1.0;
            } else if let Some(sc) = scale_word(w) {
                if !any && j != i + 1 {
                    break;
                }
                if sc == 100.0 {
                    current = current.max(1.0) * 100.0;
                } else {
                    total += current.max(1.0) * sc;
                    current = 0.0;
                }
            } else if w == "and" && words.get(j + 1).is_some_and(|n| unit_word(&n.0).is_some()) && (current >= 100.0 || total > 0.0) {
                j += 1;
                continue;
            } else {
                break;
            }
            any = true;
            end = *e;
            j += 1;
        }
        if any && !(words[i].0 == "a" && end == words[i].2) {
            out.push(Number { value: total + current, start: *s, end });
        }
        i = j.max(i + 1);
    }
    out
}

/// The values of [`numbers`].
pub fn values(text: &str) -> Vec<f64> {
    numbers(text).into_iter().map(|n| n.value).collect()
}

/// Whether two values are the same number (relative tolerance 1e-9).
pub fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_with_separators_signs_decimals_and_units() {
        assert_eq!(values("1,234,567 and 1,23 and 12,3456"), vec![1234567.0, 1.0, 23.0, 12.0, 3456.0]);
        assert_eq!(values("$80,000+$50,000=$130,000"), vec![80000.0, 50000.0, 130000.0]);
        assert_eq!(values("It fell -3 degrees, to 5km at 2.5x speed, 150%."), vec![-3.0, 5.0, 2.5, 150.0]);
        assert_eq!(values("16-3-4=9"), vec![16.0, 3.0, 4.0, 9.0]);
        assert_eq!(values("half is 1/2, a ratio 3/0"), vec![0.5, 3.0, 0.0]);
        assert_eq!(values("version 3.10.2"), vec![3.1, 2.0]);
    }

    #[test]
    fn numbers_written_in_words() {
        assert_eq!(values("twenty-five"), vec![25.0]);
        assert_eq!(values("three hundred and two apples"), vec![302.0]);
        assert_eq!(values("Two thousand five hundred people, and one dog"), vec![2500.0, 1.0]);
        assert_eq!(values("a dozen eggs and a hundred birds"), vec![12.0, 100.0]);
        assert_eq!(values("one million"), vec![1e6]);
        assert_eq!(values("ten, eleven"), vec![10.0, 11.0]);
        assert_eq!(values("six five dollar bills, twenty five, 2 dozen, 1.5 million"), vec![6.0, 5.0, 25.0, 24.0, 1.5e6]);
        assert!(values("a cat and the third one-off").iter().all(|&v| v == 1.0));
        assert!(values("several hundreds of stones").is_empty());
    }

    #[test]
    fn positions_point_at_the_text() {
        let t = "Paid $1,250 for twenty-five.";
        let n = numbers(t);
        assert_eq!(&t[n[0].start..n[0].end], "1,250");
        assert_eq!(&t[n[1].start..n[1].end], "twenty-five");
        assert!(same(0.1 + 0.2, 0.3) && !same(1.0, 1.001));
    }
}
