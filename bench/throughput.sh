#!/usr/bin/env bash
# Request throughput of `autodidact run` against a local server answering after a fixed
# latency: achieved requests/s versus the bound max_in_flight / latency.
#
#   bench/throughput.sh                 # from the repository root
#
# Knobs (environment):
#   CASES="256:50 1024:50 256:100"  in-flight:latency-ms pairs
#   IDEAL_SECONDS=10                seeds per case = bound x this (the run's ideal duration)
#   WRK_SECONDS=10                  duration of the server-alone check per case
#   PEERS=1                         also measure Python asyncio loops (aiohttp, openai) in a
#                                   venv, at PEER_CASE (default 256:100); 0 to skip
#   PEER_SECONDS=10
#   PROFILE=0                       1: also take the engine apart at PROFILE_CASE (default
#                                   1024:50) with bench/server/examples/client_ceiling.rs:
#                                   the HTTP client alone, then the run store's parts added
#   PROFILE_REQUESTS=150000
#   RESULTS=target/bench/throughput where raw results go (replaced on each run)
#
# Needs: cargo, wrk (installed with apt-get when missing and root), python3, /usr/bin/time.
# Prints the Markdown tables at the end (also in $RESULTS/tables.md).
set -euo pipefail

cd "$(dirname "$0")/.."
CASES=${CASES:-"256:50 1024:50 256:100"}
IDEAL_SECONDS=${IDEAL_SECONDS:-10}
WRK_SECONDS=${WRK_SECONDS:-10}
PEERS=${PEERS:-1}
PEER_CASE=${PEER_CASE:-"256:100"}
PEER_SECONDS=${PEER_SECONDS:-10}
RESULTS=${RESULTS:-target/bench/throughput}
PROFILE=${PROFILE:-0}
PROFILE_CASE=${PROFILE_CASE:-"1024:50"}
PROFILE_REQUESTS=${PROFILE_REQUESTS:-150000}

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --- tools ---------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing wrk"
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else
        die "wrk is missing: install it (Debian: apt-get install wrk)"
    fi
fi
command -v python3 >/dev/null || die "python3 is missing (it parses the results)"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian: apt-get install time); it measures peak memory"
command -v curl >/dev/null || die "curl is missing (it reads the server's /stats)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# 1,024 connections on each side of a loopback benchmark need more descriptors than the
# usual soft limit of 1,024.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then hard=65536; fi
ulimit -n "$hard"
[ "$(ulimit -n)" -ge 4096 ] || die "open-file limit $(ulimit -n) is too low for 1,024 connections; raise it (ulimit -n)"

say "building (release)"
cargo build --release -p autodidact -p autodidact-bench-server >&2
if [ "$PROFILE" = 1 ]; then
    cargo build --release -p autodidact-bench-server --example client_ceiling >&2
fi
BIN=target/release/autodidact
SERVER_BIN=target/release/autodidact-bench-server

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)

# --- the server ----------------------------------------------------------------------------
SERVER_PID=
BASE=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

start_server() { # latency_ms
    stop_server
    local log="$RESULTS/server-$1ms.out"
    "$SERVER_BIN" --port 0 --latency-ms "$1" >"$log" 2>"$RESULTS/server-$1ms.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        if grep -q '^listening on ' "$log" 2>/dev/null; then
            BASE=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$log")
            return
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || die "the benchmark server stopped: $(cat "$RESULTS/server-$1ms.err")"
        sleep 0.1
    done
    die "the benchmark server did not start within 10 s"
}
stats() { curl -sf "$BASE/stats"; }
# Resets the counters once no request is under way (wrk leaves its last requests waiting
# out their latency), so that a phase's peak in flight counts only its own requests.
reset_stats() {
    for _ in $(seq 200); do
        stats | grep -q '"in_flight":0[,}]' && break
        sleep 0.05
    done
    curl -sf -X POST "$BASE/stats/reset" >/dev/null
}
# The server's CPU time so far (user + system), in clock ticks.
server_cpu() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
TICKS=$(getconf CLK_TCK)

timed_run() { # case-dir label   (runs the engine once, keeps time -v, summary and server stats)
    local dir=$1 label=$2
    reset_stats
    local before; before=$(server_cpu)
    local cpu_before; cpu_before=$(head -1 /proc/stat)
    local status=0
    /usr/bin/time -v "$BIN" run "$dir/run.toml" --out "$dir/out" --json \
        >"$dir/$label.summary.json" 2>"$dir/$label.time.txt" || status=$?
    stats >"$dir/$label.stats.json"
    echo $(( $(server_cpu) - before )) >"$dir/$label.server_cpu"
    # The whole machine's CPU over the run: others' work on a shared machine shows here.
    printf '%s\n%s\n' "$cpu_before" "$(head -1 /proc/stat)" >"$dir/$label.machine_cpu"
    [ "$status" = 0 ] || die "autodidact run failed ($label, exit $status); see $dir/$label.time.txt"
}

