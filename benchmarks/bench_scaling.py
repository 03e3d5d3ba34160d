"""How cost grows with data and with workers: the per-learner stages at 1, 2 and 4 learner shards, and the
dbt feature build on DuckDB and on Spark local, at about 1 M and 10 M events.

    python benchmarks/bench_scaling.py                                   # 10,000 and 100,000 learners × 14 days
    python benchmarks/bench_scaling.py --learners 10000 --engines duckdb # one size, no Spark
    python benchmarks/bench_scaling.py --learners 10000 --json           # the table as JSON on the last line
    python benchmarks/bench_scaling.py --home DIR --engines              # shards only, on a home that ran the pipeline

Protocol, per size: one generated data set (seed 7) run once through the whole pipeline (ingest, dbt, training:
the shared starting point, not timed here). Then:
- **shards**: for N = 1, 2, 4, ``DEVMENTOR_SHARDS=N`` and one Dagster run of the three per-learner stages
  (scoring, learning engine, gamification) on the multiprocess executor (a process per step, as many at once
  as the machine has cores), the mastery state cleared first so every run traces everyone in full. Wall time
  includes Dagster's per-step process start; rows/s = lake events / wall. Each sharded run's lake outputs are
  checked equal (row counts of every table) to the 1-shard run's.
- **engines**: one cold ``dbt build`` (models and tests) of the same lake on DuckDB and on Spark local
  (benchmarks/bench_warehouse_engines.py, JVM start included).
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

from bench_warehouse_engines import check_engines, engine_arguments, run_engine  # noqa: E402

PER_LEARNER = (["ml", "learner_decisions_scored"], ["ml", "learning_engine"], ["ml", "gamification"])
LAKE_OUTPUTS = ("learner_decisions.parquet", "learning", "gamification")


def pipeline_job():
    """The pipeline job as a launched run builds it (module level, for dg.reconstructable: every step of the
    multiprocess executor rebuilds it from the environment in its own process)."""
    from devmentor.settings import load_settings
    from orchestration.definitions import build_defs

    return build_defs(load_settings()).resolve_job_def("devmentor_pipeline")


def lake_rows(ml: Path) -> dict[str, int]:
    """Rows of every per-learner output table in the lake (the equality check between shard counts)."""
    import pyarrow.parquet as pq

    files = [ml / LAKE_OUTPUTS[0]] + sorted(p for d in LAKE_OUTPUTS[1:] for p in (ml / d).glob("*.parquet"))
    return {str(f.relative_to(ml)): pq.read_metadata(f).num_rows for f in files if f.name != "badge_ledger.parquet"}


def run_shards(settings, shards: int) -> tuple[float, dict[str, float]]:
    """One multiprocess run of the per-learner stages at ``shards``; (wall s, seconds per stage summed over steps)."""
    import dagster as dg

    from orchestration.instance import project_instance

    for state in (settings.lake / "ml" / "mastery").glob("state*"):  # every run traces everyone in full
        state.unlink() if state.is_symlink() else shutil.rmtree(state)
    with project_instance(settings, {"DEVMENTOR_SHARDS": str(shards)}) as instance:
        t = time.perf_counter()
        run = dg.execute_job(dg.reconstructable(pipeline_job), instance=instance,
                             asset_selection=[dg.AssetKey(k) for k in PER_LEARNER])
        wall = time.perf_counter() - t
        if not run.success:
            raise SystemExit(f"the {shards}-shard run failed: see {settings.dagster_home}")
        stats = instance.get_run_step_stats(run.run_id)
    stages = {}
    for s in stats:
        stage = s.step_key.split(".")[0].removeprefix("ml__")
        stages[stage] = stages.get(stage, 0.0) + (s.end_time - s.start_time)
    return wall, stages


def one_size(learners: int, days: int, work: Path, args) -> list[dict]:
    home = Path(args.home) if args.home else work / "home"
    os.environ.update({"DEVMENTOR_HOME": str(home), "DEVMENTOR_ENV": "local", "DEVMENTOR_SHARDS": "1"})
    os.environ.pop("DEVMENTOR_DATABASE_URL", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    import duckdb

    from devmentor.generator import generate
    from devmentor.settings import load_settings
    from devmentor.storage import postgres
    from orchestration.runner import run_pipeline

    settings = load_settings()
    settings.ensure_dirs()
    t = time.perf_counter()
    if args.home:  # a data directory that has already run the whole pipeline
        postgres.embedded_url(settings.pg_data_dir)
    else:
        generate(settings.inbox, learners=learners, days=days, seed=7)
        if not run_pipeline(settings).success:
            raise SystemExit(f"the starting pipeline run failed: see {settings.dagster_home}")
    events = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{settings.lake}/raw/events/**/*.parquet', union_by_name=true)").fetchone()[0]
    print(f"{events:,} events: pipeline " + (f"run earlier in {home}" if args.home else
          f"run once ({learners:,} learners × {days} days, {time.perf_counter() - t:.0f} s)"), flush=True)
    rows, reference = [], None
    for shards in args.shards:
        wall, stages = run_shards(settings, shards)
        counts = lake_rows(settings.lake / "ml")
        reference = reference or counts
        if counts != reference:
            raise SystemExit(f"{shards} shards wrote other row counts than {args.shards[0]}: {counts} vs {reference}")
        rows.append({"events": events, "learners": learners, "what": "per-learner stages", "workers": f"{shards} shard(s)",
                     "wall_s": round(wall, 1), "rows_per_s": round(events / wall),
                     "step_seconds": {k: round(v, 1) for k, v in stages.items()}})
        print(f"  {shards} shard(s): {wall:.1f} s wall, {events / wall:,.0f} events/s; step seconds "
              f"{rows[-1]['step_seconds']}", flush=True)
    postgres.stop_embedded(settings.pg_data_dir)
    for engine in args.engines:
        wall, peak = run_engine(engine, settings.lake, work, args)
        name = "DuckDB" if engine == "duckdb" else f"Spark {args.spark_master}"
        rows.append({"events": events, "learners": learners, "what": "dbt build", "workers": name,
                     "wall_s": round(wall, 1), "rows_per_s": round(events / wall), "peak_mib": round(peak)})
        print(f"  dbt build on {name}: {wall:.1f} s, {events / wall:,.0f} events/s, peak {peak:,.0f} MiB", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    engine_arguments(p)
    p.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--home", help="reuse a DEVMENTOR_HOME that has already run the pipeline (one size; not removed)")
    p.add_argument("--json", action="store_true", help="print the table as one JSON object on the last line")
    args = p.parse_args()
    check_engines(args.engines)
    root = Path(args.work or tempfile.mkdtemp(prefix="bench-scaling-"))
    rows = []
    try:
        for learners in args.learners:
            size = root / f"l{learners}"
            shutil.rmtree(size, ignore_errors=True)
            size.mkdir(parents=True)
            rows += one_size(learners, args.days, size, args)
            shutil.rmtree(size, ignore_errors=True)
            if args.home:
                break
    finally:
        if not args.work:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\n{os.cpu_count()} cores; shards on Dagster's multiprocess executor; dbt builds cold (models + tests)")
    print(f"| {'events':>11} | {'stage':<18} | {'workers':<16} | {'wall s':>7} | {'events/s':>9} |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['events']:>11,} | {r['what']:<18} | {r['workers']:<16} | {r['wall_s']:>7.1f} | {r['rows_per_s']:>9,} |")
    if args.json:
        print(json.dumps({"cores": os.cpu_count(), "rows": rows}))


if __name__ == "__main__":
    main()
