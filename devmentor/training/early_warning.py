"""The early-warning model in the platform: train on past enrolments' outcomes, gate, register, score.

Plain functions (no Dagster). Reads the dbt marts ``marts.fct_enrolment_snapshots`` (features) and
``marts.fct_enrolment_outcomes`` (labels), logs to MLflow, and writes per-enrolment scores to
``lake/ml/early_warning/early_warning.parquet`` for the serving layer.

Champion gate: the new tree and the current champion are both scored on the same fixed held-out
enrolments (a stable hash of the enrolment key, ``models.early_warning.is_holdout``); the new tree is
promoted when its AUC there is no more than ``GATE_TOLERANCE`` below the champion's. If the champion
cannot be evaluated for any other reason than a changed feature set, the gate fails closed (the champion
stays).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse
from devmentor.training.mlflow_store import MlflowStore
from devmentor.training.registry import CHAMPION, SKOPS_TRUSTED, champion_version, model_requirements
from models import early_warning as ew
from models.trees import decide_leaves, describe_rule, rule_table

GATE_TOLERANCE = 0.005
SCORES_TABLE = "early_warning/early_warning.parquet"
TRAINING_RISK_TABLE = "early_warning/training_risk.parquet"

SNAPSHOTS_SQL = """
SELECT s.*, o.final_result, o.at_risk
FROM marts.fct_enrolment_snapshots AS s
LEFT JOIN marts.fct_enrolment_outcomes AS o USING (user_id, course_id)
WHERE s.snapshot_role IN ({roles})
ORDER BY s.course_id, s.user_id, s.snapshot_day
"""


def load_snapshots(warehouse: Warehouse, roles: tuple[str, ...]) -> pd.DataFrame:
    with warehouse.connect() as con:
        return con.execute(SNAPSHOTS_SQL.format(roles=", ".join(f"'{r}'" for r in roles))).df()


@dataclass
class EarlyWarningTraining:
    trained: bool
    reason: str
    version: str | None = None
    promoted: bool = False
    gate: dict = field(default_factory=dict)
    run_id: str | None = None
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    rules_text: str = ""
    seconds: float = 0.0

    def summary(self) -> str:
        if not self.trained:
            return f"early_warning not trained: {self.reason}"
        m = self.metrics
        return (f"early_warning v{self.version}: held-out AUC {m['holdout_auc']:.3f} (boosted baseline "
                f"{m['holdout_baseline_auc']:.3f}) on {m['holdout_rows']:,} past enrolments, cross-validated AUC "
                f"{m['cv_auc']:.3f}; champion gate: {self.gate.get('reason')}")


def _champion_auc(mlflow, X: pd.DataFrame, y: np.ndarray) -> dict | None:
    mv = champion_version(mlflow, ew.TREE_ID)
    if mv is None:
        return None
    model = mlflow.sklearn.load_model(f"models:/{ew.TREE_ID}@{CHAMPION}")
    features = list(getattr(model, "feature_names_in_", []))
    missing = [f for f in features if f not in X.columns]
    if missing:
        return {"version": str(mv.version), "incompatible": True, "missing_features": missing}
    return {"version": str(mv.version), "auc": ew.metrics(y, model.predict_proba(X[features])[:, 1])["auc"]}


def gate(new_auc: float, champion: dict | None, tolerance: float = GATE_TOLERANCE) -> tuple[bool, str]:
    if champion is None:
        return True, "no champion yet"
    if champion.get("error"):
        return False, f"champion could not be evaluated ({champion['error']}); kept (fail closed)"
    if champion.get("incompatible"):
        return True, f"champion v{champion['version']} uses features that no longer exist: {champion['missing_features']}"
    if not np.isfinite(new_auc):
        return False, "held-out rows have one outcome only: AUC undefined; champion kept (fail closed)"
    if new_auc < champion["auc"] - tolerance:
        return False, f"held-out AUC {new_auc:.4f} < champion v{champion['version']} {champion['auc']:.4f} on the same rows"
    return True, f"held-out AUC {new_auc:.4f} vs champion v{champion['version']} {champion['auc']:.4f} on the same rows"


def train_early_warning(warehouse: Warehouse, mlflow: MlflowStore, lake: Lake,
                        run_tags: dict[str, str]) -> EarlyWarningTraining:
    """Fit on past enrolments (role 'train'), gate on the fixed held-out ones, register; write out-of-fold risk."""
    started = time.perf_counter()
    frame = load_snapshots(warehouse, ("train",))
    frame = frame[frame["at_risk"].notna()].reset_index(drop=True)
    if len(frame) < ew.MIN_TRAINING_ROWS or frame["at_risk"].nunique() < 2:
        return EarlyWarningTraining(False, f"{len(frame)} past enrolments with a known outcome on the scored course "
                                           f"days (need {ew.MIN_TRAINING_ROWS}+ with both outcomes); nothing is scored")
    holdout = ew.is_holdout(frame)
    X, y = ew.feature_frame(frame), frame["at_risk"].astype(int).to_numpy()
    fit = ew.fit_tree(X[~holdout], y[~holdout], frame.loc[~holdout, "course_id"])
    baseline = ew.fit_baseline(X[~holdout], y[~holdout])
    new_holdout = ew.metrics(y[holdout], fit.model.predict_proba(X[holdout])[:, 1])
    base_holdout = ew.metrics(y[holdout], ew.baseline_proba(baseline, X[holdout]))
    ml = mlflow.setup()
    try:
        champion = _champion_auc(ml, X[holdout], y[holdout])
    except Exception as exc:  # the gate fails closed
        champion = {"error": f"{type(exc).__name__}: {exc}"}
    promote, reason = gate(new_holdout["auc"], champion)
    metrics = {"cv_auc": fit.cv_auc, "training_rows": int((~holdout).sum()), "holdout_rows": int(holdout.sum()),
               **{f"holdout_{k}": v for k, v in new_holdout.items() if k != "rows"},
               **{f"holdout_baseline_{k}": v for k, v in base_holdout.items() if k != "rows"},
               "courses": int(frame["course_id"].nunique()), "depth": int(fit.model.get_depth()),
               "n_leaves": int(fit.model.get_n_leaves())}
    rules = rule_table(fit.model, fit.features)
    from sklearn.tree import export_text

    rules_text = export_text(fit.model, feature_names=fit.features, show_weights=True, decimals=3)
    with ml.start_run(run_name=ew.TREE_ID) as run:
        ml.log_params({**fit.params, "features": json.dumps(fit.features)[:6000],
                       "snapshot_days": json.dumps(sorted(frame["snapshot_day"].unique().tolist())),
                       "label": "at_risk = final_result in (fail, withdrawn), from the outcomes input"})
        ml.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        ml.set_tags({"tree_id": ew.TREE_ID, "label_source": "enrolment_outcomes", "gate_promoted": str(promote).lower(),
                     "gate_reason": reason, **run_tags})
        ml.log_text(rules_text, "rules.txt")
        ml.log_text(rules.to_csv(index=False), "rule_table.csv")
        info = ml.sklearn.log_model(fit.model, name="model", registered_model_name=ew.TREE_ID,
                                    skops_trusted_types=SKOPS_TRUSTED, pip_requirements=model_requirements(),
                                    input_example=X[holdout].head(3))
    version = str(info.registered_model_version)
    client = ml.MlflowClient()
    client.set_model_version_tag(ew.TREE_ID, version, "gate_reason", reason)
    if promote:
        client.set_registered_model_alias(ew.TREE_ID, CHAMPION, version)
    # Out-of-fold risk of every training row (held-out rows: the tree's own prediction, it never saw them):
    # what a model taking the risk as an input (the segment tree) learns from.
    risk = np.empty(len(frame))
    risk[~holdout] = fit.oof_proba
    risk[holdout] = fit.model.predict_proba(X[holdout])[:, 1]
    lake.write_ml_table(TRAINING_RISK_TABLE, pa.Table.from_pandas(
        frame[["user_id", "course_id", "snapshot_day"]].assign(p_at_risk=risk), preserve_index=False))
    return EarlyWarningTraining(True, "trained", version, promote, {"promoted": promote, "reason": reason,
                                                                     "champion_before": champion},
                                run.info.run_id, fit.params, metrics, rules_text, time.perf_counter() - started)


def paths_in_words(model, features: list[str], X: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Per row: the decision path in words ('; '-joined) and as JSON steps."""
    rules = rule_table(model, features)
    leaf_of, leaf_paths = decide_leaves(rules, X[features])
    by_rule = rules.set_index("rule_id").to_dict("index")
    words, steps = {}, {}
    for leaf, path in leaf_paths.items():
        parts = [describe_rule(by_rule[r]["feature"], by_rule[r]["operator"], by_rule[r]["threshold"]) for r in path]
        words[leaf] = "; ".join(parts) if parts else "(single leaf)"
        steps[leaf] = json.dumps([{"rule_id": r, "rule": p} for r, p in zip(path, parts)])
    leaves = leaf_of.tolist()
    return [words[n] for n in leaves], [steps[n] for n in leaves]


