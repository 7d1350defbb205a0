#!/usr/bin/env bash
# Near-duplicate removal: `autodidact dedup` against datasketch, rensa and text-dedup on real
# text (Shakespeare lines, GSM8K sentences) with planted near-duplicates of known similarity,
# so that precision and recall are measured, not assumed (bench/dedup/make_corpus.py says how
# the corpus is built, bench/dedup/score.py how a run is scored).
#
#   bench/dedup.sh                                 # from the repository root; ~5 min at 100k
#   SIZES=1000000 PEERS=rensa bench/dedup.sh       # autodidact and rensa on a million documents
#
# Every tool reads the same JSONL and compares the same shingles (word 5-grams of the text
# lowercased, punctuation deleted, whitespace collapsed) with 128 permutations at threshold
# 0.8, keeping the earliest row of each cluster. autodidact picks its own bands (14 x 9) and
# verifies candidates on the whole signature; the peers use datasketch's 9 x 13 and take LSH
# candidates as they are (the peer scripts in bench/dedup/ say where each one differs).
# Seconds, CPU seconds and peak RSS come from GNU time around the whole process (start-up,
# reading, shingling, hashing, indexing, clustering, writing); text-dedup's worker processes
# count in CPU seconds, and its peak RSS is that of its largest process.
#
# Knobs (environment):
#   SIZES="100000"        corpus sizes (documents); each corpus is cached under $RESULTS
#   PEERS="datasketch rensa text-dedup"   peers to run ("" for autodidact alone)
#   PEER_MAX_DOCS=100000  datasketch and text-dedup are skipped above this size
#   RENSA_MAX_DOCS=1000000  the same for rensa (about 12 GB of memory at a million)
#   ROUNDS=1              rounds per size; each round runs every tool once (the table shows
#                         median seconds and RSS)
#   SEED=1                corpus seed
#   DUP_SHARE=0.10        share of documents that are planted copies
#   AUTODIDACT=target/release/autodidact   the binary measured (built by you beforehand)
#   RESULTS=target/bench/dedup   where corpora, runs and table.md go (runs are replaced)
#
# The peers come from PyPI into bench/.venv-dedup (git-ignored) when that venv lacks them.
# text-dedup is installed without its dependencies (they pin pyspark, unisim and urllib3<=2
# for scripts not run here) plus the ones its MinHash script imports.
set -euo pipefail

cd "$(dirname "$0")/.."
SIZES=${SIZES:-100000}
PEERS=${PEERS-"datasketch rensa text-dedup"}
PEER_MAX_DOCS=${PEER_MAX_DOCS:-100000}
RENSA_MAX_DOCS=${RENSA_MAX_DOCS:-1000000}
ROUNDS=${ROUNDS:-1}
SEED=${SEED:-1}
DUP_SHARE=${DUP_SHARE:-0.10}
AUTODIDACT=${AUTODIDACT:-target/release/autodidact}
RESULTS=${RESULTS:-target/bench/dedup}
VENV=bench/.venv-dedup
HERE=bench/dedup

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

[ -x "$AUTODIDACT" ] || die "no $AUTODIDACT: cargo build --release -p autodidact, or set AUTODIDACT"
if [ ! -x /usr/bin/time ]; then
    say "installing GNU time"
    apt-get install -y time >/dev/null || die "needs GNU time at /usr/bin/time"
fi

# --- peers ---------------------------------------------------------------------------------
declare -A MODULE=([datasketch]=datasketch [rensa]=rensa [text-dedup]=text_dedup.minhash)
for p in $PEERS; do
    [ -n "${MODULE[$p]:-}" ] || die "unknown peer '$p' (datasketch, rensa, text-dedup)"
    "$VENV/bin/python" -c "import ${MODULE[$p]}" 2>/dev/null && continue
    say "installing $p into $VENV"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    if [ "$p" = text-dedup ]; then
        "$VENV/bin/pip" install -q --no-deps text-dedup
        "$VENV/bin/pip" install -q datasets click "click-option-group<0.6" numpy scipy xxhash "rich<14" \
            ftfy regex tqdm
    else
        "$VENV/bin/pip" install -q "$p"
    fi
    "$VENV/bin/python" -c "import ${MODULE[$p]}" || die "$p does not import in $VENV"
done

# --- runs ----------------------------------------------------------------------------------
mkdir -p "$RESULTS"
rm -rf "$RESULTS/runs"
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "nproc: $(nproc)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
    echo "memory: $(free -g | awk '/^Mem:/ { print $2 " GiB" }')"
    echo "autodidact: $AUTODIDACT ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo "sizes: $SIZES, peers: ${PEERS:-none}, rounds: $ROUNDS, seed: $SEED"
    echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$RESULTS/machine.txt"
cat "$RESULTS/machine.txt" >&2

# run TOOL DOCS ROUND CMD...: CMD under GNU time in $RESULTS/runs/TOOL-DOCS-rROUND, whose
# `removed` file (autodidact: kept.rejected.jsonl) is then scored against the corpus truth.
run() {
    local tool=$1 docs=$2 round=$3 dir="$RESULTS/runs/$1-$2-r$3"
    shift 3
    mkdir -p "$dir"
    say "$docs docs, round $round: $tool (load $(cut -d' ' -f1 /proc/loadavg))"
    cut -d' ' -f1 /proc/loadavg > "$dir/load"
    /usr/bin/time -v -o "$dir/time.txt" "$@" > "$dir/stdout.txt" 2> "$dir/stderr.txt" ||
        { tail -n 20 "$dir/stderr.txt" >&2; die "$tool failed on $docs docs (see $dir)"; }
    if [ -f "$dir/kept.rejected.jsonl" ]; then
        mv "$dir/kept.rejected.jsonl" "$dir/removed"
        rm -f "$dir/kept.jsonl"
    fi
    python3 "$HERE/score.py" "$CORPUS_TRUTH" "$dir/removed" --json > "$dir/score.json"
    sed -n 's/.*"precision": \([0-9.]*\), "recall": \([0-9.]*\).*/   precision \1, recall \2/p' "$dir/score.json" >&2
}

