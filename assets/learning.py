"""Learning stage: the mastery model (MLflow), the learning engine's per-learner outputs, and gamification."""


from types import SimpleNamespace

import dagster as dg
import pyarrow.parquet as pq

from assets.shards import sharded_asset
from devmentor.learning.engine import EngineOutputs, combine_engine, run_engine
from devmentor.learning.gamification import GamificationOutputs, combine_gamification, run_gamification
from devmentor.learning.mastery_model import NoMasteryModel, fit_and_log, load_params
from devmentor.learning.outputs import engine_version, write_outputs
from devmentor.settings import Settings
from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse
from devmentor.training.mlflow_store import MlflowStore
from models import gamification as gm

# The dbt marts each stage reads (dbt_project/models/marts/learning/, catalog/ and learner/): never staging.
ATTEMPT_MODELS = [dg.AssetKey(["marts", "fct_learning_attempts"])]
ENGINE_MODELS = ATTEMPT_MODELS + [dg.AssetKey(["marts", n]) for n in (
    "fct_module_visits", "fct_content_views", "fct_learner_format_accuracy", "dim_modules", "dim_questions",
    "dim_content_items", "fct_learner_enrolments", "dim_learner", "dim_as_of")]
GAMIFICATION_MODELS = ATTEMPT_MODELS + [dg.AssetKey(["marts", n]) for n in (
    "dim_learner_clock", "fct_learner_active_days", "fct_module_completions", "dim_as_of")]


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


ENGINE_KEY, GAMIFICATION_KEY = dg.AssetKey(["ml", "learning_engine"]), dg.AssetKey(["ml", "gamification"])
ENGINE_DEPS = [MASTERY_KEY] + ENGINE_MODELS
GAMIFICATION_DEPS = [ENGINE_KEY] + GAMIFICATION_MODELS
ENGINE_ASSET = dict(group_name="learning", kinds={"numpy", "pandas", "parquet"}, owners=["team:data-science"],
                    description="Mastery, review queues (FSRS), learning paths, recommendations and next quizzes per "
                                "learner, into the lake.")
GAMIFICATION_ASSET = dict(group_name="learning", kinds={"pandas", "parquet"}, owners=["team:data-science"],
                          description="XP (reward log with anti-farming caps), levels, badges (ledger: once each), "
                                      "streaks, challenges, leaderboards.")
LEDGER = "gamification/badge_ledger.parquet"


def _engine_part(context, resources, shard: int = 0, shards: int = 1, started=None) -> EngineOutputs:
    """The learning engine for one learner shard (all learners for one shard)."""
    settings, lake = resources.settings, resources.lake
    try:
        params, params_version = load_params(lake)
    except NoMasteryModel as exc:
        raise dg.Failure(str(exc)) from None
    with resources.warehouse.connect() as con:
        return run_engine(
            con, params, params_version, lake.ml_path("mastery/state"),
            review_daily_limit=settings.review_daily_limit, quiz_size=settings.quiz_size,
            quiz_no_repeat_days=settings.quiz_no_repeat_days, recommendations=settings.recommendations,
            progress=context.log.info, as_of=settings.as_of, shard=shard, shards=shards)


def _engine_publish(context, resources, out: EngineOutputs) -> dict:
    """Write the engine's tables to the lake; the asset's metadata."""
    _, params_version = load_params(resources.lake)
    counts = write_outputs(resources.lake, "learning", out.tables(), lambda name: engine_version(name, params_version))
    reasons = out.recommendations["reason"].value_counts().to_dict()
    seconds = {k: round(v, 1) for k, v in out.timings.items()}
    context.log.info(f"learning engine ({out.mode} mastery): {counts}; recommendation reasons {reasons}; seconds by part {seconds}")
    return {
        **{f"rows_{k}": v for k, v in counts.items()},
        **{f"seconds_{k}": v for k, v in seconds.items()},
        "mastery_mode": out.mode,
        "mastery_model_version": params_version,
        "mastered_share": round(float(out.mastery["mastered"].mean()), 4) if len(out.mastery) else 0.0,
        "recommendation_reasons": dg.MetadataValue.json(reasons),
        "timings_seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in out.timings.items()}),
    }


@dg.asset(key=ENGINE_KEY, deps=ENGINE_DEPS, **ENGINE_ASSET)
def learning_engine(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse], lake: dg.ResourceParam[Lake],
                    settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
    resources = SimpleNamespace(warehouse=warehouse, lake=lake, settings=settings)
    return dg.MaterializeResult(metadata=_engine_publish(context, resources, _engine_part(context, resources)))


def _gamification_part(context, resources, shard: int = 0, shards: int = 1, started=None) -> GamificationOutputs:
    """Gamification for one learner shard (all learners for one shard)."""
    lake = resources.lake
    mastery_rows = pq.read_table(lake.ml_path("learning/mastery.parquet"),
                                 columns=["user_id", "skill_id", "mastered"]).to_pandas()
    with resources.warehouse.connect() as con:
        return run_gamification(con, mastery_rows, lake.ml_path(LEDGER), as_of=resources.settings.as_of,
                                shard=shard, shards=shards)


def _gamification_publish(context, resources, out: GamificationOutputs) -> dict:
    counts = write_outputs(resources.lake, "gamification", out.tables(), lambda name: gm.ALGORITHM)
    xp_by_rule = out.reward_log.groupby("rule")["xp"].sum().to_dict()
    context.log.info(f"gamification: {counts}; XP by rule {xp_by_rule}")
    return {
        **{f"rows_{k}": v for k, v in counts.items()},
        "xp_by_rule": dg.MetadataValue.json({k: int(v) for k, v in xp_by_rule.items()}),
        "xp_rules": dg.MetadataValue.json(gm.XPRules().to_dict()),
    }


@dg.asset(key=GAMIFICATION_KEY, deps=GAMIFICATION_DEPS, **GAMIFICATION_ASSET)
def gamification(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse],
                 lake: dg.ResourceParam[Lake], settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
    resources = SimpleNamespace(warehouse=warehouse, lake=lake, settings=settings)
    return dg.MaterializeResult(metadata=_gamification_publish(context, resources, _gamification_part(context, resources)))


def sharded_learning_assets(shards: int) -> list[dg.AssetsDefinition]:
    """The learning engine and gamification as one step per learner shard (assets/shards.py)."""
    needs = {"warehouse", "lake", "settings"}
    engine = sharded_asset(
        ENGINE_KEY, ENGINE_DEPS, shards, "engine", run_shard=_engine_part, resources=needs,
        combine=lambda context, resources, parts: _engine_publish(context, resources, combine_engine(parts)),
        **ENGINE_ASSET)
    game = sharded_asset(
        GAMIFICATION_KEY, GAMIFICATION_DEPS, shards, "gamification", run_shard=_gamification_part, resources=needs,
        combine=lambda context, resources, parts: _gamification_publish(
            context, resources, combine_gamification(parts, resources.lake.ml_path(LEDGER))),
        **GAMIFICATION_ASSET)
    return [engine, game]


def definitions(settings: Settings) -> dg.Definitions:
    per_learner = [learning_engine, gamification] if settings.shards == 1 else sharded_learning_assets(settings.shards)
    return dg.Definitions(assets=[mastery_model, *per_learner])
