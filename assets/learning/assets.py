"""Learning-engine assets: the mastery model (MLflow), the engine's per-learner outputs, and their publication."""

import json
import time

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from assets.learning.engine import fit_mastery, load_attempts, run_engine
from assets.serving.publish import publish_many
from assets.serving.tables import LEARNING_TABLES
from models import learning_path, mastery, quiz, recommender, spaced_repetition
from orchestration.postgres import redact
from orchestration.resources import (
    LakeResource,
    LearningPolicyResource,
    MlflowResource,
    ServingDatabaseResource,
    WarehouseResource,
)

ATTEMPT_MODELS = [
    dg.AssetKey(["intermediate", "int_quiz_attempts_enriched"]),
    dg.AssetKey(["intermediate", "int_format_performance"]),
]
CATALOG = [dg.AssetKey(["staging", f"stg_devmentor__{n}"]) for n in ("modules", "questions", "content_items", "enrolments", "profiles", "events")]
MASTERY_EXPERIMENT = "mastery_bkt"


def params_path(lake: LakeResource):
    return lake.ml_path("mastery/params.json")


def load_params(lake: LakeResource) -> tuple[mastery.BKTParams, str]:
    path = params_path(lake)
    if not path.exists():
        raise dg.Failure(
            f"no mastery model at {path}: materialize ml/mastery_model first "
            "(`devmentor materialize --select 'key:ml/mastery_model'`, or run the full pipeline)."
        )
    d = json.loads(path.read_text())
    return mastery.BKTParams.from_dict(d["params"]), d["version"]


@dg.asset(
    key=["ml", "mastery_model"],
    group_name="ml",
    kinds={"numpy", "mlflow"},
    deps=ATTEMPT_MODELS,
    owners=["team:data-science"],
)
def mastery_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource, lake: LakeResource,
                  mlflow: MlflowResource) -> dg.MaterializeResult:
    """BKT (forgetting, item guess/slip, individualised prior) fitted by EM on every quiz attempt; logged to MLflow."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        attempts = load_attempts(con)
    if attempts.empty:
        raise dg.Failure("no quiz attempts in intermediate.int_quiz_attempts_enriched: nothing to fit mastery on")
    params, evaluation = fit_mastery(attempts)
    ml = mlflow.setup(MASTERY_EXPERIMENT)
    with ml.start_run(run_name="bkt", tags={"dagster_run_id": context.run_id, "algorithm": mastery.ALGORITHM}) as run:
        ml.log_params({"algorithm": mastery.ALGORITHM, "skills": len(params.skills), "items": len(params.items),
                       "ability_weight": params.ability_weight, "em_iterations": params.iterations,
                       "attempts": len(attempts)})
        ml.log_metrics({"holdout_auc": evaluation.auc, "train_log_likelihood": params.log_likelihood})
        ml.log_dict(params.to_dict(), "bkt_params.json")
    version = f"{mastery.ALGORITHM}:{run.info.run_id[:12]}"
    path = params_path(lake)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": version, "mlflow_run_id": run.info.run_id, "params": params.to_dict(),
                               "holdout_auc": evaluation.auc}))
    tmp.replace(path)
    context.log.info(
        f"mastery model {version}: {len(params.skills)} skills, {len(params.items)} items, EM {params.iterations} iterations; "
        f"next-response AUC {evaluation.auc:.3f} on {evaluation.responses:,} attempts of held-out learners"
    )
    return dg.MaterializeResult(metadata={
        "version": version, "mlflow_run_id": run.info.run_id, "holdout_auc": round(evaluation.auc, 4),
        "attempts": len(attempts), "skills": len(params.skills), "items": len(params.items),
        "ability_weight": params.ability_weight, "seconds": round(time.perf_counter() - started, 2),
    })


ENGINE_VERSIONS = {
    "mastery": mastery.ALGORITHM,
    "review_queue": spaced_repetition.ALGORITHM,
    "learning_path": learning_path.ALGORITHM,
    "recommendations": recommender.ALGORITHM,
    "next_quiz": quiz.ALGORITHM,
}


@dg.asset(
    key=["ml", "learning_engine"],
    group_name="learning",
    kinds={"numpy", "pandas", "parquet"},
    deps=[dg.AssetKey(["ml", "mastery_model"])] + ATTEMPT_MODELS + CATALOG,
    owners=["team:data-science"],
)
def learning_engine(context: dg.AssetExecutionContext, warehouse: WarehouseResource, lake: LakeResource,
                    learning_policy: LearningPolicyResource) -> dg.MaterializeResult:
    """Mastery, review queues (FSRS), learning paths, recommendations and next quizzes per learner, into the lake."""
    started = time.perf_counter()
    params, params_version = load_params(lake)
    with warehouse.connect() as con:
        out = run_engine(
            con, params, params_version, lake.ml_path("mastery/state"),
            review_daily_limit=learning_policy.review_daily_limit, quiz_size=learning_policy.quiz_size,
            quiz_no_repeat_days=learning_policy.quiz_no_repeat_days, recommendations=learning_policy.recommendations,
            progress=context.log.info,
        )
    counts = {}
    for name, frame in out.tables().items():
        version = f"{ENGINE_VERSIONS[name]}|{params_version}" if name != "review_queue" else ENGINE_VERSIONS[name]
        table = pa.Table.from_pandas(frame.assign(algorithm_version=version), preserve_index=False)
        path = lake.ml_path(f"learning/{name}.parquet")
        pq.write_table(table, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
        counts[name] = table.num_rows
    reasons = out.recommendations["reason"].value_counts().to_dict()
    context.log.info(f"learning engine ({out.mode} mastery): {counts}; recommendation reasons {reasons}")
    return dg.MaterializeResult(metadata={
        **{f"rows_{k}": v for k, v in counts.items()},
        "mastery_mode": out.mode,
        "mastery_model_version": params_version,
        "mastered_share": round(float(out.mastery["mastered"].mean()), 4) if len(out.mastery) else 0.0,
        "recommendation_reasons": dg.MetadataValue.json(reasons),
        "timings_seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in out.timings.items()}),
        "seconds": round(time.perf_counter() - started, 2),
    })


@dg.asset(
    key=["serving", "learning_engine"],
    group_name="serving",
    kinds={"postgres"},
    deps=[dg.AssetKey(["ml", "learning_engine"])],
    owners=["team:data-platform"],
)
def serving_learning_engine(context: dg.AssetExecutionContext, lake: LakeResource,
                            serving_db: ServingDatabaseResource) -> dg.MaterializeResult:
    """serving.mastery, review_queue, learning_path, recommendations and next_quiz, swapped in together in one transaction."""
    tables = [(spec, pq.read_table(lake.ml_path(f"learning/{spec.name}.parquet"))) for spec in LEARNING_TABLES]
    with serving_db.connect() as conn:
        results = publish_many(conn, tables, run_id=context.run_id)
    rows = {r.table: r.rows for r in results}
    copy_rate = sum(r.rows for r in results) / max(sum(r.rows / max(r.rows_per_second, 1e-9) for r in results), 1e-9)
    context.log.info(f"published {rows} in {results[0].seconds:.2f}s ({copy_rate:,.0f} rows/s COPY), one swap transaction")
    return dg.MaterializeResult(metadata={
        **{f"rows_{k}": v for k, v in rows.items()},
        "publish_id": results[0].publish_id,
        "seconds": round(results[0].seconds, 3),
        "copy_rows_per_second": round(copy_rate),
        "database": redact(serving_db.database_url) if serving_db.database_url else "embedded (pgserver)",
    })


learning_assets = [mastery_model, learning_engine, serving_learning_engine]