for n in $SIZES; do
    corpus="$RESULTS/corpus-$n-s$SEED-dup$DUP_SHARE.jsonl"
    CORPUS_TRUTH="${corpus%.jsonl}.truth.jsonl"
    if [ ! -s "$CORPUS_TRUTH" ] || [ "$HERE/make_corpus.py" -nt "$CORPUS_TRUTH" ] ||
        [ "$HERE/common.py" -nt "$CORPUS_TRUTH" ]; then
        say "building the corpus of $n documents"
        python3 "$HERE/make_corpus.py" --docs "$n" --seed "$SEED" --dup-share "$DUP_SHARE" --out "$corpus"
    fi
    for r in $(seq 1 "$ROUNDS"); do
        dir="$RESULTS/runs/autodidact-$n-r$r"
        run autodidact "$n" "$r" "$AUTODIDACT" dedup "$corpus" "$dir/kept.jsonl" \
            --threshold 0.8 --ngram 5 --permutations 128 --json
        "$AUTODIDACT" --version > "$dir/version" 2>/dev/null || echo "?" > "$dir/version"
        for p in $PEERS; do
            max=$PEER_MAX_DOCS
            [ "$p" = rensa ] && max=$RENSA_MAX_DOCS
            if [ "$n" -gt "$max" ]; then
                say "$n docs: skipping $p (above its limit of $max)"
                continue
            fi
            dir="$RESULTS/runs/$p-$n-r$r"
            case $p in
                datasketch) run "$p" "$n" "$r" "$VENV/bin/python" "$HERE/peer_datasketch.py" "$corpus" "$dir/removed" ;;
                rensa) run "$p" "$n" "$r" "$VENV/bin/python" "$HERE/peer_rensa.py" "$corpus" "$dir/removed" ;;
                text-dedup)
                    run "$p" "$n" "$r" "$VENV/bin/python" "$HERE/peer_textdedup.py" "$corpus" "$dir/removed" "$dir/work"
                    rm -rf "$dir/work" ;;
            esac
            "$VENV/bin/pip" show "$p" 2>/dev/null | sed -n 's/^Version: //p' > "$dir/version"
        done
    done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RESULTS/machine.txt"

# --- table ---------------------------------------------------------------------------------
python3 - "$RESULTS" > "$RESULTS/table.md" <<'EOF'
import json, re, statistics, sys
from pathlib import Path

runs = {}
for d in sorted(Path(sys.argv[1], "runs").iterdir()):
    tool, docs, _ = d.name.rsplit("-", 2)
    t = (d / "time.txt").read_text()
    field = lambda name: re.search(rf"{name}: (.*)", t)[1]
    wall = field(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\)").split(":")
    runs.setdefault((int(docs), tool), []).append({
        "seconds": sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall))),
        "cpu": float(field("User time \\(seconds\\)")) + float(field("System time \\(seconds\\)")),
        "rss": int(field(r"Maximum resident set size \(kbytes\)")) / 1024,
        "load": float((d / "load").read_text()),
        "version": (d / "version").read_text().strip().removeprefix("autodidact "),
        "score": json.loads((d / "score.json").read_text()),
    })
order = ["autodidact", "datasketch", "rensa", "text-dedup"]
rounds = max(len(v) for v in runs.values())
print(f"Median of {rounds} round(s); seconds, CPU seconds and peak RSS of the whole process; "
      "load = 1-minute load average before the run (it includes the previous run's own load).\n")
print("| tool | version | docs | seconds | docs/s | CPU s | peak RSS MB | precision | recall | removed | true dups | load |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for (docs, tool), rs in sorted(runs.items(), key=lambda k: (k[0][0], order.index(k[0][1]))):
    med = lambda k: statistics.median(r[k] for r in rs)
    s = rs[-1]["score"]
    print(f"| {tool} | {rs[-1]['version']} | {docs:,} | {med('seconds'):.1f} | {docs / med('seconds'):,.0f} | "
          f"{med('cpu'):.1f} | {med('rss'):,.0f} | {s['precision']:.4f} | {s['recall']:.4f} | {s['removed']:,} | "
          f"{s['true_duplicates']:,} | {max(r['load'] for r in rs):.2f} |")
print("\nShare of planted copies removed, by true Jaccard similarity to the nearest earlier member "
      "of their family (copies in each bucket in brackets; duplicates from 0.80 up):\n")
sizes = sorted({d for d, _ in runs})
for docs in sizes:
    tools = [t for t in order if (docs, t) in runs]
    buckets = runs[(docs, tools[0])][-1]["score"]["removed_by_true_similarity"]
    print(f"| {docs:,} docs | " + " | ".join(f"{b} ({buckets[b][0]:,})" for b in buckets) + " |")
    print("|---|" + "---:|" * len(buckets))
    for t in tools:
        got = runs[(docs, t)][-1]["score"]["removed_by_true_similarity"]
        print(f"| {t} | " + " | ".join(f"{got[b][1] / got[b][0]:.1%}" for b in buckets) + " |")
    print()
EOF
echo >&2
cat "$RESULTS/machine.txt"
echo
cat "$RESULTS/table.md"
