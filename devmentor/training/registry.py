"""MLflow boundary: log a trained tree, register it, and apply the champion gate.

Champion gate (documented in docs/models.md): a new version becomes ``champion`` when
there is no champion yet, or when, evaluated on the *same* held-out rows, its macro F1
and accuracy are each no more than ``GATE_TOLERANCE`` below the current champion's.
Otherwise the version is registered but the champion alias stays where it is.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from models.trees import TrainedTree, rule_table

CHAMPION = "champion"
GATE_TOLERANCE = 0.005
SKOPS_TRUSTED = ["sklearn.tree._tree.Tree"]
# What loading a logged tree needs. Named, not inferred: MLflow's inference loads the model in a fresh Python
# process (9-12 s per model, three models a run) and lists whatever the calling process had imported (pytest,
# polars, rich in a test run).
MODEL_PACKAGES = ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")


def model_requirements() -> list[str]:
    """MODEL_PACKAGES pinned to the versions installed here (the versions the tree was trained and saved with)."""
    from importlib.metadata import version

    return [f"{package}=={version(package)}" for package in MODEL_PACKAGES]


@dataclass
class RegisteredTree:
    run_id: str
    version: str
    model_uri: str
    promoted: bool
    gate: dict
    retraining_log: dict


def retraining_log_entry(mlflow, trained: TrainedTree, champion_version: str | None, promoted: bool, reason: str) -> dict:
    """{date, changes made, data points used} for this retraining, compared with the champion it may replace."""
    changes: dict = {"gate": reason, "promoted": promoted, "previous_champion": champion_version}
    if champion_version:
        client = mlflow.MlflowClient()
        old = client.get_run(client.get_model_version(trained.tree_id, champion_version).run_id)
        old_params = old.data.params
        changes["params_changed"] = {
            k: {"from": old_params.get(k), "to": str(v)}
            for k, v in trained.params.items()
            if old_params.get(k) != str(v)
        }
        old_features = set(json.loads(old_params.get("features", "[]")))
        changes["features_added"] = sorted(set(trained.features) - old_features)
        changes["features_removed"] = sorted(old_features - set(trained.features))
        changes["data_changed"] = old.data.tags.get("data_fingerprint") != trained.data_fingerprint
        old_f1 = old.data.metrics.get("holdout_macro_f1")
        changes["holdout_macro_f1"] = {"from": old_f1, "to": trained.metrics["holdout_macro_f1"]}
    return {
        "tree_id": trained.tree_id,
        "date": datetime.now(timezone.utc).isoformat(),
        "changes_made": changes,
        "data_points_used": {"training": trained.training_rows, "holdout": trained.holdout_rows},
        "label_source": trained.label_source,
        "data_fingerprint": trained.data_fingerprint,
    }


def champion_version(mlflow, tree_id: str):
    """The champion's model version, or None when the model or its alias does not exist yet. Any other
    registry error propagates: the gate must fail closed, never read an outage as "no champion yet"."""
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.MlflowClient().get_model_version_by_alias(tree_id, CHAMPION)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def champion_scores(mlflow, tree_id: str, X_holdout: pd.DataFrame, y_holdout: pd.Series) -> dict | None:
    """The current champion's metrics on the given held-out rows, or None when there is no champion."""
    mv = champion_version(mlflow, tree_id)
    if mv is None:
        return None
    model = mlflow.sklearn.load_model(f"models:/{tree_id}@{CHAMPION}")
    features = list(getattr(model, "feature_names_in_", X_holdout.columns))
    missing = [f for f in features if f not in X_holdout.columns]
    if missing:
        return {"version": str(mv.version), "incompatible": True, "missing_features": missing}
    pred = model.predict(X_holdout[features])
    return {
        "version": str(mv.version),
        "holdout_accuracy": float(accuracy_score(y_holdout, pred)),
        "holdout_macro_f1": float(f1_score(y_holdout, pred, average="macro", zero_division=0)),
    }


