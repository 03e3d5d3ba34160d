"""The whole pipeline at a given size, per stage: wall time, rows, rows/s and peak memory; then a 1% incremental run.

    python benchmarks/bench_pipeline.py --learners 10000 --days 14      # about 1 million events
    python benchmarks/bench_pipeline.py --learners 100000 --days 14     # about 10 million events

Runs in a temporary data directory with its own embedded PostgreSQL and MLflow (nothing of the
project's `.devmentor/` is touched). The last day's files are held back; after the full run they
arrive and a daily run processes them (the incremental case). Prints a table; with ``--json`` the last
line is one JSON object (``full.wall_seconds``, ``incremental.wall_seconds``, per-stage seconds, peak RSS).
``--peer pandas|polars`` also times ../shared/tools/peer_features.py (the plain-notebook floor of the
feature stage) on the same inbox files, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PEER = ROOT.parent / "shared" / "tools" / "peer_features.py"

STAGES = [  # (stage, predicate on the step key)
    ("ingest", lambda s: s.startswith("raw__")),
    ("dbt features", lambda s: s.startswith("dbt_")),
    ("training", lambda s: s in ("ml__primary_classification", "ml__intervention_strategy", "ml__mastery_model")),
    ("scoring", lambda s: s == "ml__learner_decisions_scored"),
    ("learning engine", lambda s: s == "ml__learning_engine"),
    ("gamification", lambda s: s == "ml__gamification"),
    ("analytics", lambda s: s.startswith("analytics__")),
    ("publish", lambda s: s.startswith("serving__")),
]


class MemorySampler:
    """RSS of this process and its children (dbt runs as a subprocess), sampled every 100 ms."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss + sum(c.memory_info().rss for c in self.proc.children(recursive=True))
            except psutil.Error:
                rss = 0
            self.samples.append((time.time(), rss))
            time.sleep(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> int:
        return max((r for t, r in self.samples if start <= t <= end), default=0)


def step_windows(result, settings) -> dict[str, tuple[float, float]]:
    """Start and end of every step, from the run's step stats in the Dagster instance."""
    from orchestration.instance import project_instance

    with project_instance(settings) as instance:
        stats = instance.get_run_step_stats(result.run_id)
    return {s.step_key: (s.start_time, s.end_time) for s in stats if s.start_time and s.end_time}


def rows_by_step(result) -> dict[str, int]:
    rows = {}
    for e in result.get_asset_materialization_events():
        md = e.materialization.metadata
        for key in ("rows", "rows_good", "rows_mastery", "rows_reward_log", "dagster/row_count"):
            if key in md:
                rows[e.step_key] = rows.get(e.step_key, 0) + int(md[key].value)
                break
    return rows


def hold_back(day_file: Path, held: Path, share: float, total_events: int) -> int:
    """Move the latest ``share`` of all events out of the last day's file into a late file (arrives later)."""
    import polars as pl

    events = pl.read_parquet(day_file)
    n = min(len(events) - 1, max(1, round(total_events * share)))
    events = events.sort("timestamp")
    events.head(len(events) - n).write_parquet(day_file)
    events.tail(n).write_parquet(held / f"{day_file.stem}-late.parquet")
    return n


def stage_table(result, sampler: MemorySampler, events: int, settings) -> list[dict]:
    windows = step_windows(result, settings)
    rows = rows_by_step(result)
    out = []
    for stage, pred in STAGES:
        steps = [s for s in windows if pred(s)]
        if not steps:
            continue
        start, end = min(windows[s][0] for s in steps), max(windows[s][1] for s in steps)
        seconds = sum(windows[s][1] - windows[s][0] for s in steps)
        n = events if stage in ("ingest", "dbt features") else sum(rows.get(s, 0) for s in steps)
        out.append({"stage": stage, "seconds": round(seconds, 1), "rows": n,
                    "rows_per_second": round(n / seconds) if seconds > 0 else None,
                    "peak_rss_mib": round(sampler.peak(start, end) / 2**20)})
    return out


def print_table(title: str, table: list[dict], total: float, peak: int) -> None:
    print(f"\n{title}")
    print(f"| {'stage':16} | {'seconds':>8} | {'rows':>11} | {'rows/s':>9} | {'peak MiB':>8} |")
    print("|---|---|---|---|---|")
    for r in table:
        print(f"| {r['stage']:16} | {r['seconds']:8.1f} | {r['rows']:11,} | {r['rows_per_second'] or 0:9,} | {r['peak_rss_mib']:8,} |")
    print(f"| {'total (wall)':16} | {total:8.1f} | | | {round(peak / 2**20):8,} |")


def run_peer(engine: str, inbox: Path, out: Path) -> dict:
    """The plain-notebook floor on the same inbox files: its own wall and peak RSS, as it prints them."""
    if not PEER.exists():
        return {"engine": engine, "skipped": f"{PEER} not present"}
    proc = subprocess.run([sys.executable, str(PEER), str(inbox), str(out), "--engine", engine],
                          capture_output=True, text=True, check=True)
    figures = dict(re.findall(r"(\w+)=(\S+)", proc.stdout.strip().splitlines()[-1]))
    return {"engine": engine, "events": int(figures["events"]), "wall_seconds": float(figures["wall_s"]),
            "peak_rss_mib": int(figures["peak_mib"])}


def stage_seconds(table: list[dict], stage: str) -> float:
    return next((r["seconds"] for r in table if r["stage"] == stage), 0.0)


def lake_events(settings) -> int:
    import duckdb

    return duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{settings.lake}/raw/events/**/*.parquet', union_by_name=true)").fetchone()[0]


def daily_selection(settings) -> str:
    """The daily job's selection: every materializable asset except the model refits."""
    from orchestration.definitions import build_defs
    from orchestration.jobs import MODEL_KEYS

    graph = build_defs(settings).resolve_asset_graph()
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable and k not in MODEL_KEYS]
    return " or ".join(f'key:"{k.to_user_string()}"' for k in keys)


