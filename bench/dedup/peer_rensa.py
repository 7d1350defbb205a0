#!/usr/bin/env python3
"""rensa (Rust MinHash with Python bindings) near-duplicate removal.

    python peer_rensa.py IN.jsonl REMOVED.txt

RMinHash over the same shingles (common.py: word 5-grams of the normalised text) and
RMinHashLSH at threshold 0.8 with 9 bands of 13 rows, datasketch's choice for 0.8 and 128
permutations. rensa needs the permutations to be a multiple of the bands, so the signatures
have 117 = 9 x 13 values: the same banding as datasketch, whose LSH also reads only the first
117 of its 128 values. Candidates sharing a band are taken as they are, clustered with
union-find, and all but the earliest row of each cluster are removed. Writes the removed ids,
one a line, and prints a JSON summary.
"""

import json
import sys
import time
from importlib.metadata import version

from rensa import RMinHash, RMinHashLSH

from common import earliest_of_clusters, read_rows, shingles, words, write_removed

BANDS, ROWS = 9, 13
started = time.time()
ids, texts = read_rows(sys.argv[1])
sigs = RMinHash.from_token_sets((list(shingles(words(t))) for t in texts), num_perm=BANDS * ROWS, seed=42)
lsh = RMinHashLSH(threshold=0.8, num_perm=BANDS * ROWS, num_bands=BANDS)
lsh.insert_many(sigs, 0)
candidates = lsh.query_all(sigs)
removed = earliest_of_clusters(len(ids), ((i, j) for i, c in enumerate(candidates) for j in c if j != i))
write_removed(sys.argv[2], ids, removed)
print(json.dumps({"tool": "rensa", "version": version("rensa"), "bands": BANDS, "rows": ROWS,
                  "read": len(ids), "removed": len(removed), "seconds": round(time.time() - started, 2)}))
