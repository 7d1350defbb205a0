#!/usr/bin/env python3
"""Decontamination benchmark helper: corpus, exact truth, plain-Python baseline and scoring.

    decontam.py make --records 100000 --seed 1 --data ../shared/data --out C.jsonl
    decontam.py baseline C.jsonl EVAL.jsonl REMOVED.txt [--ngram 13]
    decontam.py score C.truth.jsonl REMOVED

`make` writes C.jsonl ({"id", "text"}) and C.truth.jsonl (id, kind, contaminated). Clean
records are GSM8K train questions, answers or both, and Shakespeare paragraphs (6-14
consecutive lines). Planted records come from gsm8k-test questions of at least 20 words:
  verbatim      the question as it is
  embedded      the question inside clean text
  edited        words outside one kept 13-word run changed (case, punctuation, substitutions)
  near_miss     every 10th word changed, so that no 13-word run of the question survives
The truth is the exact rule, not the intent: a record is contaminated when its normalised
text shares a word 13-gram with any string of any object of gsm8k-test (question and answer),
so near misses count as clean and train records that happen to share boilerplate with the test
set count as contaminated ("natural").

`baseline` is the straightforward Python way: a set of 13-word tuples of every eval string,
then a scan of every record. `score` gives precision and recall by kind as JSON.
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path

from common import words

KINDS = ("verbatim", "embedded", "edited", "near_miss")


def eval_strings(path: Path):
    """Every string value, at any depth, of every JSON line (as autodidact reads eval files)."""

    def walk(v):
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            for x in v.values():
                yield from walk(x)
        elif isinstance(v, list):
            for x in v:
                yield from walk(x)

    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield from walk(json.loads(line))


def ngram_set(path: Path, n: int) -> set:
    grams = set()
    for s in eval_strings(path):
        ws = words(s)
        grams.update(tuple(ws[i : i + n]) for i in range(len(ws) - n + 1))
    return grams


def contaminated(text: str, grams: set, n: int) -> bool:
    ws = words(text)
    return any(tuple(ws[i : i + n]) in grams for i in range(len(ws) - n + 1))


def make(args):
    rng = random.Random(args.seed)
    data = Path(args.data)
    lines = (data / "tinyshakespeare.txt").read_text(encoding="utf-8").splitlines()
    train = [json.loads(x) for x in (data / "gsm8k-train.jsonl").read_text(encoding="utf-8").splitlines()]
    test = [json.loads(x)["question"] for x in (data / "gsm8k-test.jsonl").read_text(encoding="utf-8").splitlines()]
    test = [q for q in test if len(words(q)) >= 20]
    vocab = [w for line in lines[:5000] for w in line.split() if w.isalpha()]

    def clean():
        if rng.random() < 0.5:
            start = rng.randrange(len(lines) - 14)
            return "\n".join(lines[start : start + rng.randint(6, 14)]).strip() or lines[start]
        row = rng.choice(train)
        return rng.choice([row["question"], row["answer"], row["question"] + "\n" + row["answer"]])

    def change_words(q: str, every: int, keep: range = range(0)) -> str:
        """Replaces every `every`-th word (outside `keep`, in normalised word positions)."""
        toks, out, k = q.split(), [], 0
        for tok in toks:
            if words(tok):
                if k % every == every - 1 and k not in keep:
                    new = rng.choice(vocab)
                    while words(new) == words(tok):
                        new = rng.choice(vocab)
                    tok = new
                k += 1
            out.append(tok)
        return " ".join(out)

    def planted(kind: str) -> str:
        q = rng.choice(test)
        if kind == "verbatim":
            return q
        if kind == "embedded":
            return clean() + "\n\n" + q + "\n\n" + clean()
        if kind == "edited":
            n = len(words(q))
            start = rng.randrange(n - 13 + 1)
            keep = range(start, start + 13)
            # Outside the kept run: every 4th word replaced, and the case changed throughout.
            return change_words(q, 4, keep).upper() if rng.random() < 0.3 else change_words(q, 4, keep)
        return change_words(q, 10)  # near_miss: each 13-word window holds a changed word

    kinds = ["clean"] * (args.records - args.planted * len(KINDS))
    for k in KINDS:
        kinds += [k] * args.planted
    rng.shuffle(kinds)
    grams = ngram_set(data / "gsm8k-test.jsonl", args.ngram)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    counts = {}
    with open(out, "w", encoding="utf-8") as f, open(out.with_suffix(".truth.jsonl"), "w", encoding="utf-8") as t:
        for i, kind in enumerate(kinds):
            text = clean() if kind == "clean" else planted(kind)
            rid = f"r{i:07d}"
            hit = contaminated(text, grams, args.ngram)
            f.write(json.dumps({"id": rid, "text": text}) + "\n")
            t.write(json.dumps({"id": rid, "kind": kind, "contaminated": hit}) + "\n")
            c = counts.setdefault(kind, [0, 0])
            c[0] += 1
            c[1] += hit
    print(json.dumps({"records": args.records, "by_kind_records_contaminated": counts}), file=sys.stderr)


def baseline(args):
    started = time.time()
    grams = ngram_set(Path(args.eval), args.ngram)
    n = removed = 0
    with open(args.corpus, encoding="utf-8") as f, open(args.removed, "w", encoding="utf-8") as out:
        for line in f:
            row = json.loads(line)
            n += 1
            if contaminated(row["text"], grams, args.ngram):
                out.write(row["id"] + "\n")
                removed += 1
    print(json.dumps({"read": n, "removed": removed, "eval_ngrams": len(grams),
                      "seconds": round(time.time() - started, 2)}))


def score(args):
    removed = set()
    with open(args.removed, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                removed.add(json.loads(line)["id"] if line.startswith("{") else line.strip())
    by = {}
    tp = truth_n = 0
    with open(args.truth, encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)
            # Clean-source records that share a 13-gram anyway are the natural contamination.
            kind = "natural" if t["kind"] == "clean" and t["contaminated"] else t["kind"]
            b = by.setdefault(kind, {"records": 0, "contaminated": 0, "removed": 0})
            b["records"] += 1
            b["contaminated"] += t["contaminated"]
            b["removed"] += t["id"] in removed
            truth_n += t["contaminated"]
            tp += t["contaminated"] and t["id"] in removed
    planted = [by[k] for k in ("verbatim", "embedded", "edited") if k in by]
    p_truth = sum(b["contaminated"] for b in planted)
    p_removed = sum(b["removed"] for b in planted)
    print(json.dumps({
        "removed": len(removed), "contaminated": truth_n, "true_positives": tp,
        "precision": tp / len(removed) if removed else 1.0, "recall": tp / truth_n if truth_n else 1.0,
        "planted_recall": p_removed / p_truth if p_truth else 1.0,
        "natural_recall": by["natural"]["removed"] / by["natural"]["records"] if "natural" in by else 1.0,
        "near_miss_removed": by.get("near_miss", {}).get("removed", 0),
        "by_kind": by,
    }))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--records", type=int, default=100_000)
    m.add_argument("--planted", type=int, default=500, help="records of each planted kind")
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--ngram", type=int, default=13)
    m.add_argument("--data", default=str(Path(__file__).resolve().parents[3] / "shared" / "data"))
    m.add_argument("--out", required=True)
    b = sub.add_parser("baseline")
    b.add_argument("corpus")
    b.add_argument("eval")
    b.add_argument("removed")
    b.add_argument("--ngram", type=int, default=13)
    s = sub.add_parser("score")
    s.add_argument("truth")
    s.add_argument("removed")
    args = ap.parse_args()
    {"make": make, "baseline": baseline, "score": score}[args.cmd](args)


if __name__ == "__main__":
    main()
