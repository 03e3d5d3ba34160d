"""Load test of the read API's learner-decision endpoint from a second process on loopback.

    python benchmarks/bench_api.py [--rate 500] [--seconds 20] [--port 3055]

Starts `devmentor serve` (on the project's serving database, as the read-only role) in its own
process, then sends GET /api/learning/decisions/{user_id} for random learners at a fixed rate
(open loop: requests are scheduled by the clock, not by the previous answer) and prints achieved
requests/s and p50 / p90 / p99 / max latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def run_load(base: str, users: list[str], rate: float, seconds: float, connections: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=5) as client:
        sem = asyncio.Semaphore(connections)

        async def one(user: str) -> None:
            nonlocal errors
            async with sem:
                t = time.perf_counter()
                try:
                    r = await client.get(f"/api/learning/decisions/{user}")
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t)
                errors += 0 if ok else 1

        tasks = []
        start = time.perf_counter()
        n = int(rate * seconds)
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(random.choice(users))))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    lat = sorted(latencies)

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2)

    return {"requests": len(lat), "errors": errors, "seconds": round(elapsed, 2), "requests_per_second": round(len(lat) / elapsed),
            "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": round(lat[-1] * 1000, 2)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=float, default=500)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--port", type=int, default=3055)
    p.add_argument("--connections", type=int, default=32)
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    import httpx
    import psycopg

    from orchestration import postgres
    from orchestration.settings import load_settings

    settings = load_settings()
    url = settings.database_url or postgres.embedded_url(settings.pg_data_dir)
    with psycopg.connect(url) as conn:
        users = [r[0] for r in conn.execute("SELECT DISTINCT user_id FROM serving.learner_decisions").fetchall()]
    if not users:
        raise SystemExit("no decisions published: run `devmentor demo` first")
    server = subprocess.Popen([str(Path(sys.executable).parent / "devmentor"), "serve", "--port", str(args.port)],
                              env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"the API did not start: {server.stderr.read().decode()[-2000:] if server.poll() is not None else 'timeout'}")
        asyncio.run(run_load(base, users, min(args.rate, 100), 2, args.connections))  # warm-up
        result = asyncio.run(run_load(base, users, args.rate, args.seconds, args.connections))
    finally:
        server.terminate()
        server.wait(10)
    result.update(target_rate=args.rate, learners=len(users))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
