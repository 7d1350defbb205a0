#!/usr/bin/env python3
"""Precision and recall of a deduplication run against the corpus truth.

    python3 bench/dedup/score.py CORPUS.truth.jsonl REMOVED [--json]

REMOVED lists the removed rows' ids: one id a line, or JSON objects with an "id" (and maybe a
"reason", as autodidact's <OUT stem>.rejected.jsonl has). A removed row is right when the truth
file marks it a duplicate (true Jaccard >= the threshold with an earlier document of its
family); removing any base document, or a copy below the threshold, is a false positive.
Prints one JSON object on stdout (--json) or a short report.
"""

import argparse
import json
import re
import sys

# Buckets of true similarity (j_earlier) for the per-similarity removal rates.
EDGES = [0.0, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]


def bucket(j: float) -> str:
    if j >= 1.0:
        return "1.0"
    lo = max(e for e in EDGES if e <= j)
    return f"{lo:.2f}-{EDGES[EDGES.index(lo) + 1]:.2f}"


def read_removed(path: str) -> dict[str, str]:
    """id -> reason ("" when the file gives none)."""
    removed = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith("{"):
                obj = json.loads(line)
                removed[str(obj["id"])] = obj.get("reason", "")
            else:
                removed[line] = ""
    return removed


def score(truth_path: str, removed: dict[str, str], examples: int = 5) -> dict:
    truth = {}
    with open(truth_path, encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)
            truth[t["id"]] = t
    dups = {i for i, t in truth.items() if t["duplicate"]}
    tp = sum(1 for i in removed if i in dups)
    fp_base = [i for i in removed if i not in truth]
    fp_copy = [i for i in removed if i in truth and i not in dups]
    # A copy below the threshold to every earlier member but above it to a later one: removed
    # through a cluster chain (union-find), not by a wrong estimate.
    linked = [i for i in fp_copy if truth[i]["j_family"] >= 0.8]
    by_bucket = {}
    for i, t in truth.items():
        b = by_bucket.setdefault(bucket(t["j_earlier"]), [0, 0])
        b[0] += 1
        b[1] += i in removed
    fps = [
        {"id": i, "reason": removed[i],
         **({k: truth[i][k] for k in ("kind", "source", "j_earlier", "j_family")} if i in truth else {"kind": "base"})}
        for i in (fp_base + fp_copy)[:examples]
    ]
    # A reason naming the row kept instead ("... of d0000123") should name one of the family.
    family = lambda i: truth[i]["source"] if i in truth else i
    named = {i: m[1] for i, r in removed.items() if (m := re.search(r" of (d\d+)", r))}
    other_family = sorted(i for i, k in named.items() if family(i) != family(k))
    return {
        "removed": len(removed),
        "true_duplicates": len(dups),
        "true_positives": tp,
        "false_positives": len(fp_base) + len(fp_copy),
        "false_positives_base_docs": len(fp_base),
        "false_positives_copies_below_threshold": len(fp_copy),
        "of_which_linked_through_later_copy": len(linked),
        "false_negatives": len(dups) - tp,
        "precision": tp / len(removed) if removed else 1.0,
        "recall": tp / len(dups) if dups else 1.0,
        # bucket of true similarity -> [copies, removed]
        "removed_by_true_similarity": {k: by_bucket[k] for k in sorted(by_bucket)},
        "reasons_naming_a_row": len(named),
        "reasons_naming_another_family": other_family[:examples],
        "false_positive_examples": fps,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("truth")
    ap.add_argument("removed")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--examples", type=int, default=5, help="false positives shown")
    args = ap.parse_args()
    s = score(args.truth, read_removed(args.removed), args.examples)
    if args.json:
        print(json.dumps(s))
        return
    print(f"removed {s['removed']}, true duplicates {s['true_duplicates']}, precision {s['precision']:.4f}, "
          f"recall {s['recall']:.4f}")
    print(f"false positives: {s['false_positives_base_docs']} base documents, "
          f"{s['false_positives_copies_below_threshold']} copies below the threshold "
          f"({s['of_which_linked_through_later_copy']} linked through a later copy)")
    print("true similarity  copies  removed")
    for k, (n, r) in s["removed_by_true_similarity"].items():
        print(f"{k:>15}  {n:6d}  {r:6d} ({r / n:.1%})")
    if s["reasons_naming_a_row"]:
        print(f"reasons naming the row kept: {s['reasons_naming_a_row']}, naming a row of another family: "
              f"{s['reasons_naming_another_family'] or 'none'}")
    for e in s["false_positive_examples"]:
        print("false positive:", json.dumps(e), file=sys.stderr)


if __name__ == "__main__":
    main()
