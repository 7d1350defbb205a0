"""A peer for comparison: the usual Python way of keeping a chat server busy.

`in_flight` asyncio workers each send chat completion requests one after another for
`--seconds`, through aiohttp (`--client aiohttp`) or the official openai client
(`--client openai`). Prints one JSON object: requests answered, errors, seconds, rate.

Run by bench/throughput.sh in a venv with aiohttp (and openai) installed.
"""

import argparse
import asyncio
import json
import sys
import time


def body(i: int) -> dict:
    return {
        "model": "bench",
        "messages": [{"role": "user", "content": f"Write a short essay on topic {i}."}],
        "temperature": 0.8,
        "max_tokens": 1024,
        "seed": i,
    }


async def run_aiohttp(base: str, in_flight: int, seconds: float) -> tuple[int, int, float]:
    import aiohttp

    url = f"{base}/chat/completions"
    done = errors = 0
    counter = iter(range(1 << 62))
    connector = aiohttp.TCPConnector(limit=in_flight)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                async with session.post(url, json=body(next(counter))) as resp:
                    answer = await resp.json()
                    if resp.status == 200 and answer.get("choices"):
                        done += 1
                    else:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return done, errors, time.perf_counter() - start


async def run_openai(base: str, in_flight: int, seconds: float) -> tuple[int, int, float]:
    import openai

    # Recent openai releases ship their HTTP stack as `httpx2`, older ones use `httpx`.
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx
    # The client's default pool (1,000 connections) would also do; set it to match in_flight.
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    client = openai.AsyncOpenAI(
        base_url=base,
        api_key="unused",
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(limits=limits, timeout=120),
    )
    done = errors = 0
    counter = iter(range(1 << 62))
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            b = body(next(counter))
            try:
                r = await client.chat.completions.create(**b)
                if r.choices:
                    done += 1
                else:
                    errors += 1
            except openai.OpenAIError as e:
                print(f"openai error: {e}", file=sys.stderr)
                errors += 1

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    elapsed = time.perf_counter() - start
    await client.close()
    return done, errors, elapsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--in-flight", type=int, default=256)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--client", choices=["aiohttp", "openai"], default="aiohttp")
    a = p.parse_args()
    if a.in_flight < 1 or a.seconds <= 0:
        print("error: --in-flight must be at least 1 and --seconds positive", file=sys.stderr)
        return 2
    run = run_aiohttp if a.client == "aiohttp" else run_openai
    done, errors, elapsed = asyncio.run(run(a.base_url.rstrip("/"), a.in_flight, a.seconds))
    print(json.dumps({
        "client": a.client,
        "in_flight": a.in_flight,
        "answered": done,
        "errors": errors,
        "seconds": elapsed,
        "rate": done / elapsed if elapsed > 0 else None,
    }))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
