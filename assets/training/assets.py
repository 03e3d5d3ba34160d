"""ML assets: train both decision trees (MLflow), then score every learner with the champions.

Scoring applies the instructors' threshold overrides to each champion's rule table,
so a decision, its path (flagged_rules_hit) and the thresholds it used
(thresholds_at_time) always agree.
"""

import hashlib
from pathlib import Path
import json
import time
import uuid
from datetime import datetime, timezone

import dagster as dg
import pandas as pd
import pyarrow as pa

from assets.training.registry import load_champion, log_and_register
from models.decision_trees import TREE_SPECS, TreeSpec
from models.drift import reference_profile
from models.features import feature_matrix
from models.prompts import render_prompt
from models.thresholds import apply_overrides, load_overrides
from models.trees import (
    decide_leaves,
    describe_rule,
    input_attributes,
    leaf_confidence,
    leaf_labels,
    rule_table,
    train_tree,
)
from assets.training.features_sql import LEARNER_FEATURES_SQL
from orchestration.resources import DecisionPolicyResource, LakeResource, MlflowResource, WarehouseResource

FEATURE_MARTS = [
    dg.AssetKey(["marts", "fct_learner_behavior"]),
    dg.AssetKey(["marts", "dim_learner"]),
    dg.AssetKey(["marts", "fct_chat_features"]),
]

WEAK_TOPICS_SQL = """
SELECT user_id, list(topic_id ORDER BY topic_score, topic_id)[1:3] AS weak_topics
FROM (
    SELECT user_id, topic_id, avg(score) AS topic_score
    FROM intermediate.int_quiz_attempts_enriched
    WHERE topic_id IS NOT NULL
    GROUP BY user_id, topic_id
    HAVING count(*) >= 3 AND avg(score) < 0.7
)
GROUP BY user_id
"""


def load_learner_features(warehouse: WarehouseResource) -> pd.DataFrame:
    with warehouse.connect() as con:
        return con.execute(LEARNER_FEATURES_SQL).df()


def load_annotations(warehouse: WarehouseResource) -> pd.DataFrame:
    with warehouse.connect() as con:
        return con.execute("SELECT user_id, segment FROM staging.stg_devmentor__learner_labels").df()


def _make_training_asset(spec: TreeSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=["ml", spec.tree_id],
        group_name="ml",
        kinds={"scikitlearn", "mlflow"},
        deps=FEATURE_MARTS + [dg.AssetKey(["staging", "stg_devmentor__learner_labels"])],
        owners=["team:data-science"],
        description=f"Decision tree {spec.tree_id}: {spec.description} Trained, logged and registered in MLflow behind the champion gate.",
    )
    def _train(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow: MlflowResource, lake: LakeResource
    ) -> dg.MaterializeResult:
        started = time.perf_counter()
        frame = load_learner_features(warehouse)
        # Learners who opted out of analytics are never used for training.
        frame = frame[~frame["analytics_opt_out"].fillna(False).astype(bool)].reset_index(drop=True)
        labels, source = spec.labels(frame, load_annotations(warehouse))
        labelled = labels.notna()
        X = feature_matrix(frame, list(spec.features))[labelled]
        y = labels[labelled].astype(str)
        trained = train_tree(spec.tree_id, X, y, source, max_depth=spec.max_depth, min_samples_leaf=spec.min_samples_leaf)
        ml = mlflow.setup()
        registered = log_and_register(
            ml,
            trained,
            X.loc[trained.holdout_index],
            y.loc[trained.holdout_index],
            tags={"dagster_run_id": context.run_id},
            label_counts=y.value_counts().to_dict(),
        )
        if registered.promoted:
            # The champion's training distribution: the drift sensor compares today's features with it.
            reference = {
                "tree_id": spec.tree_id,
                "version": registered.version,
                "trained_at": datetime.now(timezone.utc).isoformat(),
                "events_at_training": int(pd.to_numeric(frame["event_count"], errors="coerce").fillna(0).sum()),
                "learners_at_training": int(len(frame)),
                "features": reference_profile(X),
            }
            write_reference(lake, spec.tree_id, reference)
            ml.MlflowClient().log_dict(registered.run_id, reference, "feature_reference.json")
        context.log.info(
            f"{spec.tree_id} v{registered.version}: held-out accuracy {trained.metrics['holdout_accuracy']:.3f}, "
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
                "retraining_log": dg.MetadataValue.json(registered.retraining_log),
                "rules": dg.MetadataValue.md(f"```\n{trained.rules_text}\n```"),
                "seconds": round(time.perf_counter() - started, 2),
            }
        )

    return _train


training_assets = [_make_training_asset(spec) for spec in TREE_SPECS.values()]
TRAINING_KEYS = [dg.AssetKey(["ml", t]) for t in TREE_SPECS]


def reference_path(lake: LakeResource, tree_id: str) -> Path:
    return lake.ml_path(f"reference/{tree_id}.json")


def write_reference(lake: LakeResource, tree_id: str, reference: dict) -> None:
    path = reference_path(lake, tree_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(reference))
    tmp.replace(path)


def _snapshot_id(tree_id: str, version: str, rules: pd.DataFrame, overrides_version: str) -> str:
    digest = hashlib.sha256(rules[["rule_id", "threshold"]].to_json().encode()).hexdigest()[:10]
    return f"{tree_id}:v{version}:overrides-{overrides_version}:{digest}"