def timed_run(settings, days, select=None, events_before=0):
    """One pipeline run, timed and sampled: (run, seconds, stage table, peak RSS, events in the lake after it)."""
    from orchestration.runner import run_pipeline

    with MemorySampler() as sampler:
        t = time.perf_counter()
        run = run_pipeline(settings, select=select, days=days) if select else run_pipeline(settings, days=days)
        seconds = time.perf_counter() - t
    assert run.success, f"the run over {days} failed"
    events = lake_events(settings)
    table = stage_table(run, sampler, events - events_before, settings)
    return run, seconds, table, max((r for _, r in sampler.samples), default=0), events


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--learners", type=int, default=10_000)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--new-share", type=float, default=0.01,
                   help="share of the events held back and processed by the incremental run (default 1%%)")
    p.add_argument("--steps", action="store_true", help="also print every step's seconds (for profiling)")
    p.add_argument("--keep", help="work directory to keep (default: temporary, removed at the end)")
    p.add_argument("--peer", choices=["pandas", "polars"], help="also time peer_features.py on the same files")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args = p.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    os.environ.update({"DEVMENTOR_HOME": str(work / "home"), "DEVMENTOR_ENV": "local"})
    os.environ.pop("DEVMENTOR_DATABASE_URL", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from devmentor.generator import generate
    from devmentor.settings import load_settings
    from devmentor.storage import postgres
    settings = load_settings()
    settings.ensure_dirs()
    print(f"generating {args.learners:,} learners × {args.days} days in {work}", flush=True)
    summary = generate(settings.inbox, learners=args.learners, days=args.days, seed=7)
    days = sorted(pth.stem for pth in (settings.inbox / "events").glob("*.parquet"))
    held = work / "held"
    held.mkdir(exist_ok=True)
    hold_back(settings.inbox / "events" / f"{days[-1]}.parquet", held, args.new_share, summary.events)
    peer = run_peer(args.peer, settings.inbox, work / "peer") if args.peer else None
    postgres.embedded_url(settings.pg_data_dir)  # start the embedded server outside the timed run
    full, full_s, full_table, full_peak, events_full = timed_run(settings, days=(days[0], days[-1]))
    for late in held.glob("*.parquet"):  # the late arrivals land in the inbox
        late.rename(settings.inbox / "events" / late.name)
    # the daily job: everything except model refits, for the new day only
    inc, inc_s, inc_table, inc_peak, events_all = timed_run(settings, days=(days[-1], days[-1]), select=daily_selection(settings),
                                                            events_before=events_full)

    print_table(f"Full run: {args.learners:,} learners, {events_full:,} events", full_table, full_s, full_peak)
    print_table(f"Incremental daily run: {events_all - events_full:,} new events "
                f"({(events_all - events_full) / events_full:.1%}), no model refit", inc_table, inc_s, inc_peak)
    if args.steps:
        for title, run in (("full", full), ("incremental", inc)):
            windows = step_windows(run, settings)
            print(f"\n{title} run, slowest steps:")
            for step, (a, b) in sorted(windows.items(), key=lambda kv: kv[1][0] - kv[1][1])[:15]:
                print(f"  {b - a:7.1f} s  {step}")
    print(f"\nincremental / full wall time: {inc_s / full_s:.1%}")
    feature_s = stage_seconds(full_table, "ingest") + stage_seconds(full_table, "dbt features")
    if peer and "wall_seconds" in peer:
        print(f"feature stage (ingest + dbt) {feature_s:.1f} s vs peer_features.py --engine {peer['engine']} "
              f"{peer['wall_seconds']:.1f} s on the same {peer['events']:,} events")
    result = {
        "learners": args.learners, "days": args.days, "generated_events": summary.events,
        "full": {"events": events_full, "wall_seconds": round(full_s, 1), "peak_rss_mib": round(full_peak / 2**20), "stages": full_table},
        "incremental": {"new_events": events_all - events_full, "wall_seconds": round(inc_s, 1),
                        "peak_rss_mib": round(inc_peak / 2**20), "share_of_full": round(inc_s / full_s, 3), "stages": inc_table},
        "feature_stage_seconds": round(feature_s, 1), "peer": peer,
    }
    postgres.stop_embedded(settings.pg_data_dir)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2), flush=True)


if __name__ == "__main__":
    main()
