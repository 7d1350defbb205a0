#!/usr/bin/env bash
# Decontamination: `autodidact decontaminate --against gsm8k-test.jsonl` against the plain
# Python way (a set of 13-word tuples of every eval string, then a scan), on a corpus of clean
# text (GSM8K train questions and answers, Shakespeare paragraphs) with planted test questions:
# verbatim, embedded in longer text, edited around one kept 13-word run, and near misses with
# every 10th word changed (no 13-gram left: clean by the rule). The truth is the exact rule
# computed in Python (bench/dedup/decontam.py), so train records that share a 13-gram with the
# test set by themselves count as contaminated too ("natural", reported apart).
#
#   bench/decontam.sh                  # from the repository root; under a minute
#
# Knobs (environment):
#   RECORDS=100000    corpus records (cached under $RESULTS by size and seed)
#   PLANTED=500       records of each planted kind
#   ROUNDS=3          rounds; each runs autodidact, then the baseline (the table shows medians)
#   SEED=1
#   DATA=../shared/data   where gsm8k-*.jsonl and tinyshakespeare.txt are
#   AUTODIDACT=target/release/autodidact
#   RESULTS=target/bench/decontam   corpus, runs and table.md (runs are replaced)
set -euo pipefail

cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-100000}
PLANTED=${PLANTED:-500}
ROUNDS=${ROUNDS:-3}
SEED=${SEED:-1}
DATA=${DATA:-../shared/data}
AUTODIDACT=${AUTODIDACT:-target/release/autodidact}
RESULTS=${RESULTS:-target/bench/decontam}
HELPER=bench/dedup/decontam.py
EVAL="$DATA/gsm8k-test.jsonl"

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

[ -x "$AUTODIDACT" ] || die "no $AUTODIDACT: cargo build --release -p autodidact, or set AUTODIDACT"
[ -f "$EVAL" ] || die "no $EVAL (set DATA)"
if [ ! -x /usr/bin/time ]; then
    say "installing GNU time"
    apt-get install -y time >/dev/null || die "needs GNU time at /usr/bin/time"
fi

mkdir -p "$RESULTS"
rm -rf "$RESULTS/runs"
corpus="$RESULTS/corpus-$RECORDS-p$PLANTED-s$SEED.jsonl"
truth="${corpus%.jsonl}.truth.jsonl"
if [ ! -s "$truth" ] || [ "$HELPER" -nt "$truth" ]; then
    say "building the corpus of $RECORDS records"
    python3 "$HELPER" make --records "$RECORDS" --planted "$PLANTED" --seed "$SEED" --data "$DATA" --out "$corpus"
fi
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "nproc: $(nproc)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
    echo "autodidact: $AUTODIDACT ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo "python: $(python3 --version)"
    echo "records: $RECORDS, planted: $PLANTED per kind, rounds: $ROUNDS, seed: $SEED"
    echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$RESULTS/machine.txt"
cat "$RESULTS/machine.txt" >&2

# run NAME ROUND CMD...: CMD under GNU time in $RESULTS/runs/NAME-rROUND, then scored.
run() {
    local dir="$RESULTS/runs/$1-r$2"
    shift 2
    mkdir -p "$dir"
    say "$(basename "$dir") (load $(cut -d' ' -f1 /proc/loadavg))"
    cut -d' ' -f1 /proc/loadavg > "$dir/load"
    /usr/bin/time -v -o "$dir/time.txt" "$@" > "$dir/stdout.txt" 2> "$dir/stderr.txt" ||
        { tail -n 20 "$dir/stderr.txt" >&2; die "$dir failed"; }
    if [ -f "$dir/kept.rejected.jsonl" ]; then
        mv "$dir/kept.rejected.jsonl" "$dir/removed"
        rm -f "$dir/kept.jsonl"
    fi
}

for r in $(seq 1 "$ROUNDS"); do
    dir="$RESULTS/runs/autodidact-r$r"
    run autodidact "$r" "$AUTODIDACT" decontaminate "$corpus" "$dir/kept.jsonl" --against "$EVAL" --json
    dir="$RESULTS/runs/python-r$r"
    run python "$r" python3 "$HELPER" baseline "$corpus" "$EVAL" "$dir/removed"
done
for dir in "$RESULTS"/runs/*; do
    python3 "$HELPER" score "$truth" "$dir/removed" > "$dir/score.json"
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RESULTS/machine.txt"

python3 - "$RESULTS" "$RECORDS" "$("$AUTODIDACT" --version 2>/dev/null || echo '?')" "$(python3 --version)" \
    > "$RESULTS/table.md" <<'EOF'
import json, re, statistics, sys
from pathlib import Path

results, records, versions = Path(sys.argv[1]), int(sys.argv[2]), {"autodidact": sys.argv[3], "python": sys.argv[4]}
rows = {}
for d in sorted((results / "runs").iterdir()):
    t = (d / "time.txt").read_text()
    field = lambda name: re.search(rf"{name}: (.*)", t)[1]
    wall = field(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\)").split(":")
    rows.setdefault(d.name.rsplit("-", 1)[0], []).append({
        "seconds": sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall))),
        "cpu": float(field(r"User time \(seconds\)")) + float(field(r"System time \(seconds\)")),
        "rss": int(field(r"Maximum resident set size \(kbytes\)")) / 1024,
        "load": float((d / "load").read_text()),
        "score": json.loads((d / "score.json").read_text()),
    })
print(f"Median of {len(rows['autodidact'])} round(s), whole process (start-up, loading the eval set, "
      "reading, checking, writing); load = highest 1-minute load average before a run.\n")
print("| tool | version | records | seconds | records/s | CPU s | peak RSS MB | precision | recall "
      "| planted recall | natural recall | near misses removed | removed | load |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for tool in ("autodidact", "python"):
    rs = rows[tool]
    med = lambda k: statistics.median(r[k] for r in rs)
    s = rs[-1]["score"]
    nat = s["by_kind"].get("natural", {"records": 0, "removed": 0})
    print(f"| {tool} | {versions[tool].removeprefix('autodidact ')} | {records:,} | {med('seconds'):.2f} | "
          f"{records / med('seconds'):,.0f} | {med('cpu'):.2f} | {med('rss'):,.0f} | {s['precision']:.4f} | "
          f"{s['recall']:.4f} | {s['planted_recall']:.4f} | {nat['removed']}/{nat['records']} | "
          f"{s['near_miss_removed']} | {s['removed']:,} | {max(r['load'] for r in rs):.2f} |")
print("\nBy kind (records, contaminated by the exact rule, removed by autodidact / by the baseline):\n")
print("| kind | records | contaminated | autodidact | python |")
print("|---|---:|---:|---:|---:|")
a, p = rows["autodidact"][-1]["score"]["by_kind"], rows["python"][-1]["score"]["by_kind"]
for k in ("verbatim", "embedded", "edited", "near_miss", "natural", "clean"):
    if k in a:
        print(f"| {k} | {a[k]['records']:,} | {a[k]['contaminated']:,} | {a[k]['removed']:,} | {p[k]['removed']:,} |")
EOF
echo >&2
cat "$RESULTS/machine.txt"
echo
cat "$RESULTS/table.md"
