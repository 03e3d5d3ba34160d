"""Early warning on course outcomes: P(at risk) = P(fail or withdraw) for an enrolment still active on day N.

Plain pandas and scikit-learn, no I/O. The features are the columns of the dbt mart
``marts.fct_enrolment_snapshots`` (one row per enrolment × course day, computed only from what was
recorded by the end of that day); the labels come from ``marts.fct_enrolment_outcomes``. Nothing here
sees a withdrawal date or a final result as a feature.

Protocol (the same in the DAG, the replay and the study): train on past enrolments with known outcomes
that were still active on day N, choose depth and leaf size by cross-validated AUC grouped by course (so
the choice rewards what transfers to a course the tree has not seen), keep a fixed share of enrolments out
by a stable hash of their key for the champion gate, and score only enrolments active on day N.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier

TREE_ID = "early_warning"
AT_RISK_THRESHOLD = 0.5  # P(at risk) at or above this flags the enrolment (the tree is fitted with balanced classes)
HOLDOUT_SHARE = 0.2
MAX_DEPTH = 6
TREE_GRID = {"max_depth": (3, 4, 5, 6), "min_samples_leaf": (20, 50, 100)}
MIN_TRAINING_ROWS = 50

# The model's features, each with the words a decision path uses (the mart's columns; one place names them).
FEATURE_DESCRIPTIONS = {
    "course_progress": "share of the course elapsed",
    "days_registered_before_start": "days registered before the course start",
    "prior_attempts": "earlier attempts at this course",
    "credits": "credits studied in total",
    "clicks_total": "clicks so far",
    "active_days": "active days so far",
    "clicks_last_14d": "clicks in the last 14 days",
    "clicks_prior_14d": "clicks in the 14 days before those",
    "clicks_before_start": "clicks before the course start",
    "distinct_content": "distinct content items opened",
    "days_since_last_activity": "days since last activity",
    "assessments_due": "assessments due so far",
    "assessments_submitted": "assessments submitted",
    "assessments_missed": "assessments due but not submitted",
    "share_due_submitted": "share of due assessments submitted",
    "mean_score": "mean assessment score",
    "min_score": "lowest assessment score",
    "weighted_score": "weighted assessment score",
    "last_score": "latest assessment score",
    "scores_below_pass": "assessments scored under 40%",
    "mean_days_late": "mean days late per submission",
    "share_of_due_points": "share of the points due so far earned",
    "clicks_vs_cohort_median": "clicks relative to the cohort median",
    "recent_clicks_vs_cohort_median": "last-14-day clicks relative to the cohort median",
    "idle_days_vs_cohort_median": "days idle beyond the cohort median",
    "clicks_percentile": "clicks percentile in the cohort",
    "active_days_percentile": "active-days percentile in the cohort",
    "score_percentile": "score percentile in the cohort",
    "submitted_percentile": "submissions percentile in the cohort",
}
FEATURES = list(FEATURE_DESCRIPTIONS)
KEY = ["user_id", "course_id"]


def is_holdout(frame: pd.DataFrame, share: float = HOLDOUT_SHARE) -> np.ndarray:
    """Fixed held-out enrolments: a stable hash of (user_id, course_id), independent of row order, run and data size."""
    from models.trees import stable_holdout

    return stable_holdout(frame["user_id"].astype(str) + "\x1f" + frame["course_id"].astype(str), share)


def feature_frame(frame: pd.DataFrame, features: list[str] | None = None) -> pd.DataFrame:
    # Rounded: parallel aggregation in the warehouse may differ in the last bits from run to run, and a tree
    # threshold must not depend on that.
    return frame.reindex(columns=features or FEATURES).apply(pd.to_numeric, errors="coerce").astype(float).round(6)


def metrics(y: np.ndarray, proba: np.ndarray, threshold: float = AT_RISK_THRESHOLD) -> dict:
    y = np.asarray(y).astype(int)
    pred = (np.asarray(proba) >= threshold).astype(int)
    return {
        "auc": float(roc_auc_score(y, proba)) if len(np.unique(y)) > 1 else float("nan"),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "flagged_share": float(pred.mean()) if len(pred) else float("nan"),
        "at_risk_share": float(y.mean()) if len(y) else float("nan"),
        "rows": int(len(y)),
    }


def _folds(y: pd.Series, groups: pd.Series | None, seed: int):
    if groups is not None and groups.nunique() >= 3:
        return list(GroupKFold(n_splits=min(5, groups.nunique())).split(np.zeros(len(y)), y, groups))
    return list(StratifiedKFold(n_splits=5, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _tree(depth: int, leaf: int, seed: int) -> DecisionTreeClassifier:
    return DecisionTreeClassifier(max_depth=depth, min_samples_leaf=leaf, class_weight="balanced", random_state=seed)


@dataclass
class EarlyWarningFit:
    model: DecisionTreeClassifier
    features: list[str]
    params: dict
    cv_auc: float
    oof_proba: np.ndarray = field(repr=False, default=None)  # out-of-fold P(at risk) for each training row


def fit_tree(X: pd.DataFrame, y: pd.Series, groups: pd.Series | None = None, seed: int = 0) -> EarlyWarningFit:
    """Depth (≤ 6) and leaf size by cross-validated AUC on the training rows only (grouped by course when
    there are 3+ courses), then refit on all of them. Also returns out-of-fold predictions: a second model
    that uses the risk as an input learns from these, never from the in-sample fit."""
    y = pd.Series(np.asarray(y).astype(int), index=X.index)
    if len(X) < MIN_TRAINING_ROWS or y.nunique() < 2:
        raise ValueError(f"early warning needs {MIN_TRAINING_ROWS}+ past enrolments with both outcomes; "
                         f"got {len(X)} rows, classes {sorted(y.unique().tolist())}")
    folds = _folds(y, groups, seed)
    best = None
    for depth in TREE_GRID["max_depth"]:
        for leaf in TREE_GRID["min_samples_leaf"]:
            oof = np.full(len(y), np.nan)
            for train_idx, test_idx in folds:
                model = _tree(depth, leaf, seed).fit(X.iloc[train_idx], y.iloc[train_idx])
                oof[test_idx] = model.predict_proba(X.iloc[test_idx])[:, 1]
            auc = roc_auc_score(y, oof) if y.nunique() > 1 else float("nan")
            if best is None or auc > best[0] + 1e-9:
                best = (auc, depth, leaf, oof)
    auc, depth, leaf, oof = best
    model = _tree(depth, leaf, seed).fit(X, y)
    params = {"max_depth": depth, "min_samples_leaf": leaf, "class_weight": "balanced", "criterion": "gini",
              "random_state": seed, "cv": "group_kfold_by_course" if groups is not None and groups.nunique() >= 3 else "stratified_5fold"}
    return EarlyWarningFit(model, list(X.columns), params, float(auc), oof)


def fit_baseline(X: pd.DataFrame, y: pd.Series, seed: int = 0) -> HistGradientBoostingClassifier:
    """The boosted baseline the tree is compared with (same rows, same features; not interpretable)."""
    usable = [c for c in X.columns if X[c].nunique(dropna=True) > 1]
    model = HistGradientBoostingClassifier(random_state=seed, class_weight="balanced").fit(X[usable], np.asarray(y).astype(int))
    model.devmentor_features_ = usable
    return model


def baseline_proba(model: HistGradientBoostingClassifier, X: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(X[model.devmentor_features_])[:, 1]


def risk_band(p: float) -> str:
    return "high" if p >= 0.7 else "elevated" if p >= AT_RISK_THRESHOLD else "low"
