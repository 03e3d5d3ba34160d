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
        Column("input_attributes", "jsonb"),
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
