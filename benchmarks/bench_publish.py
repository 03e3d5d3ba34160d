"""Publish throughput of decisions (100,000 learners × 2 trees by default) and read latency of the current-decision query.

    python benchmarks/bench_publish.py [--learners 100000] [--reads 20000]

Uses DEVMENTOR_TEST_DATABASE_URL (or DEVMENTOR_DATABASE_URL) if set, else a throwaway embedded PostgreSQL.
The read is the serving contract's indexed lookup (docs/serving_contract.md), over TCP-less Unix socket for the
embedded server, one query per request on one connection, prepared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
import pyarrow as pa  # noqa: E402

from devmentor.serving.decisions import support_statements  # noqa: E402
from devmentor.serving.publish import publish  # noqa: E402
from devmentor.serving.tables import DECISION_LOG, LEARNER_DECISIONS  # noqa: E402

CURRENT_DECISION_SQL = (
    "SELECT decision_label, confidence, decision_version, flagged_rules_hit, llm_prompt_output, decided_at, trace_id "
    "FROM serving.learner_decisions WHERE user_id = %s AND tree_id = %s"
)


def decisions(n_learners: int) -> pa.Table:
    rng = np.random.default_rng(0)
    now = datetime.now(timezone.utc)
    parts = []
    for tree, labels in (("primary_classification", ["Struggling Novice", "Fast Tracker", "Steady Progressor", "Disengaging", "Format Mismatch"]),
                         ("intervention_strategy", ["Remedial Review", "Switch Format", "Raise Challenge", "Re-engagement Nudge", "Escalate to Tutor"])):
        n = n_learners
        path = json.dumps([{"rule_id": "R0L", "rule": "share of quiz answers correct at most 0.55", "threshold": 0.55}])
        parts.append(pa.table({
            "user_id": [f"u{i:06d}" for i in range(n)], "tree_id": [tree] * n,
            "decision_label": list(np.array(labels)[rng.integers(0, 5, n)]), "confidence": rng.random(n).round(4),
            "decision_version": ["3"] * n, "model_uri": [f"models:/{tree}/3"] * n, "mlflow_run_id": ["0" * 32] * n,
            "flagged_rules_hit": [path] * n, "thresholds_at_time": ['{"snapshot_id": "s", "rules_on_path": {"R0L": 0.55}}'] * n,
            "input_attributes": ['{"correct_rate": 0.5, "hint_rate": 0.1}'] * n,
            "llm_prompt_output": ["You are DevMentor, a patient programming tutor. " * 8] * n,
            "decided_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
            "trace_id": [uuid.uuid4().hex for _ in range(n)], "event_source": ["batch_scoring"] * n,
        }))
    return pa.concat_tables(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=20_000)
    args = parser.parse_args()
    url = os.environ.get("DEVMENTOR_TEST_DATABASE_URL") or os.environ.get("DEVMENTOR_DATABASE_URL")
    server = None
    if not url:
        import pgserver

        tmp = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        server = pgserver.get_server(str(tmp / "data"), cleanup_mode="delete")
        url = server.get_uri("postgres")
    table = decisions(args.learners)
    with psycopg.connect(url, autocommit=True) as conn:
        runs = []
        for _ in range(2):  # the second publish replaces a live table (the usual case)
            started = time.perf_counter()
            result = publish(conn, LEARNER_DECISIONS, table, append_to=DECISION_LOG,
                             in_swap=support_statements([], [], started))
            runs.append(result)
    with psycopg.connect(url, autocommit=True) as conn:
        users = [f"u{i:06d}" for i in np.random.default_rng(1).integers(0, args.learners, args.reads)]
        latencies = []
        for u in users[:500]:  # warm-up
            conn.execute(CURRENT_DECISION_SQL, (u, "intervention_strategy"), prepare=True).fetchone()
        for u in users:
            t = time.perf_counter()
            conn.execute(CURRENT_DECISION_SQL, (u, "intervention_strategy"), prepare=True).fetchone()
            latencies.append((time.perf_counter() - t) * 1000)
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + CURRENT_DECISION_SQL.replace("%s", "'u000001'", 1).replace("%s", "'intervention_strategy'")).fetchall())
    q = np.percentile(latencies, [50, 99])
    last = runs[-1]
    print(json.dumps({
        "rows": last.rows,
        "publish_seconds": round(last.seconds, 2),
        "copy_seconds": round(last.copy_seconds, 2),
        "copy_rows_per_second": round(last.rows_per_second),
        "end_to_end_rows_per_second": round(last.rows / last.seconds),
        "first_publish_seconds": round(runs[0].seconds, 2),
        "read_p50_ms": round(float(q[0]), 3),
        "read_p99_ms": round(float(q[1]), 3),
        "read_mean_ms": round(statistics.fmean(latencies), 3),
        "reads": len(latencies),
        "plan": plan,
    }, indent=2))
    if server is not None:
        server.cleanup()


if __name__ == "__main__":
    main()