@dg.asset(
    key=["ml", "learner_decisions_scored"],
    group_name="ml",
    kinds={"scikitlearn", "parquet"},
    deps=[dg.AssetKey(["ml", t]) for t in TREE_SPECS] + FEATURE_MARTS,
    owners=["team:data-science"],
)
def learner_decisions_scored(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    lake: LakeResource,
    decision_policy: DecisionPolicyResource,
) -> dg.MaterializeResult:
    """Every learner decided by both champion trees with instructor overrides applied: label, path, thresholds, tutor prompt."""
    started = time.perf_counter()
    ml = mlflow.setup()
    overrides = load_overrides(Path(decision_policy.threshold_overrides))
    frame = load_learner_features(warehouse)
    with warehouse.connect() as con:
        weak = con.execute(WEAK_TOPICS_SQL).df()
    frame = frame.merge(weak, on="user_id", how="left")
    decided_at = datetime.now(timezone.utc)
    per_tree: dict[str, dict] = {}
    snapshots = []
    override_report: dict[str, list] = {}
    for spec in TREE_SPECS.values():
        model, version = load_champion(ml, spec.tree_id)
        features = list(model.feature_names_in_)
        X = feature_matrix(frame, features)
        trained_rules = rule_table(model, features)
        rules, applied = apply_overrides(trained_rules, overrides.for_tree(spec.tree_id))
        override_report[spec.tree_id] = applied
        snapshot_id = _snapshot_id(spec.tree_id, str(version.version), rules, overrides.version)
        snapshots.append(
            {
                "snapshot_id": snapshot_id,
                "tree_id": spec.tree_id,
                "decision_version": str(version.version),
                "overrides_version": overrides.version,
                "rules": rules.to_json(orient="records"),
                "overrides": json.dumps(applied),
                "created_at": decided_at,
            }
        )
        by_rule = rules.set_index("rule_id").to_dict("index")
        leaf_of, leaf_paths = decide_leaves(rules, X)
        labels, confidence = leaf_labels(model), leaf_confidence(model)
        # Everything about a decision except the learner's inputs is the same for all learners in a leaf:
        # built once per leaf, then looked up per row.
        steps = {
            leaf: [
                {
                    "rule_id": r,
                    "rule": describe_rule(by_rule[r]["feature"], by_rule[r]["operator"], by_rule[r]["threshold"]),
                    "feature": by_rule[r]["feature"],
                    "operator": by_rule[r]["operator"],
                    "threshold": by_rule[r]["threshold"],
                    "trained_threshold": by_rule[r]["trained_threshold"],
                    "overridden": bool(by_rule[r]["overridden"]),
                }
                for r in path
            ]
            for leaf, path in leaf_paths.items()
        }
        path_json = {leaf: json.dumps(p) for leaf, p in steps.items()}
        thresholds_json = {
            leaf: json.dumps({"snapshot_id": snapshot_id, "overrides_version": overrides.version,
                              "rules_on_path": {st["rule_id"]: st["threshold"] for st in p}})
            for leaf, p in steps.items()
        }
        leaves = leaf_of.tolist()
        per_tree[spec.tree_id] = {
            "version": str(version.version),
            "run_id": version.run_id,
            "snapshot_id": snapshot_id,
            "labels": [labels[leaf] for leaf in leaves],
            "confidence": [confidence[leaf] for leaf in leaves],
            "reasons": [[st["rule"] for st in steps[leaf]] for leaf in leaves],
            "paths_json": [path_json[leaf] for leaf in leaves],
            "thresholds_json": [thresholds_json[leaf] for leaf in leaves],
            "inputs": input_attributes(X),
        }

    seg, itv = per_tree["primary_classification"], per_tree["intervention_strategy"]
    learners = frame.to_dict("records")
    prompts = [
        render_prompt(
            learner,
            segment=seg["labels"][i],
            segment_version=seg["version"],
            segment_reasons=seg["reasons"][i],
            intervention=itv["labels"][i],
            intervention_version=itv["version"],
            intervention_reasons=itv["reasons"][i],
        )
        for i, learner in enumerate(learners)
    ]
    rows = []
    for tree_id, t in per_tree.items():
        n = len(frame)
        rows.append(
            pa.table(
                {
                    "user_id": frame["user_id"].astype(str).tolist(),
                    "tree_id": [tree_id] * n,
                    "decision_label": t["labels"],
                    "confidence": t["confidence"],
                    "decision_version": [t["version"]] * n,
                    "model_uri": [f"models:/{tree_id}/{t['version']}"] * n,
                    "mlflow_run_id": [t["run_id"]] * n,
                    "flagged_rules_hit": t["paths_json"],
                    "thresholds_at_time": t["thresholds_json"],
                    "input_attributes": t["inputs"],
                    "llm_prompt_output": prompts,
                    "decided_at": pa.array([decided_at] * n, pa.timestamp("us", tz="UTC")),
                    "trace_id": [uuid.uuid4().hex for _ in range(n)],
                    "event_source": ["batch_scoring"] * n,
                }
            )
        )
    table = pa.concat_tables(rows)
    path = lake.write_ml_table("learner_decisions.parquet", table)
    lake.write_ml_table("threshold_snapshots.parquet", pa.Table.from_pylist(snapshots))
    counts = {tree_id: pd.Series(t["labels"]).value_counts().to_dict() for tree_id, t in per_tree.items()}
    context.log.info(f"decided {len(frame):,} learners × {len(per_tree)} trees: {counts}")
    return dg.MaterializeResult(
        metadata={
            "rows": table.num_rows,
            "learners": len(frame),
            "model_versions": dg.MetadataValue.json({k: v["version"] for k, v in per_tree.items()}),
            "label_counts": dg.MetadataValue.json(counts),
            "overrides_version": overrides.version,
            "overrides": dg.MetadataValue.json(override_report),
            "path": dg.MetadataValue.path(str(path)),
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