# --- the cases -----------------------------------------------------------------------------
for case in $CASES; do
    n=${case%%:*}
    lat=${case##*:}
    dir="$RESULTS/case-$n-$lat"
    mkdir -p "$dir"
    seeds=$(( n * 1000 * IDEAL_SECONDS / lat ))
    say "$n in flight, $lat ms: bound $(( n * 1000 / lat )) req/s, $seeds seeds"
    start_server "$lat"

    say "  server alone: wrk -c $n for ${WRK_SECONDS}s"
    reset_stats
    threads=2
    wrk -t"$threads" -c"$n" -d"${WRK_SECONDS}s" -s bench/chat.lua "$BASE/v1/chat/completions" >"$dir/wrk.txt"
    stats >"$dir/wrk.stats.json"
    grep -E 'Requests/sec|Latency ' "$dir/wrk.txt" | sed 's/^/    /' >&2

    python3 - "$dir/topics.jsonl" "$seeds" <<'EOF'
import json, sys
path, count = sys.argv[1], int(sys.argv[2])
subjects = ["harbour towns", "glaciers", "printing presses", "river trade", "bridges", "tides",
            "monasteries", "salt roads", "observatories", "railways", "orchards", "canals"]
with open(path, "w") as f:
    for i in range(count):
        f.write(json.dumps({"topic": f"{subjects[i % len(subjects)]}, case {i}"}) + "\n")
EOF
    cat >"$dir/run.toml" <<EOF
# Written by bench/throughput.sh: $n requests in flight against the benchmark server.
[run]
generations = 1
seed = 42

[models.writer]
backend = "openai"
model = "bench"
base_url = "$BASE/v1"
max_in_flight = $n
max_retries = 0

[generate]
task = "essay"
seeds = "topics.jsonl"
per_seed = 1

[curate]
min_words = 1
max_repetition = 0.5
exact_duplicates = true
near_duplicates = { threshold = 0.8, permutations = 128, ngram = 5 }
EOF

    say "  autodidact run"
    timed_run "$dir" run
    say "  second run on the same directory (resume)"
    timed_run "$dir" resume
    # Every answer is in run.db; clearing the stage state makes the engine ask again and
    # get each answer from the cache: the resume of a run stopped mid-generation.
    python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("DELETE FROM stages"); c.commit()' "$dir/out/run.db"
    say "  third run with stage state cleared (every answer from the cache)"
    timed_run "$dir" replay

    python3 - "$dir" "$n" "$lat" "$seeds" "$TICKS" <<'EOF'
import json, sys
from pathlib import Path
d, n, lat, seeds = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cpu = float((d / "run.server_cpu").read_text()) / int(sys.argv[5])
(d / "meta.json").write_text(json.dumps({"in_flight": n, "latency_ms": lat, "seeds": seeds, "server_cpu_seconds": cpu}) + "\n")
EOF
done

# --- peers ---------------------------------------------------------------------------------
if [ "$PEERS" = 1 ]; then
    n=${PEER_CASE%%:*}
    lat=${PEER_CASE##*:}
    venv=target/bench/venv
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import aiohttp, openai' 2>/dev/null; then
        say "setting up $venv (aiohttp, openai)"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q aiohttp openai >&2
    fi
    start_server "$lat"
    for client in aiohttp openai; do
        say "peer: Python asyncio + $client, $n in flight, $lat ms, ${PEER_SECONDS}s"
        reset_stats
        "$venv/bin/python" bench/peers/asyncio_loop.py --base-url "$BASE/v1" --in-flight "$n" \
            --seconds "$PEER_SECONDS" --client "$client" >"$RESULTS/peer-$client.out"
        python3 - "$RESULTS/peer-$client.out" "$lat" "$RESULTS/peer-$client.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["latency_ms"] = int(sys.argv[2])
json.dump(r, open(sys.argv[3], "w"))
EOF
    done
fi
# --- taking the engine apart ----------------------------------------------------------------
if [ "$PROFILE" = 1 ]; then
    n=${PROFILE_CASE%%:*}
    lat=${PROFILE_CASE##*:}
    start_server "$lat"
    i=0
    for variant in "stream" "stream-store --skip-lookup --skip-commit-wait" "stream-store --skip-commit-wait" \
        "stream-store --skip-lookup" "stream-store" "stream-store --slack 1024" "spawn-store"; do
        i=$((i + 1))
        p="$RESULTS/profile-$i"
        say "profile: $variant, $n in flight, $lat ms, $PROFILE_REQUESTS requests"
        rm -rf "$p.store"
        reset_stats
        # shellcheck disable=SC2086 # the variant is a mode and its flags
        /usr/bin/time -v target/release/examples/client_ceiling --base-url "$BASE/v1" --in-flight "$n" \
            --requests "$PROFILE_REQUESTS" --store "$p.store" --mode $variant >"$p.json" 2>"$p.time.txt" \
            || die "client_ceiling failed ($variant); see $p.time.txt"
        stats >"$p.stats.json"
        printf '%s\n' "$variant" >"$p.variant"
        echo "$lat" >"$p.latency"
        rm -rf "$p.store"
    done
fi
stop_server

# --- report --------------------------------------------------------------------------------
{
    echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; load average before the run: $LOAD_BEFORE"
    echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo
    python3 bench/throughput_report.py "$RESULTS"
} | tee "$RESULTS/tables.md"