def score_early_warning(warehouse: Warehouse, mlflow: MlflowStore) -> tuple[pa.Table, dict]:
    """P(at risk) for every enrolment active on its course's day N (role 'score'), by the champion."""
    frame = load_snapshots(warehouse, ("score",))
    empty = {"scored": 0, "version": None}
    ml = mlflow.setup()
    mv = champion_version(ml, ew.TREE_ID)
    if mv is None or frame.empty:
        return _scores_table(frame.iloc[:0], [], [], [], None, None), {
            **empty, "reason": "no champion early-warning model" if mv is None else "no enrolment is active on a course day"}
    model = ml.sklearn.load_model(f"models:/{ew.TREE_ID}@{CHAMPION}")
    features = list(model.feature_names_in_)
    X = ew.feature_frame(frame, features)
    proba = model.predict_proba(X)[:, 1]
    words, steps = paths_in_words(model, features, X)
    table = _scores_table(frame, proba, words, steps, str(mv.version), mv.run_id)
    flagged = proba >= ew.AT_RISK_THRESHOLD
    return table, {"scored": len(frame), "version": str(mv.version), "flagged": int(flagged.sum()),
                   "courses": int(frame["course_id"].nunique())}


def _scores_table(frame: pd.DataFrame, proba, words, steps, version, run_id) -> pa.Table:
    n = len(frame)
    proba = np.asarray(proba, dtype=float)
    return pa.table({
        "user_id": pa.array(frame["user_id"].astype(str).tolist(), pa.string()),
        "course_id": pa.array(frame["course_id"].astype(str).tolist(), pa.string()),
        "as_of": pa.array(pd.to_datetime(frame["as_of_at"], utc=True).tolist() if n else [], pa.timestamp("us", tz="UTC")),
        "course_day": pa.array(frame["snapshot_day"].astype(int).tolist(), pa.int32()),
        "p_at_risk": pa.array(proba.round(6).tolist(), pa.float64()),
        "at_risk": pa.array((proba >= ew.AT_RISK_THRESHOLD).tolist(), pa.bool_()),
        "risk_band": pa.array([ew.risk_band(p) for p in proba], pa.string()),
        "reasons": pa.array(list(words), pa.string()),
        "decision_path": pa.array(list(steps), pa.string()),
        "model_version": pa.array([version] * n, pa.string()),
        "mlflow_run_id": pa.array([run_id] * n, pa.string()),
        "algorithm_version": pa.array([f"{ew.TREE_ID}:v{version}"] * n, pa.string()),
    })


def learner_risk(lake: Lake) -> pd.DataFrame:
    """Per learner, the active enrolment with the highest P(at risk) (what the learner-level trees take as input)."""
    path = lake.ml_path(SCORES_TABLE)
    if not path.exists():
        return pd.DataFrame(columns=["user_id", "course_id", "p_at_risk"])
    scores = pd.read_parquet(path, columns=["user_id", "course_id", "course_day", "p_at_risk"])
    return scores.sort_values(["user_id", "p_at_risk"], ascending=[True, False]).drop_duplicates("user_id")
