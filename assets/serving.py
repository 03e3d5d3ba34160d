"""Serving stage: every publication to PostgreSQL, each swapped in atomically (build beside, swap in one transaction)."""


import dagster as dg

from devmentor.serving.catalog import publish_courses
from devmentor.serving.decisions import publish_decisions, publish_group
from devmentor.serving.tables import (
    EARLY_WARNING_TABLES,
    GAMIFICATION_TABLES,
    LEARNING_TABLES,
)
from devmentor.settings import Settings
from devmentor.storage.lake import Lake
from devmentor.storage.serving import ServingDatabase
from devmentor.storage.warehouse import Warehouse
from devmentor.training.mlflow_store import MlflowStore

# Publishing steps retry transient failures (a database restart, a lock timeout): each retry starts a fresh
# build-beside-and-swap, so a retried publish is as atomic as the first try.
PUBLISH_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)


@dg.asset(key=["serving", "learner_decisions"], group_name="serving", retry_policy=PUBLISH_RETRY, kinds={"postgres"},
          deps=[dg.AssetKey(["ml", "learner_decisions_scored"])], owners=["team:data-platform"])
def serving_learner_decisions(context: dg.AssetExecutionContext, lake: dg.ResourceParam[Lake],
                              serving_db: dg.ResourceParam[ServingDatabase],
                              mlflow: dg.ResourceParam[MlflowStore]) -> dg.MaterializeResult:
    """Current decision per learner and tree, swapped in atomically with the decision log, outbox and delivery log."""
    out = publish_decisions(lake, serving_db, mlflow, context.run_id)
    if out.relay is not None and out.relay.error:
        context.log.warning(f"NATS relay failed ({out.relay.error}); {out.pending:,} decisions wait in "
                            "serving.decision_outbox and will be sent by the next run.")
    r = out.result
    context.log.info(f"published {r.rows:,} decisions to serving.learner_decisions in {r.seconds:.2f}s "
                     f"({r.rows_per_second:,.0f} rows/s COPY), with decision_log, outbox and delivery_log rows")
    return dg.MaterializeResult(metadata={
        "rows": r.rows,
        "publish_id": r.publish_id,
        "seconds": round(r.seconds, 3),
        "copy_rows_per_second": round(r.rows_per_second),
        "model_versions": dg.MetadataValue.json(out.versions),
        "outbox_pending": out.pending,
        "nats_relayed": out.relay.relayed if out.relay else 0,
        "metrics_file": dg.MetadataValue.path(str(out.metrics_file)),
        "database": serving_db.describe(),
    })


def _group_result(context, serving_db: ServingDatabase, results) -> dg.MaterializeResult:
    rows = {r.table: r.rows for r in results}
    copy_seconds = sum(r.copy_seconds for r in results)
    copy_rate = sum(r.rows_written for r in results) / copy_seconds if copy_seconds > 0 else 0.0
    changes = {r.table: {"mode": r.mode, "rows_written": r.rows_written, "rows_deleted": r.rows_deleted}
               for r in results}
    written = ", ".join(f"{r.table} {r.mode} {r.rows_written:,} written / {r.rows_deleted:,} deleted" for r in results)
    context.log.info(f"published {rows} in {results[0].seconds:.2f}s ({copy_rate:,.0f} rows/s COPY over "
                     f"two connections), one transaction: {written}")
    return dg.MaterializeResult(metadata={
        **{f"rows_{k}": v for k, v in rows.items()},
        "changes": dg.MetadataValue.json(changes),
        "publish_id": results[0].publish_id,
        "seconds": round(results[0].seconds, 3),
        "copy_rows_per_second": round(copy_rate),
        "database": serving_db.describe(),
    })


# The groups of tables published together: serving asset name -> (upstream lake asset, tables, what readers get).
PUBLISHED_GROUPS = {
    "learning_engine": ("learning_engine", "learning", LEARNING_TABLES,
                        "serving.mastery, review_queue, learning_path, recommendations and next_quiz, "
                        "swapped in together in one transaction."),
    "gamification": ("gamification", "gamification", GAMIFICATION_TABLES,
                     "serving.learner_xp, badges, streaks, leaderboards, reward_log and weekly_challenges, "
                     "swapped in together."),
    "early_warning": ("early_warning", "early_warning", EARLY_WARNING_TABLES,
                      "serving.early_warning: P(at risk) per active enrolment with its path in words, "
                      "model version and as-of day."),
}


def _group_asset(name: str, upstream: str, group: str, tables, description: str) -> dg.AssetsDefinition:
    @dg.asset(key=["serving", name], group_name="serving", retry_policy=PUBLISH_RETRY,
              kinds={"postgres"}, deps=[dg.AssetKey(["ml", upstream])], owners=["team:data-platform"],
              description=description)
    def _publish(context: dg.AssetExecutionContext, lake: dg.ResourceParam[Lake],
                 serving_db: dg.ResourceParam[ServingDatabase]) -> dg.MaterializeResult:
        return _group_result(context, serving_db, publish_group(lake, serving_db, group, tables, context.run_id))
    return _publish


GROUP_ASSETS = [_group_asset(name, *spec) for name, spec in PUBLISHED_GROUPS.items()]


CATALOG_MODELS = [dg.AssetKey(["marts", n]) for n in ("dim_courses", "dim_modules", "fct_learner_enrolments")]


@dg.asset(key=["serving", "courses"], group_name="serving", retry_policy=PUBLISH_RETRY, kinds={"postgres"},
          deps=CATALOG_MODELS, owners=["team:data-platform"])
def serving_courses(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse],
                    serving_db: dg.ResourceParam[ServingDatabase]) -> dg.MaterializeResult:
    """serving.courses: the course catalog (title, subject, calendar, modules, enrolments) the read API lists."""
    r = publish_courses(warehouse, serving_db, context.run_id)
    context.log.info(f"published {r.rows:,} courses to serving.courses in {r.seconds:.2f}s")
    return dg.MaterializeResult(metadata={"rows": r.rows, "publish_id": r.publish_id, "seconds": round(r.seconds, 3),
                                          "database": serving_db.describe()})


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[serving_learner_decisions, *GROUP_ASSETS, serving_courses])
