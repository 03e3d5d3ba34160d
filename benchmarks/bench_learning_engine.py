"""Time the learning engine on a built warehouse: mastery fit (EM), trace, FSRS, paths, recommendations, quizzes.

    python benchmarks/bench_features.py --learners 100000 --days 14 --keep /tmp/bench100k   # build once
    python benchmarks/bench_learning_engine.py /tmp/bench100k/warehouse.duckdb

Prints per-stage seconds, rows and peak memory, then an incremental run (state kept, no refit).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devmentor.learning.engine import load_attempts, run_engine  # noqa: E402
from devmentor.learning.mastery_model import fit_mastery  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("warehouse")
    args = p.parse_args()
    import duckdb

    con = duckdb.connect(args.warehouse, read_only=True)
    state = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    t = time.perf_counter()
    attempts = load_attempts(con)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    params, ev = fit_mastery(attempts)
    fit_s = time.perf_counter() - t
    del attempts
    t = time.perf_counter()
    out = run_engine(con, params, "bench", state)
    full_s = time.perf_counter() - t
    t = time.perf_counter()
    inc = run_engine(con, params, "bench", state)
    inc_s = time.perf_counter() - t
    result = {
        "learners": int(out.mastery["user_id"].nunique()),
        "attempts_load_seconds": round(load_s, 1),
        "mastery_fit_seconds": round(fit_s, 1),
        "mastery_holdout_auc": round(ev.auc, 4),
        "engine_full_seconds": round(full_s, 1),
        "engine_full_stages": {k: round(v, 1) for k, v in out.timings.items()},
        "engine_incremental_seconds": round(inc_s, 1),
        "engine_incremental_mode": inc.mode,
        "rows": {k: len(v) for k, v in out.tables().items()},
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result, indent=2))
    shutil.rmtree(state)


if __name__ == "__main__":
    main()
