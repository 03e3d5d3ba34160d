"""Load test of the read API's learner-decision endpoint from a second process on loopback.

    python benchmarks/bench_api.py [--rate 500] [--seconds 20] [--port 3055]

Starts `devmentor serve` (on the project's serving database, as the read-only role) in its own
process, then sends GET /api/learning/decisions/{user_id} at a fixed rate (open loop: requests are
scheduled by the clock, not by the previous answer; latency counts from the scheduled time). First
every learner once (cold: each answer computed from PostgreSQL), then random learners for
--seconds (warm: answers cached until the next publish). Prints requests/s and p50 / p90 / p99 / max.
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


async def run_load(host: str, port: int, users: list[str], rate: float, seconds: float, connections: int,
                   every_user_once: bool = False) -> dict:
    """Open-loop load: requests are due at fixed times; latency counts from the due time (no coordinated omission).

    The client is plain asyncio streams with keep-alive (an HTTP library would cost more CPU than the server).
    """
    picks = list(users) if every_user_once else [random.choice(users) for _ in range(int(rate * seconds))]
    start = time.perf_counter() + 0.2
    due = asyncio.Queue()
    for i, user in enumerate(picks):
        due.put_nowait((start + i / rate, user))
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                try:
                    at, user = due.get_nowait()
                except asyncio.QueueEmpty:
                    return
                wait = at - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(f"GET /api/learning/decisions/{user} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - at)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - max(began, start)
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
    p.add_argument("--connections", type=int, default=16)
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    import httpx
    import psycopg

    from devmentor.settings import load_settings
    from devmentor.storage import postgres

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
        # cold: every learner once (each response computed from PostgreSQL), then warm (cached until the next publish)
        cold = asyncio.run(run_load("127.0.0.1", args.port, users, args.rate, 0, args.connections, every_user_once=True))
        result = asyncio.run(run_load("127.0.0.1", args.port, users, args.rate, args.seconds, args.connections))
    finally:
        server.terminate()
        server.wait(10)
    result.update(target_rate=args.rate, learners=len(users), cold_first_request_per_learner=cold)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