def gate_decision(new: dict, champion: dict | None, tolerance: float = GATE_TOLERANCE) -> tuple[bool, str]:
    """Whether the new model may become champion, and why."""
    if champion is None:
        return True, "no champion yet"
    if champion.get("incompatible"):
        return True, f"champion v{champion['version']} uses features that no longer exist"
    worse = [
        m
        for m in ("holdout_macro_f1", "holdout_accuracy")
        if new[m] < champion[m] - tolerance
    ]
    if worse:
        detail = ", ".join(f"{m} {new[m]:.4f} < champion {champion[m]:.4f}" for m in worse)
        return False, f"worse than champion v{champion['version']} on the same held-out rows: {detail}"
    return True, f"not worse than champion v{champion['version']} (macro F1 {new['holdout_macro_f1']:.4f} vs {champion['holdout_macro_f1']:.4f})"


def log_and_register(
    mlflow,
    trained: TrainedTree,
    X_holdout: pd.DataFrame,
    y_holdout: pd.Series,
    tags: dict[str, str] | None = None,
    label_counts: dict | None = None,
) -> RegisteredTree:
    """One MLflow run: params, held-out metrics, data fingerprint, rules, tree picture, model; then the gate."""
    champion = champion_scores(mlflow, trained.tree_id, X_holdout, y_holdout)
    promote, reason = gate_decision(trained.metrics, champion)
    rules = rule_table(trained.model, trained.features)
    with mlflow.start_run(run_name=trained.tree_id) as run:
        mlflow.log_params({**trained.params, "n_features": len(trained.features)})
        mlflow.log_param("features", json.dumps(trained.features)[:6000])
        mlflow.log_metrics({**trained.metrics, "training_rows": trained.training_rows, "holdout_rows": trained.holdout_rows})
        mlflow.set_tags(
            {
                "tree_id": trained.tree_id,
                "data_fingerprint": trained.data_fingerprint,
                "label_source": trained.label_source,
                "gate_promoted": str(promote).lower(),
                "gate_reason": reason,
                **(tags or {}),
            }
        )
        mlflow.log_text(trained.rules_text, "rules.txt")
        mlflow.log_text(rules.to_csv(index=False), "rule_table.csv")
        mlflow.log_text(trained.report, "holdout_report.txt")
        if label_counts:
            mlflow.log_dict(label_counts, "label_counts.json")
        _log_tree_picture(mlflow, trained)
        info = mlflow.sklearn.log_model(
            trained.model,
            name="model",
            registered_model_name=trained.tree_id,
            skops_trusted_types=SKOPS_TRUSTED,
            pip_requirements=model_requirements(),
            input_example=X_holdout.head(3),
        )
    version = str(info.registered_model_version)
    log_entry = retraining_log_entry(mlflow, trained, champion["version"] if champion else None, promote, reason)
    log_entry.update(version=version, mlflow_run_id=run.info.run_id)
    mlflow.MlflowClient().log_dict(run.info.run_id, log_entry, "retraining_log.json")
    client = mlflow.MlflowClient()
    client.set_model_version_tag(trained.tree_id, version, "data_fingerprint", trained.data_fingerprint)
    client.set_model_version_tag(trained.tree_id, version, "gate_reason", reason)
    if promote:
        client.set_registered_model_alias(trained.tree_id, CHAMPION, version)
    return RegisteredTree(
        run_id=run.info.run_id,
        version=version,
        model_uri=f"models:/{trained.tree_id}/{version}",
        promoted=promote,
        gate={"promoted": promote, "reason": reason, "champion_before": champion},
        retraining_log=log_entry,
    )


def _log_tree_picture(mlflow, trained: TrainedTree) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.tree import plot_tree

    fig, ax = plt.subplots(figsize=(22, 10), dpi=80)
    plot_tree(trained.model, feature_names=trained.features, class_names=trained.classes, filled=True, impurity=False, fontsize=7, ax=ax)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tree.png"
        fig.savefig(path, bbox_inches="tight")
        mlflow.log_artifact(str(path))
    plt.close(fig)


def load_champion(mlflow, tree_id: str):
    """(model, version) of the current champion; raises with advice when there is none."""
    client = mlflow.MlflowClient()
    try:
        mv = client.get_model_version_by_alias(tree_id, CHAMPION)
    except Exception as exc:
        raise RuntimeError(
            f"No '{CHAMPION}' version of model {tree_id!r} in the MLflow registry; "
            "materialize the ml/primary_classification asset first."
        ) from exc
    return mlflow.sklearn.load_model(f"models:/{tree_id}@{CHAMPION}"), mv
