"""The same dbt project on DuckDB and on Spark (local): wall time and rows/s of `dbt build` at 1 M and 10 M events.

    python benchmarks/bench_warehouse_engines.py                         # 10,000 and 100,000 learners × 14 days
    python benchmarks/bench_warehouse_engines.py --learners 10000 --engines spark --spark-master 'local[2]'

Protocol: one generated lake per size (devmentor.generator, seed 7, ingested through the input contract); then, per
engine, one `dbt build` of the whole project (models and their tests) from a cold start: a new DuckDB file, or a new
Spark metastore and warehouse (the JVM's start-up included). rows/s = lake events / wall time. Spark runs with the
profile's defaults (driver memory and shuffle partitions as given).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_features import dbt_build  # noqa: E402

from devmentor.features import spark_warehouse  # noqa: E402
from devmentor.generator import generate  # noqa: E402
from devmentor.ingest.contract import ENTITIES  # noqa: E402
from devmentor.ingest.validate import ingest_entity  # noqa: E402


def make_lake(work: Path, learners: int, days: int) -> tuple[Path, int]:
    """Generate and ingest one lake; returns it and its number of events."""
    import duckdb

    started = time.perf_counter()
    generate(work / "inbox", learners=learners, days=days, seed=7)
    for entity in ENTITIES:
        ingest_entity(entity, work / "inbox", work / "lake")
    shutil.rmtree(work / "inbox")
    events = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{work}/lake/raw/events/**/*.parquet', union_by_name=true)").fetchone()[0]
    print(f"  lake: {learners:,} learners × {days} days = {events:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
    return work / "lake", events


def run_engine(engine: str, lake: Path, work: Path, args) -> tuple[float, float]:
    """One cold `dbt build` on an engine; (wall s, peak MiB of dbt and its JVM)."""
    out = work / engine
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    if engine == "duckdb":
        return dbt_build(lake, out / "warehouse.duckdb")
    env = {**spark_warehouse.dbt_env(lake, out / "spark", args.spark_master),
           "DEVMENTOR_SPARK_DRIVER_MEMORY": args.spark_memory,
           "DEVMENTOR_SPARK_SHUFFLE_PARTITIONS": str(args.spark_partitions)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return dbt_build(lake, out / "warehouse.duckdb", "--target", "spark")
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def engine_arguments(p: argparse.ArgumentParser) -> None:
    """The options of a benchmark over sizes and warehouse engines (this one and bench_scaling.py)."""
    p.add_argument("--learners", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--engines", nargs="*", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    p.add_argument("--spark-master", default="local[2]")
    p.add_argument("--spark-memory", default="6g", help="Spark driver memory (local mode: all of Spark's heap)")
    p.add_argument("--spark-partitions", type=int, default=8, help="spark.sql.shuffle.partitions")
    p.add_argument("--work", help="working directory (default: a temporary one, removed afterwards)")


def check_engines(engines) -> None:
    if "spark" in engines and not spark_warehouse.java_runtime():
        raise SystemExit("Spark needs a Java runtime (17+): apt-get install default-jre-headless")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    engine_arguments(p)
    p.add_argument("--json", action="store_true", help="also print the table as JSON")
    args = p.parse_args()
    check_engines(args.engines)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-engines-"))
    rows = []
    try:
        for learners in args.learners:
            size = work / f"l{learners}"
            shutil.rmtree(size, ignore_errors=True)
            lake, events = make_lake(size, learners, args.days)
            for engine in args.engines:
                wall, peak = run_engine(engine, lake, size, args)
                rows.append({"engine": engine if engine == "duckdb" else f"spark {args.spark_master}", "events": events,
                             "wall_s": round(wall, 1), "rows_per_s": round(events / wall), "peak_mib": round(peak)})
                print(f"  {rows[-1]['engine']}: {wall:.1f} s, {events / wall:,.0f} events/s, peak {peak:,.0f} MiB", flush=True)
            shutil.rmtree(size, ignore_errors=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\ndbt build (models + tests), cold, {os.cpu_count()} cores; Spark: driver {args.spark_memory}, "
          f"{args.spark_partitions} shuffle partitions")
    print(f"{'engine':<16} {'events':>12} {'wall s':>9} {'rows/s':>10} {'peak MiB':>9}")
    for r in rows:
        print(f"{r['engine']:<16} {r['events']:>12,} {r['wall_s']:>9.1f} {r['rows_per_s']:>10,} {r['peak_mib']:>9,}")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
