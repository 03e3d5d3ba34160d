"""Training the Decision Tree Manager's trees: features from the marts, labels, fit, MLflow, champion gate.

Plain functions (no Dagster): the training assets call ``train_and_register`` and report what it returns.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse
from devmentor.training.features import load_annotations, load_decision_frame
from devmentor.training.mlflow_store import MlflowStore
from devmentor.training.registry import RegisteredTree, log_and_register
from models.decision_trees import PRIMARY, TreeSpec
from models.drift import reference_profile
from models.features import feature_matrix
from models.trees import TrainedTree, train_tree


@dataclass
class TrainingOutcome:
    trained: TrainedTree
    registered: RegisteredTree
    seconds: float

    def summary(self) -> str:
        t, r = self.trained, self.registered
        return (f"{t.tree_id} v{r.version}: held-out accuracy {t.metrics['holdout_accuracy']:.3f}, "
                f"macro F1 {t.metrics['holdout_macro_f1']:.3f} on {t.holdout_rows} learners "
                f"({t.label_source}); champion gate: {r.gate['reason']}")


def reference_path(lake: Lake, tree_id: str) -> Path:
    return lake.ml_path(f"reference/{tree_id}.json")


def write_reference(lake: Lake, tree_id: str, reference: dict) -> None:
    path = reference_path(lake, tree_id)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(reference))
    tmp.replace(path)


def read_references(lake: Lake, tree_ids) -> dict[str, dict]:
    """The champions' training distributions (what the drift sensor compares today's features with)."""
    out = {}
    for tree_id in tree_ids:
        path = reference_path(lake, tree_id)
        if path.exists():
            out[tree_id] = json.loads(path.read_text())
    return out


def train_and_register(spec: TreeSpec, warehouse: Warehouse, mlflow: MlflowStore, lake: Lake,
                       run_tags: dict[str, str]) -> TrainingOutcome:
    started = time.perf_counter()
    frame = load_decision_frame(warehouse, lake)
    # Learners who opted out of analytics are never used for training; nor are learners not decided.
    frame = frame[~frame["analytics_opt_out"].fillna(False).astype(bool) & frame["decide"]].reset_index(drop=True)
    annotations = load_annotations(warehouse)
    outcome = outcome_segment_training(lake, warehouse) if spec.tree_id == PRIMARY.tree_id else None
    labels, source = spec.labels(frame, annotations)
    if outcome is not None and source != "instructor_annotations":
        X, y, source, keys = outcome
    else:
        labelled = labels.notna()
        X = feature_matrix(frame, list(spec.features))[labelled]
        y = labels[labelled].astype(str)
        keys = frame.loc[labelled, "user_id"].astype(str)
    trained = train_tree(spec.tree_id, X, y, source, max_depth=spec.max_depth, min_samples_leaf=spec.min_samples_leaf,
                         holdout_keys=keys)
    ml = mlflow.setup()
    registered = log_and_register(ml, trained, X.loc[trained.holdout_index], y.loc[trained.holdout_index],
                                  tags=run_tags, label_counts=y.value_counts().to_dict())
    if registered.promoted:
        reference = {
            "tree_id": spec.tree_id,
            "version": registered.version,
            "trained_at": datetime.now(timezone.utc).isoformat(),
            "events_at_training": int(pd.to_numeric(frame["event_count"], errors="coerce").fillna(0).sum()),
            "label_source": source,
            "learners_at_training": int(len(frame)),
            "features": reference_profile(X),
        }
        write_reference(lake, spec.tree_id, reference)
        ml.MlflowClient().log_dict(registered.run_id, reference, "feature_reference.json")
    return TrainingOutcome(trained, registered, time.perf_counter() - started)


def outcome_segment_training(lake: Lake, warehouse: Warehouse) -> tuple[pd.DataFrame, pd.Series, str, pd.Series] | None:
    """Past enrolments on the scored course days, labelled by the segment their real outcome shows
    (models/segments.OUTCOME_SEGMENT), with their early-warning features and out-of-fold risk; None
    when there are no past outcomes to learn from."""
    from devmentor.training.early_warning import TRAINING_RISK_TABLE, load_snapshots
    from models.early_warning import FEATURES
    from models.segments import (
        EARLY_WARNING_PREFIX,
        OUTCOME_SEGMENT,
        OUTCOME_SEGMENT_FEATURES,
    )

    path = lake.ml_path(TRAINING_RISK_TABLE)
    if not path.exists():
        return None
    risk = pd.read_parquet(path)
    snaps = load_snapshots(warehouse, ("train",))
    frame = snaps.merge(risk, on=["user_id", "course_id", "snapshot_day"], how="inner")
    labels = frame["final_result"].map(OUTCOME_SEGMENT)
    frame, labels = frame[labels.notna()], labels[labels.notna()]
    if len(frame) < 50 or labels.nunique() < 2:
        return None
    X = frame.rename(columns={f: EARLY_WARNING_PREFIX + f for f in FEATURES})
    keys = (frame["user_id"].astype(str) + "\x1f" + frame["course_id"].astype(str)).reset_index(drop=True)
    X = feature_matrix(X, OUTCOME_SEGMENT_FEATURES).reset_index(drop=True)
    return X, labels.astype(str).reset_index(drop=True), "enrolment_outcomes", keys
