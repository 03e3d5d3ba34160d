"""ML stage: train the decision trees (MLflow, champion gate), then decide every learner with the champions."""


import dagster as dg

from devmentor.settings import Settings
from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse
from devmentor.training.early_warning import (
    SCORES_TABLE,
    score_early_warning,
    train_early_warning,
)
from devmentor.training.mlflow_store import MlflowStore
from devmentor.training.scoring import score_learners
from devmentor.training.trees import train_and_register
from models import early_warning as ew
from models.decision_trees import TREE_SPECS, TreeSpec

FEATURE_MARTS = [dg.AssetKey(["marts", name]) for name in ("fct_learner_features", "fct_learner_weak_topics")]
EARLY_WARNING_MARTS = [dg.AssetKey(["marts", name]) for name in ("fct_enrolment_snapshots", "fct_enrolment_outcomes")]
EARLY_WARNING_KEY = dg.AssetKey(["ml", ew.TREE_ID])
TRAINING_KEYS = [dg.AssetKey(["ml", t]) for t in TREE_SPECS]


@dg.asset(
    key=EARLY_WARNING_KEY,
    group_name="ml",
    kinds={"scikitlearn", "mlflow"},
    deps=EARLY_WARNING_MARTS,
    owners=["team:data-science"],
)
def early_warning(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse],
                  mlflow: dg.ResourceParam[MlflowStore], lake: dg.ResourceParam[Lake]) -> dg.MaterializeResult:
    """Early warning: an interpretable tree (depth ≤ 6) giving P(fail or withdraw) for every enrolment still
    active on its course's day N, trained on past enrolments' real outcomes on the same course day, logged
    and registered in MLflow behind the champion gate (AUC on fixed held-out enrolments); then every active
    enrolment is scored by the champion, with its path in words."""
    training = train_early_warning(warehouse, mlflow, lake, {"dagster_run_id": context.run_id})
    context.log.info(training.summary())
    table, scored = score_early_warning(warehouse, mlflow)
    path = lake.write_ml_table(SCORES_TABLE, table)
    context.log.info(f"scored {scored['scored']:,} active enrolments ({scored.get('flagged', 0):,} at risk)"
                     + (f": {scored['reason']}" if scored.get("reason") else ""))
    metadata = {"trained": training.trained, "reason": training.reason, "scored_enrolments": scored["scored"],
                "flagged_at_risk": scored.get("flagged", 0), "champion_version": str(scored["version"]),
                "path": dg.MetadataValue.path(str(path)), "seconds": round(training.seconds, 2)}
    if training.trained:
        metadata.update({
            "model_version": training.version, "promoted_to_champion": training.promoted,
            "gate_reason": training.gate["reason"], "mlflow_run_id": training.run_id,
            "label_source": "enrolment_outcomes (fail or withdrawn = at risk)",
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in training.metrics.items()},
            "rules": dg.MetadataValue.md(f"```\n{training.rules_text}\n```"),
        })
    return dg.MaterializeResult(metadata=metadata)


def _training_asset(spec: TreeSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=["ml", spec.tree_id],
        group_name="ml",
        kinds={"scikitlearn", "mlflow"},
        deps=FEATURE_MARTS + [dg.AssetKey(["staging", "stg_devmentor__learner_labels"]), EARLY_WARNING_KEY],
        owners=["team:data-science"],
        description=f"Decision tree {spec.tree_id}: {spec.description} Trained, logged and registered in MLflow "
                    "behind the champion gate.",
    )
    def _train(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse],
               mlflow: dg.ResourceParam[MlflowStore], lake: dg.ResourceParam[Lake]) -> dg.MaterializeResult:
        outcome = train_and_register(spec, warehouse, mlflow, lake, {"dagster_run_id": context.run_id})
        context.log.info(outcome.summary())
        trained, registered = outcome.trained, outcome.registered
        return dg.MaterializeResult(metadata={
            "model_version": registered.version,
            "promoted_to_champion": registered.promoted,
            "gate_reason": registered.gate["reason"],
            "mlflow_run_id": registered.run_id,
            "model_uri": registered.model_uri,
            "label_source": trained.label_source,
            "training_rows": trained.training_rows,
            "holdout_rows": trained.holdout_rows,
            "holdout_accuracy": trained.metrics["holdout_accuracy"],
            "holdout_macro_f1": trained.metrics["holdout_macro_f1"],
            "data_fingerprint": trained.data_fingerprint,
            "retraining_log": dg.MetadataValue.json(registered.retraining_log),
            "rules": dg.MetadataValue.md(f"```\n{trained.rules_text}\n```"),
            "seconds": round(outcome.seconds, 2),
        })

    return _train


@dg.asset(
    key=["ml", "learner_decisions_scored"],
    group_name="ml",
    kinds={"scikitlearn", "parquet"},
    deps=TRAINING_KEYS + FEATURE_MARTS + [EARLY_WARNING_KEY],
    owners=["team:data-science"],
)
def learner_decisions_scored(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse],
                             mlflow: dg.ResourceParam[MlflowStore], lake: dg.ResourceParam[Lake],
                             settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
    """Every learner decided by both champion trees with instructor overrides applied: label, path, thresholds, tutor prompt."""
    import pyarrow as pa

    scored = score_learners(warehouse, mlflow, settings.threshold_overrides, lake)
    path = lake.write_ml_table("learner_decisions.parquet", scored.table)
    lake.write_ml_table("threshold_snapshots.parquet", pa.Table.from_pylist(scored.snapshots))
    context.log.info(f"decided {scored.learners:,} learners × {len(scored.versions)} trees: {scored.label_counts}; "
                     f"{scored.not_decided:,} learners whose enrolments have all ended were not decided")
    return dg.MaterializeResult(metadata={
        "rows": scored.table.num_rows,
        "learners": scored.learners,
        "learners_not_decided_enrolment_ended": scored.not_decided,
        "model_versions": dg.MetadataValue.json(scored.versions),
        "label_counts": dg.MetadataValue.json(scored.label_counts),
        "overrides_version": scored.overrides_version,
        "overrides": dg.MetadataValue.json(scored.overrides_applied),
        "path": dg.MetadataValue.path(str(path)),
    })


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[early_warning, *(_training_asset(s) for s in TREE_SPECS.values()),
                                  learner_decisions_scored])
