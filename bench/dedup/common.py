"""Text normal form and shingles shared by the corpus builder, the scorer and the peers.

The same rule as autodidact's curation (crates/autodidact-curate/src/normalize.rs):
lowercase, delete punctuation (Unicode general category P), split on whitespace. A text's
shingles are its word n-grams joined by one space; a text with fewer than n words (but at
least one) is a single shingle of all its words.
"""

import sys
import unicodedata

# Every Unicode punctuation character, deleted by str.translate (ASCII: !"#%&'()*,-./:;?@[\]_{}).
PUNCT = {c: None for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)).startswith("P")}


def words(text: str) -> list[str]:
    """The normalised words of a text."""
    return text.lower().translate(PUNCT).split()


def shingles(ws: list[str], n: int = 5) -> set[str]:
    """The set of word n-grams of a normalised word list."""
    if len(ws) < n:
        return {" ".join(ws)} if ws else set()
    return {" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def read_rows(path: str, field: str = "text") -> tuple[list[str], list[str]]:
    """The ids and texts of a JSONL file."""
    import json

    ids, texts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            obj = json.loads(line)
            ids.append(obj["id"])
            texts.append(obj[field])
    return ids, texts


def earliest_of_clusters(n: int, pairs) -> list[int]:
    """Union-find over candidate pairs: the rows that are not the earliest of their cluster."""
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the root is always the earliest member
    return [i for i in range(n) if find(i) != i]


def write_removed(path: str, ids: list[str], removed: list[int]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(ids[i] + "\n" for i in removed)
