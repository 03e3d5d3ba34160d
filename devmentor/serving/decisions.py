"""Publishing the Decision Tree Facilitator's decisions: learner_decisions swapped in with its decision log,
outbox, delivery log, threshold snapshots and retraining log in one transaction; then the NATS relay and metrics."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from devmentor.serving.metrics import write_metrics
from devmentor.serving.publish import PublishResult, publish
from devmentor.serving.relay import RelayResult, relay_outbox
from devmentor.serving.tables import DECISION_LOG, LEARNER_DECISIONS, SUPPORT_DDL
from devmentor.storage.lake import Lake
from devmentor.storage.serving import ServingDatabase
from devmentor.training.mlflow_store import MlflowStore

PROMPT_SUMMARY_CHARS = 160


def support_statements(snapshots: list[dict], retraining: list[dict], publish_started: float):
    """Statements that commit in the same transaction as the decisions' swap."""

    def run(conn, build: str) -> None:
        conn.execute(SUPPORT_DDL)
        conn.execute(
            f"""INSERT INTO serving.decision_outbox (trace_id, user_id, tree_id, topic, payload, publish_id)
                SELECT trace_id, user_id, tree_id, 'devmentor.decisions.' || tree_id,
                       jsonb_build_object('trace_id', trace_id, 'user_id', user_id, 'tree_id', tree_id,
                                          'decision_label', decision_label, 'confidence', confidence,
                                          'decision_version', decision_version, 'decided_at', decided_at,
                                          'event_source', event_source),
                       publish_id
                FROM {build}"""
        )
        # Nothing is delivered yet: the row says 'queued' (in the outbox) at the time it was queued; the relay
        # marks it 'delivered' with the decision-to-delivery latency when NATS acknowledges it.
        conn.execute(
            f"""INSERT INTO serving.delivery_log (trace_id, user_id, decision_tree_id, strategy_label, llm_prompt_summary,
                       delivery_timestamp, response_status, latency_ms, cache_hit, event_source, publish_id)
                SELECT trace_id, user_id, tree_id, decision_label, left(llm_prompt_output, {PROMPT_SUMMARY_CHARS}),
                       now(), 'queued', NULL, NULL, event_source, publish_id
                FROM {build}"""
        )
        for snap in snapshots:
            conn.execute(
                """INSERT INTO serving.threshold_snapshots (snapshot_id, tree_id, decision_version, overrides_version, rules, overrides, created_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (snapshot_id) DO NOTHING""",
                (snap["snapshot_id"], snap["tree_id"], snap["decision_version"], snap["overrides_version"],
                 snap["rules"], snap["overrides"], snap["created_at"]),
            )
        for entry in retraining:
            conn.execute(
                """INSERT INTO serving.retraining_log (tree_id, version, trained_at, changes_made, data_points_used, mlflow_run_id)
                   VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tree_id, version) DO NOTHING""",
                (entry["tree_id"], entry["version"], entry["date"], json.dumps(entry["changes_made"]),
                 json.dumps(entry["data_points_used"]), entry.get("mlflow_run_id")),
            )

    return run


def retraining_entries(mlflow: MlflowStore, tree_versions: dict[str, str]) -> list[dict]:
    """The retraining log entries of the model versions that made these decisions (from MLflow)."""
    ml = mlflow.setup()
    client = ml.MlflowClient()
    out = []
    for tree_id, version in tree_versions.items():
        run_id = client.get_model_version(tree_id, version).run_id
        try:
            out.append(ml.artifacts.load_dict(f"runs:/{run_id}/retraining_log.json"))
        except Exception:  # versions trained before the retraining log existed
            continue
    return out


@dataclass
class DecisionsPublished:
    result: PublishResult
    versions: dict[str, str]
    per_tree: dict[str, int]
    pending: int
    relay: RelayResult | None
    metrics_file: object


def publish_decisions(lake: Lake, serving_db: ServingDatabase, mlflow: MlflowStore, run_id: str | None) -> DecisionsPublished:
    """Publish lake/ml/learner_decisions.parquet with its histories, relay the outbox, write the metrics."""
    from devmentor.serving.publish import publish_lock

    started = time.perf_counter()
    # Connection failures are retried with backoff inside connect(); other errors fail the step at once.
    try:
        # the decisions are read under the tables' publish lock, which `devmentor forget` holds while it works
        with serving_db.connect() as conn:
            with publish_lock(conn, [LEARNER_DECISIONS.name, DECISION_LOG]):
                table: pa.Table = pq.read_table(lake.ml_path("learner_decisions.parquet"))
                snapshots = pq.read_table(lake.ml_path("threshold_snapshots.parquet")).to_pylist()
                versions = {s["tree_id"]: s["decision_version"] for s in snapshots}
                retraining = retraining_entries(mlflow, versions)
                result = publish(conn, LEARNER_DECISIONS, table, run_id=run_id, append_to=DECISION_LOG,
                                 in_swap=support_statements(snapshots, retraining, started),
                                 connect=serving_db.connect)
            relay = relay_outbox(conn, serving_db.nats_url) if serving_db.nats_url else None
            pending = conn.execute("SELECT count(*) FROM serving.decision_outbox WHERE relayed_at IS NULL").fetchone()[0]
    except Exception:
        write_metrics(serving_db.metrics_dir, {}, {("devmentor_publish_failures_total", ""): 1})
        raise
    per_tree: dict[str, int] = {}
    for tree_id in table.column("tree_id").to_pylist():
        per_tree[tree_id] = per_tree.get(tree_id, 0) + 1
    gauges = {("devmentor_publish_rows", f'{{tree_id="{t}"}}'): n for t, n in per_tree.items()}
    gauges.update({
        ("devmentor_publish_duration_seconds", ""): result.seconds,
        ("devmentor_publish_copy_rows_per_second", ""): result.rows_per_second,
        ("devmentor_last_publish_timestamp_seconds", ""): time.time(),
        ("devmentor_outbox_pending", ""): pending,
    })
    increments = {("devmentor_decisions_published_total", f'{{tree_id="{t}"}}'): n for t, n in per_tree.items()}
    if relay is not None:
        increments[("devmentor_outbox_relayed_total", "")] = relay.relayed
    metrics_file = write_metrics(serving_db.metrics_dir, gauges, increments)
    return DecisionsPublished(result, versions, per_tree, pending, relay, metrics_file)


def publish_group(lake: Lake, serving_db: ServingDatabase, folder: str, specs, run_id: str | None):
    """Publish lake/ml/<folder>/<table>.parquet for every spec, all in one transaction: a table whose last
    publish left its fingerprint gets only its changed rows (see publish_many)."""
    from devmentor.serving.delta import Fingerprints
    from devmentor.serving.publish import publish_lock, publish_many

    # The files are read under the tables' publish lock, which `devmentor forget` holds while it works: a publish
    # reads the lake after a forget rewrote it, or finishes (fingerprints saved) before the forget starts.
    with serving_db.connect() as conn, publish_lock(conn, [spec.name for spec in specs]):
        current = (lake.lake_path / "ml" / folder).resolve()  # one set, even if a newer one lands meanwhile
        tables = [(spec, pq.read_table(current / f"{spec.name}.parquet")) for spec in specs]
        return publish_many(conn, tables, run_id=run_id, connect=serving_db.connect,
                            fingerprints=Fingerprints(lake.published_fingerprints))
