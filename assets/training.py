"""ML stage: train the decision trees (MLflow, champion gate), then decide every learner with the champions."""


import dagster as dg

from devmentor.settings import Settings
from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse
from devmentor.training.mlflow_store import MlflowStore
from devmentor.training.scoring import score_learners
from devmentor.training.trees import train_and_register
from models.decision_trees import TREE_SPECS, TreeSpec

FEATURE_MARTS = [dg.AssetKey(["marts", name]) for name in ("fct_learner_behavior", "dim_learner", "fct_chat_features")]
TRAINING_KEYS = [dg.AssetKey(["ml", t]) for t in TREE_SPECS]


def _training_asset(spec: TreeSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=["ml", spec.tree_id],
        group_name="ml",
        kinds={"scikitlearn", "mlflow"},
        deps=FEATURE_MARTS + [dg.AssetKey(["staging", "stg_devmentor__learner_labels"])],
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
    deps=TRAINING_KEYS + FEATURE_MARTS,
    owners=["team:data-science"],
)
def learner_decisions_scored(context: dg.AssetExecutionContext, warehouse: dg.ResourceParam[Warehouse],
                             mlflow: dg.ResourceParam[MlflowStore], lake: dg.ResourceParam[Lake],
                             settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
    """Every learner decided by both champion trees with instructor overrides applied: label, path, thresholds, tutor prompt."""
    import pyarrow as pa

    scored = score_learners(warehouse, mlflow, settings.threshold_overrides)
    path = lake.write_ml_table("learner_decisions.parquet", scored.table)
    lake.write_ml_table("threshold_snapshots.parquet", pa.Table.from_pylist(scored.snapshots))
    context.log.info(f"decided {scored.learners:,} learners × {len(scored.versions)} trees: {scored.label_counts}")
    return dg.MaterializeResult(metadata={
        "rows": scored.table.num_rows,
        "learners": scored.learners,
        "model_versions": dg.MetadataValue.json(scored.versions),
        "label_counts": dg.MetadataValue.json(scored.label_counts),
        "overrides_version": scored.overrides_version,
        "overrides": dg.MetadataValue.json(scored.overrides_applied),
        "path": dg.MetadataValue.path(str(path)),
    })


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[*(_training_asset(s) for s in TREE_SPECS.values()), learner_decisions_scored])
