//! Text normalisation and word tokenisation.
//!
//! Every comparison in curation (exact duplicates, shingles, repetition, decontamination) runs
//! on the same normal form, so that case, spacing and punctuation never hide a duplicate:
//!
//! - letters are lowercased (full Unicode lowercasing);
//! - punctuation (Unicode general category P in the common scripts: `.,;:!?'"()[]{}-_/\@#%&*`,
//!   dashes, quotes, CJK and fullwidth punctuation, ...) is deleted, so `don't` becomes `dont`
//!   and `state-of-the-art` becomes `stateoftheart`; symbols (`+ = < > $ ^ | ~` and others)
//!   are kept, so `2+2=4` and `2 + 2 = 4` stay distinct from `22=4`;
//! - runs of whitespace and control characters separate words and become one space;
//!   a word made only of punctuation disappears.
//!
//! The result is the words joined by single spaces, so any run of consecutive words (an
//! n-gram) is a contiguous slice of the normalised text and can be hashed or shown as is.
//!
//! ```
//! use autodidact_curate::normalize::{normalize, Words};
//! assert_eq!(normalize("  Hello,   WORLD! -- It's  me. "), "hello world its me");
//! let w = Words::new("The cat sat on the mat.");
//! assert_eq!(w.len(), 6);
//! assert_eq!(w.ngrams(3).next(), Some("the cat sat"));
//! ```

/// Whether `c` is deleted by normalisation: Unicode punctuation (general category P) in the
/// Latin, Greek, Armenian, Hebrew, Arabic, Devanagari, Thai, general-punctuation, CJK and
/// fullwidth blocks. Other scripts' rare punctuation is kept as part of words, which can only
/// make two texts look less alike, never more.
pub fn is_punctuation(c: char) -> bool {
    if c.is_ascii() {
        return matches!(
            c,
            '!' | '"' | '#' | '%' | '&' | '\'' | '(' | ')' | '*' | ',' | '-' | '.' | '/' | ':' | ';' | '?' | '@' | '['
                | '\\' | ']' | '_' | '{' | '}'
        );
    }
    matches!(c as u32,
        0x00A1 | 0x00A7 | 0x00AB | 0x00B6 | 0x00B7 | 0x00BB | 0x00BF
        | 0x037E | 0x0387
        | 0x055A..=0x055F | 0x0589 | 0x058A
        | 0x05BE | 0x05C0 | 0x05C3 | 0x05C6 | 0x05F3 | 0x05F4
        | 0x0609..=0x060D | 0x061B | 0x061D..=0x061F | 0x066A..=0x066D | 0x06D4
        | 0x0964 | 0x0965 | 0x0970
        | 0x0E4F | 0x0E5A | 0x0E5B
        | 0x2010..=0x2027 | 0x2030..=0x2043 | 0x2045..=0x2051 | 0x2053..=0x205E
        | 0x207D | 0x207E | 0x208D | 0x208E
        | 0x2308..=0x230B | 0x2329 | 0x232A | 0x2768..=0x2775 | 0x27C5 | 0x27C6 | 0x27E6..=0x27EF
        | 0x2983..=0x2998 | 0x29D8..=0x29DB | 0x29FC | 0x29FD
        | 0x2CF9..=0x2CFC | 0x2CFE | 0x2CFF | 0x2E00..=0x2E4F
        | 0x3001..=0x3003 | 0x3008..=0x3011 | 0x3014..=0x301F | 0x3030 | 0x303D | 0x30A0 | 0x30FB
        | 0xFE10..=0xFE19 | 0xFE30..=0xFE52 | 0xFE54..=0xFE61 | 0xFE63 | 0xFE68 | 0xFE6A | 0xFE6B
        | 0xFF01..=0xFF03 | 0xFF05..=0xFF0A | 0xFF0C..=0xFF0F | 0xFF1A | 0xFF1B | 0xFF1F | 0xFF20
        | 0xFF3B..=0xFF3D | 0xFF3F | 0xFF5B | 0xFF5D | 0xFF5F..=0xFF65
    )
}

