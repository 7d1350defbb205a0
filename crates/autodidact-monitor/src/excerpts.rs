//! Cutting a text into samples shaped like a generation's.

/// `count` excerpts of `len` characters each, evenly spaced over `text` from its start to its
/// end (overlapping only if the text is shorter than `count * len`). Excerpts of real held-out
/// text, cut like a generation's samples, give [`measure`](crate::measure) its ideal values:
/// what an uncollapsed model would score at that sample size.
///
/// If `text` is shorter than `len`, each excerpt is the whole text; an empty `text` or a
/// `count` or `len` of 0 gives no excerpts.
pub fn excerpts(text: &str, count: usize, len: usize) -> Vec<String> {
    if text.is_empty() || count == 0 || len == 0 {
        return Vec::new();
    }
    // Byte offsets of every char boundary, the end included, so excerpts never split a char.
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let chars = bounds.len() - 1;
    let len = len.min(chars);
    let room = chars - len;
    (0..count)
        .map(|i| {
            let start = if count == 1 {
                0
            } else {
                i * room / (count - 1)
            };
            text[bounds[start]..bounds[start + len]].to_owned()
        })
        .collect()
}
