"""Reads the raw results bench/throughput.sh left in a folder and prints Markdown tables.

Usage: python3 bench/throughput_report.py RESULTS_DIR

Every number comes from the files of that run: the engine's summary.json, the benchmark
server's /stats, `/usr/bin/time -v`, wrk's output. A result that contradicts another (the
server counted other requests than the engine says it sent, a failed request, a resume that
sent requests) is printed as a CHECK FAILED line and makes the exit status 1.
"""

import json
import re
import sys
from pathlib import Path

failures: list[str] = []


def check(ok: bool, what: str) -> None:
    if not ok:
        failures.append(what)


def load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"error: cannot read {path}: {e}")


def time_v(path: Path) -> dict:
    """The fields of `/usr/bin/time -v` that the tables use."""
    text = path.read_text()

    def field(name: str) -> str:
        m = re.search(rf"^\s*{re.escape(name)}: (.+)$", text, re.M)
        if not m:
            raise SystemExit(f"error: {path}: no '{name}' line (is this /usr/bin/time -v output?)")
        return m.group(1).strip()

    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    return {
        "rss_mib": int(field("Maximum resident set size (kbytes)")) / 1024,
        "user": float(field("User time (seconds)")),
        "sys": float(field("System time (seconds)")),
        "wall": wall,
        "exit": int(field("Exit status")),
    }


def wrk(path: Path) -> dict:
    text = path.read_text()
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        raise SystemExit(f"error: {path}: no 'Requests/sec' line (did wrk run?)")
    lat = re.search(r"Latency\s+([\d.]+)(us|ms|s)", text)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rate": float(m.group(1)),
        "latency_ms": float(lat.group(1)) * scale[lat.group(2)] if lat else None,
        "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0),
    }


def machine_busy(path: Path) -> float | None:
    """Share of the machine's CPU time that was busy (anyone's work) between two
    `/proc/stat` `cpu` lines."""
    try:
        lines = path.read_text().split("\n")
        a, b = ([int(x) for x in line.split()[1:]] for line in lines[:2])
    except (OSError, ValueError):
        return None
    delta = [y - x for x, y in zip(a, b)]
    total = sum(delta[:8])  # user nice system idle iowait irq softirq steal
    idle = delta[3] + delta[4]
    return (total - idle) / total if total > 0 else None


def fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def case_rows(d: Path) -> tuple[list[str], list[str], list[str]]:
    meta = load_json(d / "meta.json")
    n, lat = meta["in_flight"], meta["latency_ms"]
    bound = n / (lat / 1000)
    name = f"{n} in flight, {lat} ms"

    w = wrk(d / "wrk.txt")
    check(w["errors"] == 0, f"{name}: wrk saw {w['errors']} errors")
    server_row = (
        f"| {n} | {lat} | {fmt(bound)} | {fmt(w['rate'])} | {w['rate'] / bound:.2f} | "
        f"{fmt(w['latency_ms'], 1) if w['latency_ms'] else '?'} | {w['errors']} |"
    )

    summary = load_json(d / "run.summary.json")
    stats = load_json(d / "run.stats.json")
    t = time_v(d / "run.time.txt")
    g = summary["generations"][0]
    usage = summary["usage"].get("writer", {})
    sent = stats["requests"]
    check(t["exit"] == 0, f"{name}: autodidact exited {t['exit']}")
    check(sent == usage.get("requests"), f"{name}: server counted {sent} requests, the engine {usage.get('requests')}")
    check(g["generation_failures"] == 0, f"{name}: {g['generation_failures']} requests failed")
    check(g["generated"] == meta["seeds"], f"{name}: {g['generated']} records written from {meta['seeds']} seeds")
    check(stats.get("peak_in_flight", 0) <= n, f"{name}: {stats.get('peak_in_flight')} requests under way at once, above max_in_flight")
    check(stats["bad_requests"] == 0, f"{name}: the server answered {stats['bad_requests']} bad requests")
    rate = sent / g["seconds"]
    window = stats["window_seconds"]
    wrate = sent / window if window else float("nan")
    cpu = t["user"] + t["sys"]
    server_cpu = meta.get("server_cpu_seconds")
    busy = machine_busy(d / "run.machine_cpu")
    mean_in_flight = stats.get("mean_in_flight")
    run_row = (
        f"| {n} | {lat} | {fmt(bound)} | {fmt(meta['seeds'])} | {fmt(sent)} | {g['seconds']:.2f} | "
        f"**{fmt(rate)}** | **{rate / bound:.2f}** | {fmt(wrate)} | {wrate / bound:.2f} | "
        f"{'?' if mean_in_flight is None else fmt(mean_in_flight)} / {stats.get('peak_in_flight', '?')} | "
        f"{fmt(t['rss_mib'], 0)} MiB | {cpu:.1f} s ({1e6 * cpu / sent:.0f} µs/req) | "
        f"{'?' if server_cpu is None else f'{server_cpu:.1f} s'} | {'?' if busy is None else f'{100 * busy:.0f}%'} | "
        f"{g['kept']:,} |"
    )

    rows = []
    for kind, label in (("resume", "resume (stages done)"), ("replay", "cache replay (stages cleared)")):
        if not (d / f"{kind}.time.txt").exists():
            continue
        rt = time_v(d / f"{kind}.time.txt")
        rs = load_json(d / f"{kind}.stats.json")
        rsum = load_json(d / f"{kind}.summary.json")
        rg = rsum["generations"][0]
        check(rt["exit"] == 0, f"{name} {kind}: autodidact exited {rt['exit']}")
        check(rs["requests"] == 0, f"{name} {kind}: {rs['requests']} requests reached the server")
        check(rsum["dataset_records"] == summary["dataset_records"], f"{name} {kind}: dataset differs from the first run")
        cached = rg["requests"].get("writer", {}).get("cached", 0) if kind == "replay" else None
        if kind == "replay":
            check(cached == meta["seeds"], f"{name} replay: {cached} answers from the cache, {meta['seeds']} expected")
        per_s = meta["seeds"] / rt["wall"]
        rows.append(
            f"| {n} | {lat} | {label} | {rs['requests']} | "
            f"{'-' if cached is None else fmt(cached)} | {rt['wall']:.2f} | {fmt(per_s)} | {fmt(rt['rss_mib'], 0)} MiB |"
        )
    return [server_row], [run_row], rows


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(sys.argv[1])
    cases = sorted(
        (d for d in root.glob("case-*") if (d / "meta.json").exists()),
        key=lambda d: (load_json(d / "meta.json")["latency_ms"], load_json(d / "meta.json")["in_flight"]),
    )
    if not cases:
        print(f"error: no case-*/meta.json in {root}", file=sys.stderr)
        return 2
    servers, runs, resumes = [], [], []
    for d in cases:
        s, r, re_ = case_rows(d)
        servers += s
        runs += r
        resumes += re_

    print("Server alone (wrk, connections = in flight, same duration as the check):\n")
    print("| in flight | latency ms | bound req/s | wrk req/s | ratio | wrk mean latency ms | errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(servers))
    print("\nThe engine (`autodidact run`, essay task, per_seed = 1, no judge, curation on):\n")
    print(
        "| in flight | latency ms | bound req/s | seeds | requests sent | generation s | req/s | ratio "
        "| req/s over the server's request window | window ratio | in flight at the server, mean / peak "
        "| peak RSS | autodidact CPU | server CPU | machine CPU busy | kept |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(runs))
    if resumes:
        print("\nSecond runs on the same directory (no request may reach the server):\n")
        print("| in flight | latency ms | run | requests sent | answers from cache | wall s | seeds/s | peak RSS |")
        print("|---:|---:|---|---:|---:|---:|---:|---:|")
        print("\n".join(resumes))

    peers = sorted(p for p in root.glob("peer-*.json") if re.fullmatch(r"peer-[a-z]+\.json", p.name))
    if peers:
        print("\nPeers measured in this run (Python asyncio loop, same server, closed loop for the duration):\n")
        print("| client | in flight | latency ms | bound req/s | answered | seconds | req/s | ratio | errors |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for p in peers:
            r = load_json(p)
            bound = r["in_flight"] / (r["latency_ms"] / 1000)
            check(r["errors"] == 0, f"peer {p.name}: {r['errors']} errors")
            print(
                f"| {r['client']} | {r['in_flight']} | {r['latency_ms']} | {fmt(bound)} | {fmt(r['answered'])} | "
                f"{r['seconds']:.1f} | {fmt(r['rate'])} | {r['rate'] / bound:.2f} | {r['errors']} |"
            )

    profiles = sorted(
        (p for p in root.glob("profile-*.json") if re.fullmatch(r"profile-\d+\.json", p.name)),
        key=lambda p: int(p.stem.split("-")[1]),
    )
    if profiles:
        print("\nThe engine taken apart (`bench/server/examples/client_ceiling.rs`, same server):\n")
        print("| variant | in flight | latency ms | req/s | ratio | in flight at the server, mean / peak | CPU per request |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for p in profiles:
            r = load_json(p)
            stem = p.with_suffix("")
            st = load_json(stem.with_name(stem.name + ".stats.json"))
            t = time_v(stem.with_name(stem.name + ".time.txt"))
            variant = stem.with_name(stem.name + ".variant").read_text().strip()
            lat = int(stem.with_name(stem.name + ".latency").read_text())
            bound = r["in_flight"] / (lat / 1000)
            check(r["failures"] == 0 and t["exit"] == 0, f"profile {variant}: {r['failures']} failures, exit {t['exit']}")
            check(st["requests"] == r["requests"], f"profile {variant}: server counted {st['requests']}")
            mean = st.get("mean_in_flight")
            print(
                f"| `{variant}` | {r['in_flight']} | {lat} | {fmt(r['rate'])} | {r['rate'] / bound:.2f} | "
                f"{'?' if mean is None else fmt(mean)} / {st['peak_in_flight']} | "
                f"{1e6 * (t['user'] + t['sys']) / r['requests']:.0f} µs |"
            )

    for f in failures:
        print(f"CHECK FAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
