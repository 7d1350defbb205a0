#!/usr/bin/env python3
"""text-dedup's MinHash script (text_dedup.minhash, the non-Spark one) on a local JSONL file.

    python peer_textdedup.py IN.jsonl REMOVED.txt WORKDIR

Runs text-dedup's own `main` (HF `datasets` loading, its MinHash with SHA-1 shingle hashes
and 128 permutations, 9 bands x 13 rows, union-find, filter, save_to_disk) with two changes,
both so that it is compared on the same terms as the others:
- its tokeniser (a split on \\W) is replaced by common.py's normalised words, so the shingles
  are the same word 5-grams;
- its union-find, which roots a cluster at an arbitrary member (by rank: in a pair it keeps
  the LATER row), is replaced by one that keeps the earliest row of each cluster.
The removed ids are the input's ids missing from its output. Prints a JSON summary.
"""

import json
import os
import sys
import time
from importlib.metadata import version

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

started = time.time()
import datasets  # noqa: E402
import text_dedup.minhash as td  # noqa: E402

from common import read_rows, words, write_removed  # noqa: E402


class Words:
    """Stands in for text_dedup.minhash.NON_ALPHA: `.split(text)` gives the normalised words."""

    split = staticmethod(words)


class EarliestUnionFind:
    def __init__(self):
        self.parent = {}

    def reset(self):
        self.parent = {}

    def find(self, x):
        p = self.parent
        p.setdefault(x, x)
        while p[x] != x:
            p[x] = p.setdefault(p[x], p[x])
            x = p[x]
        return x

    def union(self, x, y):
        a, b = self.find(x), self.find(y)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


td.NON_ALPHA = Words()
td.uf = EarliestUnionFind()
src, removed_path, work = sys.argv[1], sys.argv[2], sys.argv[3]
out = os.path.join(work, "kept")
td.main.main(
    args=["--path", "json", "--data_files", src, "--split", "train", "--cache_dir", os.path.join(work, "cache"),
          "--output", out, "--column", "text", "--num_perm", "128", "--threshold", "0.8", "--b", "9", "--r", "13",
          "--ngram", "5", "--min_length", "0"],
    standalone_mode=False,
)
ids, _ = read_rows(src)
kept = set(datasets.load_from_disk(out)["id"])
removed = [i for i, x in enumerate(ids) if x not in kept]
write_removed(removed_path, ids, removed)
print(json.dumps({"tool": "text-dedup", "version": version("text-dedup"), "bands": 9, "rows": 13,
                  "read": len(ids), "removed": len(removed), "seconds": round(time.time() - started, 2)}))
