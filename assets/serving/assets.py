"""Serving assets: publish decisions to PostgreSQL atomically."""


import time

import dagster as dg
import pyarrow.parquet as pq

from assets.serving.publish import publish
from assets.serving.tables import DECISION_LOG, LEARNER_DECISIONS
from orchestration.postgres import redact
from orchestration.resources import LakeResource, ServingDatabaseResource


@dg.asset(
    key=["serving", "learner_decisions"],
    group_name="serving",
    kinds={"postgres"},
    deps=[dg.AssetKey(["ml", "learner_decisions_scored"])],
    owners=["team:data-platform"],
)
def serving_learner_decisions(
    context: dg.AssetExecutionContext, lake: LakeResource, serving_db: ServingDatabaseResource
) -> dg.MaterializeResult:
    """Current decision per learner and tree in serving.learner_decisions, swapped in atomically; history in serving.decision_log."""
    started = time.perf_counter()
    table = pq.read_table(lake.ml_path("learner_decisions.parquet"))
    # Connection failures are retried with backoff inside connect(); other errors fail the step at once.
    with serving_db.connect() as conn:
        result = publish(conn, LEARNER_DECISIONS, table, run_id=context.run_id, append_to=DECISION_LOG)
    context.log.info(
        f"published {result.rows:,} rows to serving.learner_decisions in {result.seconds:.2f}s "
        f"({result.rows_per_second:,.0f} rows/s COPY)"
    )
    return dg.MaterializeResult(
        metadata={
            "rows": result.rows,
            "publish_id": result.publish_id,
            "seconds": round(result.seconds, 3),
            "copy_rows_per_second": round(result.rows_per_second),
            "database": redact(serving_db.database_url) if serving_db.database_url else "embedded (pgserver)",
            "wall_seconds": round(time.perf_counter() - started, 3),
        }
    )
