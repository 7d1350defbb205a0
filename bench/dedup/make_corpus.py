#!/usr/bin/env python3
"""A deduplication benchmark corpus of real text with planted near-duplicates of known similarity.

    python3 bench/dedup/make_corpus.py --docs 100000 --seed 1 --out target/bench/dedup/c.jsonl

Writes OUT (JSONL: {"id": "d0000123", "text": ...}), OUT's stem + ".truth.jsonl" (one line per
planted copy: id, source, kind, true Jaccard similarities) and + ".stats.json" (the make-up).

Base documents are random runs of real units, either Shakespeare lines (tinyshakespeare.txt,
joined by newlines) or GSM8K sentences (questions and answers of gsm8k-train and -test,
calculator annotations removed, joined by spaces), 60 to 120 words each. No two base documents
share an adjacent pair of units (a draw that would is redrawn), so they can only share a unit's
own shingles and never come near each other; the exact maximum over a sample is printed.

A share of the documents (--dup-share) are copies of an earlier base document, placed after it:
5% exact copies, 5% that differ only in case and punctuation, the rest edited (random word
substitutions, deletions, insertions and swaps of adjacent units) until the true Jaccard
similarity to the source falls to a target drawn uniformly from [--min-sim, 1]. True similarity
is the exact Jaccard of 5-word shingle sets of normalised text (common.py, autodidact's rule).

A copy is a true duplicate when it is that similar (>= the threshold, 0.8) to an EARLIER
document of its family (the source or an earlier copy of it): `j_earlier` in the truth file.
`j_family` is its highest similarity to any other member, later ones included, which tells a
removal through a cluster chain apart from a plain false positive.
"""

import argparse
import json
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

from common import jaccard, shingles, words

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
# Words per unit (line or sentence) and units per base document: with short units, no shared
# unit can make two documents look alike.
MIN_UNIT, MAX_UNIT, MIN_UNITS = 3, 20, 6


