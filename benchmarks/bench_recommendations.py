"""Offline recommendation quality: hold out each learner's last day, recommend from the days before, score.

    python benchmarks/bench_recommendations.py [--learners 2000] [--days 21] [--json]

Generates data, ingests and builds the features without the last day, fits mastery and runs
the learning engine, then compares each learner's top 10 with the content they viewed on the
held-out day: hit rate@10 and NDCG@10 for the engine and two popularity baselines (global
top 10; top 10 of the learner's own courses).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def offline_evaluation(work: Path, learners: int, days: int, seed: int = 11) -> dict:
    import duckdb
    import pandas as pd

    from devmentor.generator import generate
    from devmentor.ingest.contract import ENTITIES
    from devmentor.ingest.validate import ingest_entity
    from devmentor.learning.engine import load_attempts, run_engine
    from devmentor.learning.mastery_model import fit_mastery
    from models import recommender

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_features import dbt_build

    inbox, lake, wh = work / "inbox", work / "lake", work / "warehouse.duckdb"
    timings = {}
    t = time.perf_counter()
    generate(inbox, learners=learners, days=days, seed=seed)
    last = sorted(p.stem for p in (inbox / "events").glob("*.parquet"))[-1]
    held = work / "held-out-events.parquet"
    (inbox / "events" / f"{last}.parquet").rename(held)
    (inbox / "chat" / f"{last}.parquet").unlink(missing_ok=True)
    for entity in ENTITIES:
        ingest_entity(entity, inbox, lake)
    dbt_build(lake, wh)
    timings["prepare_seconds"] = round(time.perf_counter() - t, 1)
    con = duckdb.connect(str(wh), read_only=True)
    t = time.perf_counter()
    params, _ = fit_mastery(load_attempts(con))
    out = run_engine(con, params, "bench", work / "state")
    timings["engine_seconds"] = round(time.perf_counter() - t, 1)
    truth = duckdb.connect().execute(
        f"SELECT DISTINCT user_id, content_id FROM read_parquet('{held}') WHERE event_type = 'content_view' AND content_id IS NOT NULL"
    ).df()
    views = con.execute(
        "SELECT content_id, course_id, count(*) AS views FROM staging.stg_devmentor__events "
        "WHERE event_type = 'content_view' AND content_id IS NOT NULL GROUP BY ALL").df()
    users = pd.DataFrame({"user_id": truth["user_id"].unique()})
    top = views.groupby("content_id")["views"].sum().sort_values(ascending=False).head(10).index
    global_pop = users.merge(pd.DataFrame({"content_id": top, "rank": range(1, len(top) + 1)}), how="cross")
    enrolled = con.execute("SELECT DISTINCT user_id, course_id FROM staging.stg_devmentor__enrolments").df()
    course_pop = enrolled[enrolled["user_id"].isin(users["user_id"])].merge(views, on="course_id")
    course_pop = course_pop.sort_values(["user_id", "views", "content_id"], ascending=[True, False, True])
    course_pop["rank"] = course_pop.groupby("user_id").cumcount() + 1
    result = {
        "learners": learners, "days": days, "held_out_day": last, "held_out_learners": int(len(users)),
        "engine": recommender.evaluate(out.recommendations, truth),
        "popularity_global": recommender.evaluate(global_pop, truth),
        "popularity_in_own_courses": recommender.evaluate(course_pop, truth),
        **timings,
    }
    return result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--learners", type=int, default=2000)
    p.add_argument("--days", type=int, default=21)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-reco-"))
    try:
        r = offline_evaluation(work, args.learners, args.days)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"held-out day {r['held_out_day']}: {r['held_out_learners']:,} learners with views")
    print(f"{'recommender':28} {'hit@10':>7} {'ndcg@10':>8}")
    for name in ("engine", "popularity_global", "popularity_in_own_courses"):
        print(f"{name:28} {r[name]['hit_rate@10']:7.3f} {r[name]['ndcg@10']:8.3f}")
    print(f"prepare {r['prepare_seconds']}s, engine {r['engine_seconds']}s")
    if args.json:
        print(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
