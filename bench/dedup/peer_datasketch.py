#!/usr/bin/env python3
"""datasketch near-duplicate removal, as close to autodidact's settings as it allows.

    python peer_datasketch.py IN.jsonl REMOVED.txt

MinHash (128 permutations, datasketch's default SHA-1 shingle hash) over the same shingles
(common.py: word 5-grams of the normalised text), MinHashLSH at threshold 0.8, which picks 9
bands of 13 rows. Candidates sharing a band are taken as they are (datasketch does not verify
them), clustered with union-find, and all but the earliest row of each cluster are removed.
Writes the removed ids, one a line, and prints a JSON summary.
"""

import json
import sys
import time
from importlib.metadata import version

from datasketch import MinHash, MinHashLSH

from common import earliest_of_clusters, read_rows, shingles, words, write_removed

started = time.time()
ids, texts = read_rows(sys.argv[1])
sigs = MinHash.bulk(([s.encode() for s in shingles(words(t))] for t in texts), num_perm=128)
lsh = MinHashLSH(threshold=0.8, num_perm=128)


def pairs():
    # Each row is queried against the earlier rows, then inserted: every pair is seen once.
    for i, m in enumerate(sigs):
        for j in lsh.query(m) if i else ():
            yield i, j
        lsh.insert(i, m, check_duplication=False)


removed = earliest_of_clusters(len(ids), pairs())
write_removed(sys.argv[2], ids, removed)
print(json.dumps({"tool": "datasketch", "version": version("datasketch"), "bands": lsh.b, "rows": lsh.r,
                  "read": len(ids), "removed": len(removed), "seconds": round(time.time() - started, 2)}))
