"""Learning-engine assets: the mastery model (MLflow), the engine's per-learner outputs, and their publication."""

import json
import time

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from assets.learning.engine import FIT_SAMPLE_LEARNERS, fit_mastery, load_attempts, run_engine
from assets.serving.publish import publish_many
from assets.serving.tables import GAMIFICATION_TABLES, LEARNING_TABLES
from models import learning_path, mastery, quiz, recommender, spaced_repetition
from orchestration.postgres import redact
from orchestration.resources import (
    PUBLISH_RETRY,
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
    learners = int(attempts["user_id"].nunique())
    ml = mlflow.setup(MASTERY_EXPERIMENT)
    with ml.start_run(run_name="bkt", tags={"dagster_run_id": context.run_id, "algorithm": mastery.ALGORITHM}) as run:
        ml.log_params({"algorithm": mastery.ALGORITHM, "skills": len(params.skills), "items": len(params.items),
                       "ability_weight": params.ability_weight, "em_iterations": params.iterations,
                       "attempts": len(attempts), "learners": learners,
                       "fit_sample_learners": FIT_SAMPLE_LEARNERS})
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


def _write_outputs(lake: LakeResource, folder: str, frames: dict, version_of) -> dict[str, int]:
    """Each frame to lake/ml/<folder>/<name>.parquet with its algorithm version; returns row counts."""
    counts = {}
    for name, frame in frames.items():
        table = pa.Table.from_pandas(frame.assign(algorithm_version=version_of(name)), preserve_index=False)
        lake.write_ml_table(f"{folder}/{name}.parquet", table)
        counts[name] = table.num_rows
    return counts


def _publish_group(context, lake: LakeResource, serving_db: ServingDatabaseResource, folder: str, specs) -> dg.MaterializeResult:
    """Publish lake/ml/<folder>/<table>.parquet for every spec, all swapped in one transaction."""
    tables = [(spec, pq.read_table(lake.ml_path(f"{folder}/{spec.name}.parquet"))) for spec in specs]
    with serving_db.connect() as conn:
        results = publish_many(conn, tables, run_id=context.run_id, connect=serving_db.connect)
    rows = {r.table: r.rows for r in results}
    copy_seconds = sum(r.copy_seconds for r in results)
    copy_rate = sum(rows.values()) / copy_seconds if copy_seconds > 0 else 0.0
    context.log.info(f"published {rows} in {results[0].seconds:.2f}s ({copy_rate:,.0f} rows/s COPY over "
                     "two connections), one swap transaction")
    return dg.MaterializeResult(metadata={
        **{f"rows_{k}": v for k, v in rows.items()},
        "publish_id": results[0].publish_id,
        "seconds": round(results[0].seconds, 3),
        "copy_rows_per_second": round(copy_rate),
        "database": redact(serving_db.database_url) if serving_db.database_url else "embedded (pgserver)",
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
    counts = _write_outputs(lake, "learning", out.tables(), lambda name: (
        f"{ENGINE_VERSIONS[name]}|{params_version}" if name != "review_queue" else ENGINE_VERSIONS[name]))
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
    retry_policy=PUBLISH_RETRY,
    kinds={"postgres"},
    deps=[dg.AssetKey(["ml", "learning_engine"])],
    owners=["team:data-platform"],
)
def serving_learning_engine(context: dg.AssetExecutionContext, lake: LakeResource,
                            serving_db: ServingDatabaseResource) -> dg.MaterializeResult:
    """serving.mastery, review_queue, learning_path, recommendations and next_quiz, swapped in together in one transaction."""
    return _publish_group(context, lake, serving_db, "learning", LEARNING_TABLES)




@dg.asset(
    key=["ml", "gamification"],
    group_name="learning",
    kinds={"pandas", "parquet"},
    deps=[dg.AssetKey(["ml", "learning_engine"])] + ATTEMPT_MODELS + CATALOG,
    owners=["team:data-science"],
)
def gamification(context: dg.AssetExecutionContext, warehouse: WarehouseResource, lake: LakeResource) -> dg.MaterializeResult:
    """XP (reward log with anti-farming caps), levels, badges (ledger: once each), streaks, challenges, leaderboards."""
    from assets.learning.gamification import run_gamification
    from models import gamification as gm

    started = time.perf_counter()
    mastery_rows = pq.read_table(lake.ml_path("learning/mastery.parquet"), columns=["user_id", "skill_id", "mastered"]).to_pandas()
    with warehouse.connect() as con:
        out = run_gamification(con, mastery_rows, lake.ml_path("gamification/badge_ledger.parquet"))
    counts = _write_outputs(lake, "gamification", out.tables(), lambda name: gm.ALGORITHM)
    xp_by_rule = out.reward_log.groupby("rule")["xp"].sum().to_dict()
    context.log.info(f"gamification: {counts}; XP by rule {xp_by_rule}")
    return dg.MaterializeResult(metadata={
        **{f"rows_{k}": v for k, v in counts.items()},
        "xp_by_rule": dg.MetadataValue.json({k: int(v) for k, v in xp_by_rule.items()}),
        "xp_rules": dg.MetadataValue.json(gm.XPRules().to_dict()),
        "seconds": round(time.perf_counter() - started, 2),
    })


@dg.asset(
    key=["serving", "gamification"],
    group_name="serving",
    retry_policy=PUBLISH_RETRY,
    kinds={"postgres"},
    deps=[dg.AssetKey(["ml", "gamification"])],
    owners=["team:data-platform"],
)
def serving_gamification(context: dg.AssetExecutionContext, lake: LakeResource,
                         serving_db: ServingDatabaseResource) -> dg.MaterializeResult:
    """serving.learner_xp, badges, streaks, leaderboards, reward_log and weekly_challenges, swapped in together."""
    return _publish_group(context, lake, serving_db, "gamification", GAMIFICATION_TABLES)


@dg.asset(
    key=["analytics", "skill_matrix"],
    group_name="analytics",
    kinds={"duckdb", "parquet"},
    deps=[dg.AssetKey(["ml", "learning_engine"])],
    owners=["team:data-science"],
)
def skill_matrix(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Cohort mastery per course × skill (mean P(known), share mastered, weakest first); learner × skill is serving.mastery."""
    import duckdb

    src = lake.ml_path("learning/mastery.parquet")
    out = lake.lake_path / "analytics" / "skill_matrix.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT course_id, skill_id, count(*) AS learners, round(avg(p_known), 4) AS mean_p_known,
               round(avg(mastered::int), 4) AS mastered_share, round(quantile_cont(p_known, 0.25), 4) AS p25_p_known,
               sum(attempts) AS attempts,
               row_number() OVER (PARTITION BY course_id ORDER BY avg(p_known), skill_id) AS weakness_rank
        FROM read_parquet('{src}') GROUP BY course_id, skill_id ORDER BY course_id, weakness_rank
    ) TO '{out}' (FORMAT parquet)""")
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    preview = con.execute(f"SELECT * FROM read_parquet('{out}') WHERE weakness_rank <= 3").df()
    return dg.MaterializeResult(metadata={"rows": rows, "path": dg.MetadataValue.path(str(out)),
                                          "weakest_skills": dg.MetadataValue.md(preview.to_markdown(index=False))})


@dg.asset(
    key=["analytics", "predicted_outcomes"],
    group_name="analytics",
    kinds={"duckdb", "parquet"},
    deps=[dg.AssetKey(["ml", "learner_decisions_scored"])],
    owners=["team:data-science"],
)
def predicted_outcomes(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Distribution of the trees' decisions (segments, interventions) with mean confidence."""
    import duckdb

    src = lake.ml_path("learner_decisions.parquet")
    out = lake.lake_path / "analytics" / "predicted_outcomes.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT tree_id, decision_label, decision_version, count(*) AS learners,
               round(count(*) / sum(count(*)) OVER (PARTITION BY tree_id), 4) AS share,
               round(avg(confidence), 4) AS mean_confidence
        FROM read_parquet('{src}') GROUP BY tree_id, decision_label, decision_version ORDER BY tree_id, learners DESC
    ) TO '{out}' (FORMAT parquet)""")
    frame = con.execute(f"SELECT * FROM read_parquet('{out}')").df()
    return dg.MaterializeResult(metadata={"rows": len(frame), "path": dg.MetadataValue.path(str(out)),
                                          "distribution": dg.MetadataValue.md(frame.to_markdown(index=False))})


learning_assets = [mastery_model, learning_engine, serving_learning_engine, gamification, serving_gamification,
                   skill_matrix, predicted_outcomes]