const SEPARATOR: u8 = 0;
const PUNCTUATION: u8 = 1;
/// ASCII kept as is (lowercase letters, digits, symbols).
const KEEP: u8 = 2;
const UPPER: u8 = 3;
/// Non-ASCII word characters, lowercased by Unicode rules.
const OTHER: u8 = 4;

/// The class of every ASCII byte, the same as the general rules give.
const ASCII_CLASS: [u8; 128] = {
    let mut t = [KEEP; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8 as char;
        t[i] = if c.is_ascii_whitespace() || c.is_ascii_control() {
            SEPARATOR
        } else if c.is_ascii_uppercase() {
            UPPER
        } else {
            KEEP
        };
        i += 1;
    }
    let punct = b"!\"#%&'()*,-./:;?@[\\]_{}";
    let mut j = 0;
    while j < punct.len() {
        t[punct[j] as usize] = PUNCTUATION;
        j += 1;
    }
    t
};

/// Every ASCII byte lowercased.
const ASCII_LOWER: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        t[i] = (i as u8).to_ascii_lowercase();
        i += 1;
    }
    t
};

/// The normal form of `text`: lowercased, punctuation deleted, words joined by single spaces.
pub fn normalize(text: &str) -> String {
    Words::new(text).text
}

/// A normalised text and where each of its words starts and ends in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Words {
    text: String,
    /// Byte ranges of the words in `text`, as (start, end).
    spans: Vec<(u32, u32)>,
}

impl Words {
    /// Normalises and tokenises `text`.
    pub fn new(text: &str) -> Self {
        // Room for the text and a word per two bytes: no reallocation while normalising.
        let mut w = Words { text: String::with_capacity(text.len() + 2), spans: Vec::with_capacity(text.len() / 2 + 1) };
        w.push_text(text);
        w
    }

    /// Normalises and tokenises `text` into these words' buffers, which are reused: no
    /// allocation once they are large enough.
    pub fn set(&mut self, text: &str) {
        self.text.clear();
        self.spans.clear();
        self.text.reserve(text.len() + 2);
        self.spans.reserve(text.len() / 2 + 2);
        self.push_text(text);
    }

