"""Time the feature build (ingest + dbt) at a given size; print stage times, events/s and peak memory.

    python benchmarks/bench_features.py --learners 10000 --days 14      # about 1 million events
    python benchmarks/bench_features.py --learners 100000 --days 14     # about 10 million events

Also times an incremental daily run (the last day's files arriving after the rest).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devmentor.generator import generate  # noqa: E402
from devmentor.ingest.contract import ENTITIES  # noqa: E402
from devmentor.ingest.days import window_for_days  # noqa: E402
from devmentor.ingest.validate import ingest_entity  # noqa: E402
from devmentor.settings import DBT_PROJECT_DIR, TELEMETRY_ENV  # noqa: E402


def dbt_build(lake: Path, warehouse: Path, *extra: str) -> tuple[float, float]:
    env = {**os.environ, **TELEMETRY_ENV, "DEVMENTOR_LAKE": str(lake), "DEVMENTOR_WAREHOUSE": str(warehouse)}
    import psutil

    started = time.perf_counter()
    log = open(warehouse.parent / "dbt-bench.log", "w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "dbt"), "build", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(warehouse.parent / "target"),
         "--log-path", str(warehouse.parent / "logs"), *extra],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    log.close()
    if proc.returncode != 0:
        raise SystemExit((warehouse.parent / "dbt-bench.log").read_text()[-3000:])
    return time.perf_counter() - started, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--keep", help="work directory to keep (default: temporary)")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-feat-"))
    inbox, lake, wh = work / "inbox", work / "lake", work / "warehouse.duckdb"
    print(f"generating {args.learners:,} learners × {args.days} days in {work}", flush=True)
    summary = generate(inbox, learners=args.learners, days=args.days, seed=7)
    days = sorted(p.stem for p in (inbox / "events").glob("*.parquet"))
    held = work / "held"
    held.mkdir(exist_ok=True)
    for folder in ("events", "chat"):
        (inbox / folder / f"{days[-1]}.parquet").rename(held / f"{folder}-{days[-1]}.parquet")

    t = time.perf_counter()
    for entity in ENTITIES:
        ingest_entity(entity, inbox, lake)
    ingest_s = time.perf_counter() - t
    ingest_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import duckdb

    events_full = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{lake}/raw/events/**/*.parquet', union_by_name=true)").fetchone()[0]
    dbt_s, dbt_peak = dbt_build(lake, wh)

    for folder in ("events", "chat"):
        (held / f"{folder}-{days[-1]}.parquet").rename(inbox / folder / f"{days[-1]}.parquet")
    t = time.perf_counter()
    for entity in ENTITIES:
        ingest_entity(entity, inbox, lake)
    inc_ingest_s = time.perf_counter() - t
    events_all = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{lake}/raw/events/**/*.parquet', union_by_name=true)").fetchone()[0]
    inc_dbt_s, _ = dbt_build(lake, wh, "--vars", json.dumps(window_for_days(days[-1], days[-1])))

    result = {
        "learners": args.learners,
        "events_total": events_all,
        "full_build": {
            "events": events_full,
            "ingest_seconds": round(ingest_s, 1),
            "ingest_events_per_second": round(events_full / ingest_s),
            "ingest_peak_rss_mib": round(ingest_peak),
            "dbt_seconds": round(dbt_s, 1),
            "dbt_events_per_second": round(events_full / dbt_s),
            "dbt_peak_rss_mib": round(dbt_peak),
        },
        "incremental_day": {
            "new_events": events_all - events_full,
            "ingest_seconds": round(inc_ingest_s, 1),
            "dbt_seconds": round(inc_dbt_s, 1),
            "share_of_full_time": round((inc_ingest_s + inc_dbt_s) / (ingest_s + dbt_s), 3),
        },
        "generated_events": summary.events,
    }
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
