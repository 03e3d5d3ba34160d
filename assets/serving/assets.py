"""Serving assets: the Decision Tree Facilitator's delivery of decisions to PostgreSQL, atomically."""

import json
import time
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from assets.serving.metrics import write_metrics
from assets.serving.publish import publish
from assets.serving.relay import relay_outbox
from assets.serving.tables import DECISION_LOG, LEARNER_DECISIONS, SUPPORT_DDL
from orchestration.postgres import redact
from orchestration.resources import PUBLISH_RETRY, LakeResource, MlflowResource, ServingDatabaseResource

PROMPT_SUMMARY_CHARS = 160


def _support_statements(snapshots: list[dict], retraining: list[dict], publish_started: float):
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
        latency_ms = (time.perf_counter() - publish_started) * 1000
        conn.execute(
            f"""INSERT INTO serving.delivery_log (trace_id, user_id, decision_tree_id, strategy_label, llm_prompt_summary,
                       delivery_timestamp, response_status, latency_ms, cache_hit, event_source, publish_id)
                SELECT trace_id, user_id, tree_id, decision_label, left(llm_prompt_output, {PROMPT_SUMMARY_CHARS}),
                       now(), 'published', %s, NULL, event_source, publish_id
                FROM {build}""",
            (latency_ms,),
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


def _retraining_entries(mlflow: MlflowResource, tree_versions: dict[str, str]) -> list[dict]:
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


@dg.asset(
    key=["serving", "learner_decisions"],
    group_name="serving",
    retry_policy=PUBLISH_RETRY,
    kinds={"postgres"},
    deps=[dg.AssetKey(["ml", "learner_decisions_scored"])],
    owners=["team:data-platform"],
)
def serving_learner_decisions(
    context: dg.AssetExecutionContext, lake: LakeResource, serving_db: ServingDatabaseResource, mlflow: MlflowResource
) -> dg.MaterializeResult:
    """Current decision per learner and tree, swapped in atomically with the decision log, outbox and delivery log."""
    started = time.perf_counter()
    table = pq.read_table(lake.ml_path("learner_decisions.parquet"))
    snapshots = pq.read_table(lake.ml_path("threshold_snapshots.parquet")).to_pylist()
    versions = {s["tree_id"]: s["decision_version"] for s in snapshots}
    retraining = _retraining_entries(mlflow, versions)
    metrics_dir = Path(serving_db.metrics_dir)
    # Connection failures are retried with backoff inside connect(); other errors fail the step at once.
    try:
        with serving_db.connect() as conn:
            result = publish(
                conn,
                LEARNER_DECISIONS,
                table,
                run_id=context.run_id,
                append_to=DECISION_LOG,
                in_swap=_support_statements(snapshots, retraining, started),
                connect=serving_db.connect,
            )
            relay = relay_outbox(conn, serving_db.nats_url) if serving_db.nats_url else None
            pending = conn.execute("SELECT count(*) FROM serving.decision_outbox WHERE relayed_at IS NULL").fetchone()[0]
    except Exception:
        write_metrics(metrics_dir, {}, {("devmentor_publish_failures_total", ""): 1})
        raise
    per_tree = {}
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
        if relay.error:
            context.log.warning(
                f"NATS relay failed ({relay.error}); {pending:,} decisions wait in serving.decision_outbox "
                "and will be sent by the next run."
            )
    metrics_file = write_metrics(metrics_dir, gauges, increments)
    context.log.info(
        f"published {result.rows:,} decisions to serving.learner_decisions in {result.seconds:.2f}s "
        f"({result.rows_per_second:,.0f} rows/s COPY), with decision_log, outbox and delivery_log rows"
    )
    return dg.MaterializeResult(
        metadata={
            "rows": result.rows,
            "publish_id": result.publish_id,
            "seconds": round(result.seconds, 3),
            "copy_rows_per_second": round(result.rows_per_second),
            "model_versions": dg.MetadataValue.json(versions),
            "outbox_pending": pending,
            "nats_relayed": relay.relayed if relay else 0,
            "metrics_file": dg.MetadataValue.path(str(metrics_file)),
            "database": redact(serving_db.database_url) if serving_db.database_url else "embedded (pgserver)",
            "wall_seconds": round(time.perf_counter() - started, 3),
        }
    )