    /// Normalises and tokenises several texts as one word sequence (for `prompt+response`).
    pub fn from_parts<'a>(parts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut w = Words::default();
        for p in parts {
            w.push_text(p);
        }
        w
    }

    /// Appends the words of `text`; they follow the existing words as if separated by a space.
    pub fn push_text(&mut self, text: &str) {
        if text.is_ascii() {
            self.push_ascii(text.as_bytes());
        } else {
            self.push_general(text);
        }
    }

    /// [`push_text`](Self::push_text) for ASCII text, without a branch per byte: every byte is
    /// written (lowercased, or a space for a separator) and the write position moves on only
    /// for word bytes and for the first separator after a word; punctuation is overwritten.
    /// The same normal form as the general path, several times faster.
    fn push_ascii(&mut self, bytes: &[u8]) {
        let old = self.text.len();
        let mut out = std::mem::take(&mut self.text).into_bytes();
        out.reserve(bytes.len() + 2);
        // A leading space (kept when there are words before, dropped otherwise) means "the
        // last byte written was a separator", so leading separators collapse into it.
        out.push(b' ');
        let base = out.len();
        out.resize(base + bytes.len() + 1, b' ');
        // The positions of the spaces kept, found in the same pass: every iteration writes the
        // current position into the next slot, which only a kept space claims. At most one
        // space per two bytes is kept (each follows a word byte).
        let had = self.spans.len();
        self.spans.resize(had + bytes.len() / 2 + 2, (0, 0));
        let room = &mut self.spans[had..];
        let mut n = 0;
        // Written through slices, whose lengths stay in registers (a vector's is reloaded for
        // every bounds check).
        let dst = &mut out[base..];
        let mut k = 0;
        // Whether the last byte kept is a space (the leading one to begin with): kept in a
        // register, so no iteration waits for the previous one's store.
        let mut last_sep = true;
        for &b in bytes {
            let class = ASCII_CLASS[(b & 0x7f) as usize];
            let sep = class == SEPARATOR;
            dst[k] = if sep { b' ' } else { ASCII_LOWER[(b & 0x7f) as usize] };
            let word = (class != SEPARATOR) & (class != PUNCTUATION);
            let space = sep & !last_sep;
            room[n].1 = k as u32;
            n += usize::from(space);
            k += usize::from(word | space);
            last_sep = !word & (sep | last_sep);
        }
        let mut j = base + k;
        // A trailing separator is not kept.
        if out[j - 1] == b' ' {
            j -= 1;
            n = n.saturating_sub(usize::from(k > 0));
        }
        out.truncate(j);
        if out.len() < base {
            // No word: the text is as it was.
            out.truncate(old);
        } else if old == 0 {
            // No words before: the leading space goes.
            out.remove(0);
        }
        // Where the new words begin in the final text.
        let first = if old == 0 { 0 } else { old + 1 };
        // Only ASCII bytes were added to what was valid UTF-8.
        self.text = String::from_utf8(out).expect("ASCII text stays valid UTF-8");
        if self.text.len() > first {
            // Each word ends at the next space kept, the last at the end.
            let mut start = first as u32;
            for slot in &mut room[..n] {
                let end = first as u32 + slot.1;
                *slot = (start, end);
                start = end + 1;
            }
            room[n] = (start, self.text.len() as u32);
            self.spans.truncate(had + n + 1);
        } else {
            self.spans.truncate(had);
        }
    }

    /// [`push_text`](Self::push_text) for any text.
    fn push_general(&mut self, text: &str) {
        self.text.reserve(text.len());
        let mut in_word = false;
        let mut start = 0usize;
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            // ASCII, nearly all of most texts, goes through a table; the rest is decoded.
            let (class, c, width) = if bytes[i] < 0x80 {
                (ASCII_CLASS[bytes[i] as usize], bytes[i] as char, 1)
            } else {
                let c = text[i..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
                let class = if c.is_whitespace() || c.is_control() {
                    SEPARATOR
                } else if is_punctuation(c) {
                    PUNCTUATION
                } else {
                    OTHER
                };
                (class, c, c.len_utf8())
            };
            i += width;
            match class {
                SEPARATOR => {
                    if in_word {
                        self.end_word(start);
                        in_word = false;
                    }
                }
                // Deleted without splitting the word: `don't` → `dont`.
                PUNCTUATION => {}
                _ => {
                    if !in_word {
                        if !self.text.is_empty() {
                            self.text.push(' ');
                        }
                        start = self.text.len();
                        in_word = true;
                    }
                    match class {
                        KEEP => self.text.push(c),
                        UPPER => self.text.push(c.to_ascii_lowercase()),
                        _ => self.text.extend(c.to_lowercase()),
                    }
                }
            }
        }
        if in_word {
            self.end_word(start);
        }
    }

    fn end_word(&mut self, start: usize) {
        // Texts over 4 GiB are not curation inputs; saturating keeps this total anyway.
        let s = u32::try_from(start).unwrap_or(u32::MAX);
        let e = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.spans.push((s, e));
    }

    /// Byte ranges of the words in [`as_str`](Self::as_str), as (start, end).
    pub fn spans(&self) -> &[(u32, u32)] {
        &self.spans
    }

    /// The normalised text: the words joined by single spaces.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The number of words.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The words, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.spans.iter().map(|&(s, e)| &self.text[s as usize..e as usize])
    }

    /// The `n` words starting at word `i`, as one slice of the normalised text.
    /// `None` when they run past the end or `n` is 0.
    pub fn ngram(&self, i: usize, n: usize) -> Option<&str> {
        if n == 0 || i + n > self.spans.len() {
            return None;
        }
        let s = self.spans[i].0 as usize;
        let e = self.spans[i + n - 1].1 as usize;
        Some(&self.text[s..e])
    }

    /// Every run of `n` consecutive words, in order (none when there are fewer than `n` words).
    pub fn ngrams(&self, n: usize) -> impl Iterator<Item = &str> + '_ {
        let count = if n == 0 { 0 } else { (self.spans.len() + 1).saturating_sub(n) };
        (0..count).filter_map(move |i| self.ngram(i, n))
    }

    /// The shingles of the text: its word `n`-grams, or, when it has fewer than `n` words but
    /// at least one, the whole text as a single shingle, so that short texts still compare.
    pub fn shingles(&self, n: usize) -> impl Iterator<Item = &str> + '_ {
        let whole = (n > 0 && !self.spans.is_empty() && self.spans.len() < n).then_some(self.text.as_str());
        whole.into_iter().chain(self.ngrams(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ASCII fast path and the general path give the same words, whatever the text.
    #[test]
    fn the_ascii_path_equals_the_general_one() {
        let alphabet = b"aZ9 \t\n.,'-+=$!?()x";
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..5000 {
            let len = (next() % 40) as usize;
            let text: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char).collect();
            let prefix = ["", "earlier words", "x"][(next() % 3) as usize];
            let mut fast = Words::new(prefix);
            fast.push_ascii(text.as_bytes());
            let mut general = Words::new(prefix);
            general.push_general(&text);
            assert_eq!(fast, general, "{prefix:?} + {text:?}");
        }
    }

    fn check(input: &str, expected: &str) {
        assert_eq!(normalize(input), expected, "normalize({input:?})");
    }

    #[test]
    fn normalisation() {
        check("", "");
        check("   \t\n ", "");
        check("Hello", "hello");
        check("  Hello,   WORLD!  ", "hello world");
        check("It's a well-known fact.", "its a wellknown fact");
        check("tab\tand\nnewline\r\nend", "tab and newline end");
        check("... --- !!!", "");
        check("a -- b", "a b");
        check("2+2=4, and 3 < 5 ($10)", "2+2=4 and 3 < 5 $10");
        check("ÉCOLE Straße ΣΊΣΥΦΟΣ", "école straße σίσυφοσ");
        check("“Quoted” — dash… «guillemets» ¿qué?", "quoted dash guillemets qué");
        check("中文，标点。", "中文标点");
        check("zero\u{0}width\u{2028}sep", "zero width sep");
        check("İ", "i\u{307}");
    }

    #[test]
    fn the_ascii_table_agrees_with_the_general_rules() {
        for b in 0u8..128 {
            let c = b as char;
            let general = if c.is_whitespace() || c.is_control() {
                SEPARATOR
            } else if is_punctuation(c) {
                PUNCTUATION
            } else if c.is_uppercase() {
                UPPER
            } else {
                KEEP
            };
            assert_eq!(ASCII_CLASS[b as usize], general, "byte {b:#x}");
        }
    }

    #[test]
    fn words_and_ngrams() {
        let w = Words::new("The cat, the HAT; the bat.");
        assert_eq!(w.iter().collect::<Vec<_>>(), ["the", "cat", "the", "hat", "the", "bat"]);
        assert_eq!(w.ngrams(2).collect::<Vec<_>>(), ["the cat", "cat the", "the hat", "hat the", "the bat"]);
        assert_eq!(w.ngrams(6).collect::<Vec<_>>(), ["the cat the hat the bat"]);
        assert_eq!(w.ngrams(7).count(), 0);
        assert_eq!(w.ngrams(0).count(), 0);
        assert_eq!(w.ngram(4, 2), Some("the bat"));
        assert_eq!(w.ngram(5, 2), None);
    }

    #[test]
    fn shingles_of_short_texts_are_the_whole_text() {
        let short = Words::new("Two words");
        assert_eq!(short.shingles(5).collect::<Vec<_>>(), ["two words"]);
        let exact = Words::new("a b c");
        assert_eq!(exact.shingles(3).collect::<Vec<_>>(), ["a b c"]);
        let long = Words::new("a b c d");
        assert_eq!(long.shingles(3).collect::<Vec<_>>(), ["a b c", "b c d"]);
        assert_eq!(Words::new("").shingles(3).count(), 0);
        assert_eq!(Words::new("!!").shingles(3).count(), 0);
    }

    #[test]
    fn parts_join_as_separate_words() {
        let w = Words::from_parts(["What is it?", "It is a cat."]);
        assert_eq!(w.as_str(), "what is it it is a cat");
        assert_eq!(w.len(), 7);
        // A part without words adds nothing, not an empty word.
        assert_eq!(Words::from_parts(["a", " ... ", "b"]).as_str(), "a b");
    }
}
