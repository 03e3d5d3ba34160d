"""ML assets: train the learner-segment tree (MLflow), score every learner with the champion."""


import json
import time
import uuid
from datetime import datetime, timezone

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assets.training.registry import load_champion, log_and_register
from models.segments import choose_labels
from models.trees import explain, feature_matrix, input_attributes, train_tree
from orchestration.resources import LakeResource, MlflowResource, WarehouseResource

TREE_ID = "primary_classification"
FEATURE_MARTS = [dg.AssetKey(["marts", "fct_learner_behavior"]), dg.AssetKey(["marts", "dim_learner"])]

LEARNER_FEATURES_SQL = """
SELECT b.*, d.gpa, d.learner_level, d.analytics_opt_out
FROM marts.fct_learner_behavior AS b
JOIN marts.dim_learner AS d USING (user_id)
ORDER BY b.user_id
"""


def load_learner_features(warehouse: WarehouseResource) -> pd.DataFrame:
    with warehouse.connect() as con:
        return con.execute(LEARNER_FEATURES_SQL).df()


def load_annotations(warehouse: WarehouseResource) -> pd.DataFrame:
    with warehouse.connect() as con:
        return con.execute("SELECT user_id, segment FROM staging.stg_devmentor__learner_labels").df()


@dg.asset(
    key=["ml", TREE_ID],
    group_name="ml",
    kinds={"scikitlearn", "mlflow"},
    deps=FEATURE_MARTS + [dg.AssetKey(["staging", "stg_devmentor__learner_labels"])],
    owners=["team:data-science"],
)
def primary_classification_model(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow: MlflowResource
) -> dg.MaterializeResult:
    """Learner-segment decision tree trained on the behaviour marts, logged and registered in MLflow."""
    started = time.perf_counter()
    frame = load_learner_features(warehouse)
    frame = frame[~frame["analytics_opt_out"].fillna(False).astype(bool)].reset_index(drop=True)
    labels, source = choose_labels(frame, load_annotations(warehouse))
    labelled = labels.notna()
    X = feature_matrix(frame)[labelled]
    y = labels[labelled].astype(str)
    trained = train_tree(TREE_ID, X, y, source)
    ml = mlflow.setup()
    registered = log_and_register(
        ml,
        trained,
        X.loc[trained.holdout_index],
        y.loc[trained.holdout_index],
        tags={"dagster_run_id": context.run_id},
        label_counts=y.value_counts().to_dict(),
    )
    context.log.info(
        f"{TREE_ID} v{registered.version}: held-out accuracy {trained.metrics['holdout_accuracy']:.3f}, "
        f"macro F1 {trained.metrics['holdout_macro_f1']:.3f} on {trained.holdout_rows} learners "
        f"({source}); champion gate: {registered.gate['reason']}"
    )
    return dg.MaterializeResult(
        metadata={
            "model_version": registered.version,
            "promoted_to_champion": registered.promoted,
            "gate_reason": registered.gate["reason"],
            "mlflow_run_id": registered.run_id,
            "model_uri": registered.model_uri,
            "label_source": source,
            "training_rows": trained.training_rows,
            "holdout_rows": trained.holdout_rows,
            "holdout_accuracy": trained.metrics["holdout_accuracy"],
            "holdout_macro_f1": trained.metrics["holdout_macro_f1"],
            "data_fingerprint": trained.data_fingerprint,
            "rules": dg.MetadataValue.md(f"```\n{trained.rules_text}\n```"),
            "seconds": round(time.perf_counter() - started, 2),
        }
    )


@dg.asset(
    key=["ml", "learner_decisions_scored"],
    group_name="ml",
    kinds={"scikitlearn", "parquet"},
    deps=[dg.AssetKey(["ml", TREE_ID])] + FEATURE_MARTS,
    owners=["team:data-science"],
)
def learner_decisions_scored(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow: MlflowResource, lake: LakeResource
) -> dg.MaterializeResult:
    """Every learner scored by the champion segment tree, with the decision path, written to lake/ml."""
    started = time.perf_counter()
    ml = mlflow.setup()
    model, version = load_champion(ml, TREE_ID)
    frame = load_learner_features(warehouse)
    features = list(model.feature_names_in_)
    X = feature_matrix(frame, features)
    decisions = explain(model, features, X)
    now = datetime.now(timezone.utc)
    table = pa.table(
        {
            "user_id": frame["user_id"].astype(str).tolist(),
            "tree_id": [TREE_ID] * len(frame),
            "decision_label": [d.label for d in decisions],
            "confidence": [d.confidence for d in decisions],
            "decision_version": [str(version.version)] * len(frame),
            "model_uri": [f"models:/{TREE_ID}/{version.version}"] * len(frame),
            "mlflow_run_id": [version.run_id] * len(frame),
            "flagged_rules_hit": [
                json.dumps([{"rule_id": r, "rule": w} for r, w in zip(d.rule_ids, d.rules_in_words)]) for d in decisions
            ],
            "input_attributes": input_attributes(X),
            "decided_at": pa.array([now] * len(frame), pa.timestamp("us", tz="UTC")),
            "trace_id": [uuid.uuid4().hex for _ in range(len(frame))],
            "event_source": ["batch_scoring"] * len(frame),
        }
    )
    path = lake.ml_path("learner_decisions.parquet")
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    counts = pd.Series([d.label for d in decisions]).value_counts().to_dict()
    context.log.info(f"scored {len(frame):,} learners with {TREE_ID} v{version.version}: {counts}")
    return dg.MaterializeResult(
        metadata={
            "rows": len(frame),
            "model_version": str(version.version),
            "label_counts": dg.MetadataValue.json(counts),
            "path": dg.MetadataValue.path(str(path)),
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