def load_units(data: Path) -> tuple[list[str], list[str]]:
    """Shakespeare lines and GSM8K sentences of 3 to 20 words, distinct in normal form."""
    lines = []
    for line in (data / "tinyshakespeare.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        # Speaker names ("First Citizen:") are not text.
        if MIN_UNIT <= len(line.split()) <= MAX_UNIT and not line.endswith(":"):
            lines.append(line)
    sentences = []
    for name in ("gsm8k-train.jsonl", "gsm8k-test.jsonl"):
        for row in (data / name).read_text(encoding="utf-8").splitlines():
            obj = json.loads(row)
            for t in (obj["question"], obj["answer"]):
                t = re.sub(r"<<[^>]*>>", "", t)
                t = re.sub(r"####.*", "", t)
                sentences += [s.strip() for s in re.split(r"(?<=[.?!])\s+|\n", t)
                              if MIN_UNIT <= len(s.split()) <= MAX_UNIT]

    def distinct(units):
        seen = {}
        for u in units:
            seen.setdefault(" ".join(words(u)), u)
        return list(seen.values())

    return distinct(lines), distinct(sentences)


class Bases:
    """Draws base documents whose adjacent unit pairs were never used before."""

    BITS = 1 << 30  # a bitmap of used pairs (128 MiB); a hash collision only costs a redraw

    def __init__(self, rng: random.Random, pools: list[list[str]]):
        self.rng, self.pools = rng, pools
        self.used = bytearray(self.BITS // 8)
        self.redraws = 0

    def _bit(self, pool: int, a: int, b: int) -> int:
        return ((pool * 1_000_003 + a) * 2_000_029 + b) * 0x9E3779B97F4A7C15 % (1 << 61) % self.BITS

    def draw(self) -> tuple[int, list[str]]:
        rng = self.rng
        while True:
            p = rng.randrange(2)
            pool = self.pools[p]
            target, n, ids = rng.randint(60, 120), 0, []
            while n < target or len(ids) < MIN_UNITS:
                ids.append(rng.randrange(len(pool)))
                n += len(pool[ids[-1]].split())
            bits = [self._bit(p, a, b) for a, b in zip(ids, ids[1:])]
            if len(set(ids)) == len(ids) and not any(self.used[x >> 3] >> (x & 7) & 1 for x in bits):
                for x in bits:
                    self.used[x >> 3] |= 1 << (x & 7)
                return p, [pool[i] for i in ids]
            self.redraws += 1


def join(p: int, units: list[str]) -> str:
    return ("\n" if p == 0 else " ").join(units)


def case_punct_copy(rng: random.Random, text: str) -> str:
    """Same words after normalisation: case changed, punctuation added or removed."""
    out = []
    for tok in text.split(" "):
        r = rng.random()
        if r < 0.15:
            tok = tok.upper()
        elif r < 0.3:
            tok = tok.capitalize()
        elif r < 0.4:
            tok = tok.strip(".,;:!?'\"") or tok
        elif r < 0.5:
            tok += rng.choice([",", ";", "...", "!", " --"])
        out.append(tok)
    copy = " ".join(out)
    assert words(copy) == words(text)
    return copy


def edited_copy(rng: random.Random, p: int, units: list[str], target: float, vocab: list[str]):
    """Random edits until the true Jaccard to the source is nearest `target`."""
    src = shingles(words(join(p, units)))
    toks = [u.split() for u in units]

    def edit():
        u = rng.randrange(len(toks))
        op = rng.random()
        if op < 0.1 and len(toks) > 1:  # swap two adjacent units
            u = min(u, len(toks) - 2)
            toks[u], toks[u + 1] = toks[u + 1], toks[u]
        elif op < 0.5 or len(toks[u]) < 2:  # substitute a word
            toks[u][rng.randrange(len(toks[u]))] = rng.choice(vocab)
        elif op < 0.75:  # delete a word
            del toks[u][rng.randrange(len(toks[u]))]
        else:  # insert a word
            toks[u].insert(rng.randrange(len(toks[u]) + 1), rng.choice(vocab))

    def sim():
        return jaccard(src, shingles(words(join(p, [" ".join(t) for t in toks]))))

    # One substitution takes out about 5 shingles: J = (n-k)/(n+k) after k shingles changed.
    # Most of the expected number of edits at once, then one at a time.
    k = len(src) * (1 - target) / (1 + target)
    for _ in range(int(0.6 * k / 5)):
        edit()
    edits = int(0.6 * k / 5)
    j = sim()
    while j > target:
        before, j_before = [list(t) for t in toks], j
        edit()
        edits += 1
        j = sim()
        # One edit moves J by up to ~0.1: keep whichever side is nearer the target (but at
        # least one edit: unedited copies are the "exact" kind).
        if j <= target and j_before - target < target - j and edits > 1:
            toks, j, edits = before, j_before, edits - 1
            break
    return join(p, [" ".join(t) for t in toks]), edits


def check_bases(texts: list[str], limit: int) -> tuple[float, int]:
    """The exact maximum Jaccard over all pairs of the first `limit` base documents."""
    index = defaultdict(list)
    sets = [shingles(words(t)) for t in texts[:limit]]
    best, pairs = 0.0, 0
    for i, s in enumerate(sets):
        counts = defaultdict(int)
        for sh in s:
            for j in index[sh]:
                counts[j] += 1
            index[sh].append(i)
        pairs += len(counts)
        for j, c in counts.items():
            best = max(best, c / (len(s) + len(sets[j]) - c))
    return best, pairs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--dup-share", type=float, default=0.10, help="share of documents that are copies")
    ap.add_argument("--min-sim", type=float, default=0.5, help="lowest target similarity of an edited copy")
    ap.add_argument("--threshold", type=float, default=0.8, help="true duplicate at or above this")
    ap.add_argument("--check", type=int, default=20_000, help="base documents checked pairwise, exactly")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()
    started = time.time()
    rng = random.Random(args.seed)
    pools = load_units(args.data)
    vocab = [w for pool in pools for u in pool for w in u.split()]
    bases = Bases(rng, pools)

    base_ids, base_units = [], []  # index into docs; (pool, units) of each base document
    family = defaultdict(list)  # base doc index -> its copies' doc indices, in order
    texts, truth = [], {}
    for i in range(args.docs):
        if base_ids and rng.random() < args.dup_share:
            b = rng.randrange(len(base_ids))
            src = base_ids[b]
            p, units = base_units[b]
            r = rng.random()
            if r < 0.05:
                kind, text, edits = "exact", texts[src], 0
            elif r < 0.10:
                kind, text, edits = "case_punct", case_punct_copy(rng, texts[src]), 0
            else:
                target = rng.uniform(args.min_sim, 1.0)
                kind = "edited"
                text, edits = edited_copy(rng, p, units, target, vocab)
            family[src].append(i)
            truth[i] = {"source": src, "kind": kind, "edits": edits}
        else:
            p, units = bases.draw()
            base_ids.append(i)
            base_units.append((p, units))
            text = join(p, units)
        texts.append(text)

    # True similarities within each family (bases never come near each other).
    for src, copies in family.items():
        members = [src] + copies
        sets = {m: shingles(words(texts[m])) for m in members}
        for c in copies:
            t = truth[c]
            t["j_source"] = jaccard(sets[c], sets[src])
            earlier = [(jaccard(sets[c], sets[m]), m) for m in members if m < c]
            t["j_earlier"], t["closest_earlier"] = max(earlier)
            t["j_family"] = max(jaccard(sets[c], sets[m]) for m in members if m != c)

    name = lambda i: f"d{i:07d}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": name(i), "text": t}) + "\n")
    stem = args.out.with_suffix("")
    with open(f"{stem}.truth.jsonl", "w", encoding="utf-8") as f:
        for i, t in sorted(truth.items()):
            row = {"id": name(i), "source": name(t["source"]), "kind": t["kind"], "edits": t["edits"],
                   "j_source": round(t["j_source"], 6), "j_earlier": round(t["j_earlier"], 6),
                   "closest_earlier": name(t["closest_earlier"]), "j_family": round(t["j_family"], 6),
                   "duplicate": t["j_earlier"] >= args.threshold}
            f.write(json.dumps(row) + "\n")

    max_base, pairs = check_bases([texts[i] for i in base_ids], args.check)
    hist = defaultdict(int)
    for t in truth.values():
        hist[f"{min(int(t['j_earlier'] * 20), 19) / 20:.2f}"] += 1
    stats = {
        "docs": args.docs, "seed": args.seed, "base_docs": len(base_ids), "copies": len(truth),
        "true_duplicates": sum(t["j_earlier"] >= args.threshold for t in truth.values()),
        "threshold": args.threshold,
        "copies_by_kind": {k: sum(t["kind"] == k for t in truth.values()) for k in ("exact", "case_punct", "edited")},
        "families_with_several_copies": sum(len(c) > 1 for c in family.values()),
        "copies_by_j_earlier": dict(sorted(hist.items())),
        "unit_pools": {"shakespeare_lines": len(pools[0]), "gsm8k_sentences": len(pools[1])},
        "base_redraws": bases.redraws,
        "base_pairs_checked": {"docs": min(args.check, len(base_ids)), "pairs_sharing_a_shingle": pairs,
                               "max_jaccard": round(max_base, 4)},
        "seconds": round(time.time() - started, 1),
    }
    Path(f"{stem}.stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    print(json.dumps(stats, indent=1), file=sys.stderr)
    if max_base >= 0.5:
        sys.exit(f"error: two base documents reach Jaccard {max_base:.3f}")


if __name__ == "__main__":
    main()
