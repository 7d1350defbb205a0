#!/usr/bin/env bash
# Training and sampling throughput of the embedded transformer (autodidact-nn on candle)
# against PyTorch on the CPU, with the same architecture, batch and thread count.
#
#   bench/nn_speed.sh            # from the repository root; about 3 minutes once torch is in
#
# Knobs (environment):
#   THREADS="1 2"     thread counts: RAYON_NUM_THREADS for candle (CANDLE_NUM_THREADS stays at
#                     the crate's default of 1 unless set), torch.set_num_threads and
#                     OMP_NUM_THREADS for PyTorch
#   ROUNDS=3          rounds per thread count; each round runs candle, then PyTorch, so both
#                     sides see the same machine load (the machine may be shared)
#   SPEED_STEPS=20    timed training steps per run (both sides)
#   TORCH_ARGS=""     extra arguments for bench/nn_torch.py (e.g. "--attn manual")
#   RESULTS=target/bench/nn_speed   where each run's output goes (replaced on each run)
#
# PyTorch comes from PyPI into bench/.venv-torch (git-ignored) when that venv cannot
# `import torch`. PyPI's Linux x86-64 torch wheel is the CUDA build; it runs on the CPU. With
# at least 12 GiB free on the disk it is installed with its dependencies (the nvidia-* wheels,
# some GB); with less, `pip install torch --no-deps` plus the pure-Python packages torch
# imports (filelock, typing-extensions, sympy, networkx, jinja2, fsspec), which also works on
# the CPU since the CUDA libraries are only loaded when CUDA is used.
#
# Prints the Markdown table of medians at the end (also in $RESULTS/table.md).
set -euo pipefail

cd "$(dirname "$0")/.."
THREADS=${THREADS:-"1 2"}
ROUNDS=${ROUNDS:-3}
export SPEED_STEPS=${SPEED_STEPS:-20}
TORCH_ARGS=${TORCH_ARGS:-}
RESULTS=${RESULTS:-target/bench/nn_speed}
VENV=bench/.venv-torch

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --- PyTorch -------------------------------------------------------------------------------
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    say "installing PyTorch into $VENV"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    free_gib=$(df -Pk bench | awk 'NR == 2 { print int($4 / 1024 / 1024) }')
    if [ "$free_gib" -ge 12 ]; then
        "$VENV/bin/pip" install torch
    else
        say "only $free_gib GiB free: torch without its CUDA dependencies"
        "$VENV/bin/pip" install --no-deps torch
        "$VENV/bin/pip" install filelock typing-extensions sympy networkx jinja2 fsspec
    fi
    "$VENV/bin/python" -c 'import torch; torch.ones(2) @ torch.ones(2)' ||
        die "PyTorch does not import in $VENV"
fi
TORCH_VERSION=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')

# --- candle --------------------------------------------------------------------------------
say "building the speed example (release)"
# The whole workspace, as `cargo build --release` builds it: with `-p` alone cargo would
# resolve features differently and rebuild the dependencies.
cargo build --release --workspace --examples
SPEED=target/release/examples/speed
[ -x "$SPEED" ] || die "no $SPEED after the build"

# --- runs ----------------------------------------------------------------------------------
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "nproc: $(nproc)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
    echo "torch: $TORCH_VERSION"
    echo "rustc: $(rustc --version)"
    echo "steps: $SPEED_STEPS, rounds: $ROUNDS, threads: $THREADS"
    echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$RESULTS/machine.txt"
cat "$RESULTS/machine.txt" >&2

params=""
for t in $THREADS; do
    for r in $(seq 1 "$ROUNDS"); do
        say "threads $t, round $r/$ROUNDS: candle"
        RAYON_NUM_THREADS=$t "$SPEED" | tee "$RESULTS/candle-t$t-r$r.txt" >&2
        params=$(sed -n 's/^model: \([0-9]*\) parameters.*/\1/p' "$RESULTS/candle-t$t-r$r.txt")
        [ -n "$params" ] || die "no parameter count in the candle output"
        say "threads $t, round $r/$ROUNDS: PyTorch"
        # shellcheck disable=SC2086
        OMP_NUM_THREADS=$t "$VENV/bin/python" bench/nn_torch.py --threads "$t" \
            --expect-params "$params" $TORCH_ARGS | tee "$RESULTS/torch-t$t-r$r.txt" >&2
    done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RESULTS/machine.txt"

# --- table ---------------------------------------------------------------------------------
"$VENV/bin/python" - "$RESULTS" "$THREADS" "$ROUNDS" > "$RESULTS/table.md" <<'EOF'
import re, statistics, sys
results, threads, rounds = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])

def parse(path):
    text = open(path).read()
    m = re.search(r"^training: ([\d.]+) steps/s, ([\d.]+) tokens/s", text, re.M)
    if not m:
        sys.exit(f"no training line in {path}")
    out = {"steps/s": float(m[1]), "tokens/s": float(m[2])}
    for m in re.finditer(r"^sampling: ([\d.]+) samples/s, ([\d.]+) new tokens/s "
                         r"\(batch \d+, prompt (\d+), (\d+) new", text, re.M):
        out[f"samples/s ({m[3]}+{m[4]})"] = float(m[1])
    return out

metrics = [("steps/s", "training steps/s"), ("tokens/s", "training tokens/s"),
           ("samples/s (8+5)", "sampling samples/s, prompt 8 + 5 new"),
           ("samples/s (32+32)", "sampling samples/s, prompt 32 + 32 new")]
def fmt(x):
    return f"{x:,.2f}" if x < 100 else f"{x:,.0f}"
print(f"Medians of {rounds} rounds (min-max in brackets); higher is better.\n")
print("| threads | figure | candle | PyTorch | candle / PyTorch |")
print("|---:|---|---:|---:|---:|")
for t in threads:
    runs = {side: [parse(f"{results}/{side}-t{t}-r{r}.txt") for r in range(1, rounds + 1)]
            for side in ("candle", "torch")}
    for key, label in metrics:
        cells = []
        med = {}
        for side in ("candle", "torch"):
            vals = [run[key] for run in runs[side]]
            med[side] = statistics.median(vals)
            cells.append(f"{fmt(med[side])} ({fmt(min(vals))}-{fmt(max(vals))})")
        print(f"| {t} | {label} | {cells[0]} | {cells[1]} | {med['candle'] / med['torch']:.2f} |")
EOF
echo >&2
cat "$RESULTS/machine.txt"
echo
cat "$RESULTS/table.md"
