"""The serving contract: tables the serving layer reads in PostgreSQL schema ``serving``.

See docs/serving_contract.md for the columns, indexes and the reads they serve.
"""

from __future__ import annotations

from assets.serving.publish import Column, TableSpec

LEARNER_DECISIONS = TableSpec(
    name="learner_decisions",
    description="Current decision per learner and tree (replaced atomically on every publish).",
    columns=(
        Column("user_id", "text", nullable=False),
        Column("tree_id", "text", nullable=False),
        Column("decision_label", "text", nullable=False),
        Column("confidence", "double precision"),
        Column("decision_version", "text", nullable=False),
        Column("model_uri", "text", nullable=False),
        Column("mlflow_run_id", "text"),
        Column("flagged_rules_hit", "jsonb"),
        Column("thresholds_at_time", "jsonb"),
        Column("input_attributes", "jsonb"),
        Column("llm_prompt_output", "text"),
        Column("decided_at", "timestamptz", nullable=False),
        Column("trace_id", "text", nullable=False),
        Column("event_source", "text", nullable=False),
        Column("publish_id", "text"),
    ),
    primary_key=("user_id", "tree_id"),
    indexes=(("tree_id", "decision_label"),),
)

# Append-only history of every published decision (same columns as learner_decisions).
DECISION_LOG = "decision_log"

# Append-only tables written in the same transaction as the decisions' swap.
SUPPORT_DDL = """
CREATE TABLE IF NOT EXISTS serving.decision_outbox (
    outbox_id bigserial PRIMARY KEY,
    trace_id text NOT NULL,
    user_id text NOT NULL,
    tree_id text NOT NULL,
    topic text NOT NULL,
    payload jsonb NOT NULL,
    publish_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    relayed_at timestamptz
);
CREATE INDEX IF NOT EXISTS decision_outbox_unrelayed ON serving.decision_outbox (outbox_id) WHERE relayed_at IS NULL;
CREATE TABLE IF NOT EXISTS serving.delivery_log (
    trace_id text NOT NULL,
    user_id text NOT NULL,
    decision_tree_id text NOT NULL,
    strategy_label text NOT NULL,
    llm_prompt_summary text,
    delivery_timestamp timestamptz NOT NULL,
    response_status text NOT NULL,
    latency_ms double precision,
    cache_hit boolean,
    event_source text NOT NULL,
    publish_id text NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_log_user ON serving.delivery_log (user_id, delivery_timestamp);
CREATE TABLE IF NOT EXISTS serving.threshold_snapshots (
    snapshot_id text PRIMARY KEY,
    tree_id text NOT NULL,
    decision_version text NOT NULL,
    overrides_version text NOT NULL,
    rules jsonb NOT NULL,
    overrides jsonb NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS serving.retraining_log (
    tree_id text NOT NULL,
    version text NOT NULL,
    trained_at timestamptz NOT NULL,
    changes_made jsonb NOT NULL,
    data_points_used jsonb NOT NULL,
    mlflow_run_id text,
    PRIMARY KEY (tree_id, version)
);
"""
