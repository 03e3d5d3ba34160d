"""Learning stage: the mastery model (MLflow), the learning engine's per-learner outputs, and gamification."""


import dagster as dg
import pyarrow.parquet as pq

from devmentor.learning.engine import run_engine
from devmentor.learning.gamification import run_gamification
from devmentor.learning.mastery_model import NoMasteryModel, fit_and_log, load_params
from devmentor.learning.outputs import engine_version, write_outputs
from devmentor.settings import Settings
from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse
from devmentor.training.mlflow_store import MlflowStore
from models import gamification as gm

# The dbt models each stage reads (dbt_project/models/marts/learning/ and the catalog's staging views).
ATTEMPT_MODELS = [dg.AssetKey(["marts", "fct_learning_attempts"])]
ENGINE_MODELS = ATTEMPT_MODELS + [dg.AssetKey(["marts", n]) for n in (
    "fct_module_visits", "fct_content_views", "fct_learner_format_accuracy")] + [
    dg.AssetKey(["staging", f"stg_devmentor__{n}"])
    for n in ("modules", "questions", "content_items", "enrolments", "profiles", "events")]
GAMIFICATION_MODELS = ATTEMPT_MODELS + [dg.AssetKey(["marts", n]) for n in (
    "dim_learner_clock", "fct_learner_active_days", "fct_module_completions")] + [
    dg.AssetKey(["staging", "stg_devmentor__events"])]


MASTERY_KEY = dg.AssetKey(["ml", "mastery_model"])
MASTERY_SANITY = dg.AssetCheckSpec(
    "holdout_metric_sanity", asset=MASTERY_KEY,
    description="Next-response AUC on held-out learners above 0.5 (better than chance) and below 0.99 (a perfect "
                "score means the answer leaked into the inputs).")


def _mastery_check(auc: float, responses: int) -> dg.AssetCheckResult:
    passed = 0.5 < auc < 0.99  # NaN fails
    return dg.AssetCheckResult(
        check_name=MASTERY_SANITY.name, passed=passed, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"holdout_auc": round(auc, 4), "heldout_responses": responses},
        description=None if passed else f"held-out next-response AUC {auc:.3f} is outside (0.5, 0.99)")


@dg.asset(key=MASTERY_KEY, group_name="ml", kinds={"numpy", "mlflow"}, deps=ATTEMPT_MODELS,
          owners=["team:data-science"], check_specs=[MASTERY_SANITY])
def mastery_model(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse], lake: dg.ResourceParam[Lake],
                  mlflow: dg.ResourceParam[MlflowStore]) -> dg.MaterializeResult:
    """BKT (forgetting, item guess/slip, individualised prior) fitted by EM on every quiz attempt; logged to MLflow."""
    try:
        fitted = fit_and_log(warehouse, lake, mlflow, {"dagster_run_id": context.run_id})
    except NoMasteryModel as exc:
        raise dg.Failure(str(exc)) from None
    p = fitted.params
    context.log.info(f"mastery model {fitted.version}: {len(p.skills)} skills, {len(p.items)} items, EM {p.iterations} "
                     f"iterations; next-response AUC {fitted.holdout_auc:.3f} on {fitted.heldout_responses:,} attempts "
                     "of held-out learners")
    return dg.MaterializeResult(metadata={
        "version": fitted.version, "mlflow_run_id": fitted.run_id, "holdout_auc": round(fitted.holdout_auc, 4),
        "attempts": fitted.attempts, "skills": len(p.skills), "items": len(p.items), "ability_weight": p.ability_weight,
    }, check_results=[_mastery_check(fitted.holdout_auc, fitted.heldout_responses)])


@dg.asset(key=["ml", "learning_engine"], group_name="learning", kinds={"numpy", "pandas", "parquet"},
          deps=[dg.AssetKey(["ml", "mastery_model"])] + ENGINE_MODELS, owners=["team:data-science"])
def learning_engine(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse], lake: dg.ResourceParam[Lake],
                    settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
    """Mastery, review queues (FSRS), learning paths, recommendations and next quizzes per learner, into the lake."""
    try:
        params, params_version = load_params(lake)
    except NoMasteryModel as exc:
        raise dg.Failure(str(exc)) from None
    with warehouse.connect() as con:
        out = run_engine(
            con, params, params_version, lake.ml_path("mastery/state"),
            review_daily_limit=settings.review_daily_limit, quiz_size=settings.quiz_size,
            quiz_no_repeat_days=settings.quiz_no_repeat_days, recommendations=settings.recommendations,
            progress=context.log.info, as_of=settings.as_of,
        )
    counts = write_outputs(lake, "learning", out.tables(), lambda name: engine_version(name, params_version))
    reasons = out.recommendations["reason"].value_counts().to_dict()
    context.log.info(f"learning engine ({out.mode} mastery): {counts}; recommendation reasons {reasons}")
    return dg.MaterializeResult(metadata={
        **{f"rows_{k}": v for k, v in counts.items()},
        "mastery_mode": out.mode,
        "mastery_model_version": params_version,
        "mastered_share": round(float(out.mastery["mastered"].mean()), 4) if len(out.mastery) else 0.0,
        "recommendation_reasons": dg.MetadataValue.json(reasons),
        "timings_seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in out.timings.items()}),
    })


@dg.asset(key=["ml", "gamification"], group_name="learning", kinds={"pandas", "parquet"},
          deps=[dg.AssetKey(["ml", "learning_engine"])] + GAMIFICATION_MODELS, owners=["team:data-science"])
def gamification(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse],
                 lake: dg.ResourceParam[Lake], settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
    """XP (reward log with anti-farming caps), levels, badges (ledger: once each), streaks, challenges, leaderboards."""
    mastery_rows = pq.read_table(lake.ml_path("learning/mastery.parquet"),
                                 columns=["user_id", "skill_id", "mastered"]).to_pandas()
    with warehouse.connect() as con:
        out = run_gamification(con, mastery_rows, lake.ml_path("gamification/badge_ledger.parquet"),
                               as_of=settings.as_of)
    counts = write_outputs(lake, "gamification", out.tables(), lambda name: gm.ALGORITHM)
    xp_by_rule = out.reward_log.groupby("rule")["xp"].sum().to_dict()
    context.log.info(f"gamification: {counts}; XP by rule {xp_by_rule}")
    return dg.MaterializeResult(metadata={
        **{f"rows_{k}": v for k, v in counts.items()},
        "xp_by_rule": dg.MetadataValue.json({k: int(v) for k, v in xp_by_rule.items()}),
        "xp_rules": dg.MetadataValue.json(gm.XPRules().to_dict()),
    })


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[mastery_model, learning_engine, gamification])
