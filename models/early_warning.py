"""Early warning on course outcomes: at-risk (Fail or Withdrawn) vs Pass/Distinction, at points of the course.

Plain pandas and scikit-learn, no I/O. ``snapshot_features`` sees only what is known by
day N of a presentation (clicks up to day N, assessments submitted by day N, withdrawals
by day N), so a model trained at day 60 can be used at day 60. Demographic attributes
are not model features (they are kept for the fairness report).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score
from sklearn.tree import DecisionTreeClassifier, export_text

AT_RISK = ("Fail", "Withdrawn")
ACTIVITY_GROUPS = {
    "content": ("oucontent", "resource", "page", "subpage", "url", "dataplus", "folder", "glossary", "htmlactivity", "dualpane"),
    "forum": ("forumng", "ouwiki", "oucollaborate", "ouelluminate"),
    "quiz": ("quiz", "externalquiz", "questionnaire", "repeatactivity", "sharedsubpage"),
    "home": ("homepage",),
}


@dataclass
class OuladTables:
    """The OULAD tables a study needs, as DataFrames with the release's column names."""

    student_info: pd.DataFrame  # code_module, code_presentation, id_student, final_result, num_of_prev_attempts, studied_credits, ...
    registrations: pd.DataFrame  # ..., date_registration, date_unregistration
    assessments: pd.DataFrame  # code_module, code_presentation, id_assessment, assessment_type, date, weight
    student_assessments: pd.DataFrame  # id_assessment, id_student, date_submitted, is_banked, score
    clicks: pd.DataFrame  # code_module, code_presentation, id_student, id_site, date, sum_click, activity_type
    courses: pd.DataFrame  # code_module, code_presentation, module_presentation_length


def _group_of(activity: str) -> str:
    for group, names in ACTIVITY_GROUPS.items():
        if activity in names:
            return group
    return "other"


def snapshot_features(t: OuladTables, module: str, presentation: str, day: int) -> pd.DataFrame:
    """One row per student of the presentation, with features from data dated on or before ``day``."""
    key = (t.student_info["code_module"] == module) & (t.student_info["code_presentation"] == presentation)
    students = t.student_info.loc[key, ["id_student", "num_of_prev_attempts", "studied_credits"]].copy()
    out = students.set_index("id_student")

    reg = t.registrations[(t.registrations["code_module"] == module) & (t.registrations["code_presentation"] == presentation)]
    reg = reg.set_index("id_student")
    out["days_registered_before_start"] = -reg["date_registration"].reindex(out.index)
    unreg = reg["date_unregistration"].reindex(out.index)
    out["withdrawn_by_day"] = (unreg.notna() & (unreg <= day)).astype(float)

    c = t.clicks[(t.clicks["code_module"] == module) & (t.clicks["code_presentation"] == presentation) & (t.clicks["date"] <= day)]
    if len(c):
        by_student = c.groupby("id_student")
        out["clicks_total"] = by_student["sum_click"].sum()
        out["active_days"] = by_student["date"].nunique()
        out["days_since_last_click"] = day - by_student["date"].max()
        recent = c[c["date"] > day - 14].groupby("id_student")["sum_click"].sum()
        out["clicks_last_14_days"] = recent
        out["clicks_before_start"] = c[c["date"] < 0].groupby("id_student")["sum_click"].sum()
        out["clicks_last_7_days"] = c[c["date"] > day - 7].groupby("id_student")["sum_click"].sum()
        out["distinct_sites"] = by_student["id_site"].nunique()
        out["active_weeks"] = c.assign(week=(c["date"] // 7)).groupby("id_student")["week"].nunique()
        groups = c.assign(group=c["activity_type"].map(_group_of)).groupby(["id_student", "group"])["sum_click"].sum().unstack()
        for g in list(ACTIVITY_GROUPS) + ["other"]:
            out[f"clicks_{g}"] = groups[g] if g in groups else 0.0
        has_clicks = True
    else:
        has_clicks = False
    click_cols = ["clicks_total", "active_days", "clicks_last_14_days", "clicks_before_start", "clicks_last_7_days",
                  "distinct_sites", "active_weeks"] + [
        f"clicks_{g}" for g in list(ACTIVITY_GROUPS) + ["other"]
    ]
    if has_clicks:
        out[click_cols] = out[click_cols].fillna(0.0)
        out["days_since_last_click"] = out["days_since_last_click"].fillna(day + 30)
    else:
        # A presentation without a click stream has missing click features (NaN), not zeros.
        for col in click_cols + ["days_since_last_click"]:
            out[col] = np.nan

    a = t.assessments[(t.assessments["code_module"] == module) & (t.assessments["code_presentation"] == presentation)]
    due = a[(a["date"].notna()) & (a["date"] <= day) & (a["assessment_type"] != "Exam")]
    sa = t.student_assessments.merge(a[["id_assessment", "date", "weight", "assessment_type"]], on="id_assessment")
    sa = sa[sa["date_submitted"] <= day]
    if len(sa):
        g = sa.groupby("id_student")
        out["assessments_submitted"] = g["id_assessment"].nunique()
        out["mean_score"] = g["score"].mean()
        out["min_score"] = g["score"].min()
        w = sa.assign(ws=sa["score"] * sa["weight"])
        wsum = w.groupby("id_student")["weight"].sum()
        out["weighted_score"] = (w.groupby("id_student")["ws"].sum() / wsum.where(wsum > 0)).astype(float)
        late = sa.assign(late=(sa["date_submitted"] - sa["date"]).clip(lower=0))
        out["mean_days_late"] = late.groupby("id_student")["late"].mean()
    else:
        for col in ("assessments_submitted", "mean_score", "min_score", "weighted_score", "mean_days_late"):
            out[col] = np.nan
    out["assessments_submitted"] = out["assessments_submitted"].fillna(0.0)
    submitted_due = sa[sa["id_assessment"].isin(due["id_assessment"])].groupby("id_student")["id_assessment"].nunique()
    out["assessments_due"] = float(len(due))
    out["assessments_missed"] = float(len(due)) - submitted_due.reindex(out.index).fillna(0.0)
    return out.astype(float)


def at_risk_labels(t: OuladTables, module: str, presentation: str) -> pd.Series:
    s = t.student_info[(t.student_info["code_module"] == module) & (t.student_info["code_presentation"] == presentation)]
    return s.set_index("id_student")["final_result"].isin(AT_RISK).astype(int)


@dataclass
class SnapshotResult:
    day: int | str
    train_rows: int
    test_rows: int
    tree_metrics: dict
    baseline_metrics: dict
    rules: str
    features: list[str] = field(default_factory=list)
    tree: DecisionTreeClassifier | None = None
    params: dict = field(default_factory=dict)
    test_proba: np.ndarray | None = None  # the tree's P(at risk) per test student, in test order


def _metrics(y: np.ndarray, proba: np.ndarray) -> dict:
    pred = (proba >= 0.5).astype(int)
    return {
        "auc": float(roc_auc_score(y, proba)) if len(np.unique(y)) > 1 else float("nan"),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
    }


TREE_GRID = {"max_depth": (2, 3, 4, 5), "min_samples_leaf": (5, 10, 20, 40)}


def choose_tree(train_X: pd.DataFrame, train_y: pd.Series, seed: int = 0) -> tuple[DecisionTreeClassifier, dict]:
    """Depth ≤ 5 and leaf size chosen by 5-fold cross-validated AUC on the training rows only."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    search = GridSearchCV(
        DecisionTreeClassifier(class_weight="balanced", random_state=seed),
        TREE_GRID,
        scoring="roc_auc",
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
    )
    search.fit(train_X, train_y)
    return search.best_estimator_, {**search.best_params_, "cv_auc": float(search.best_score_)}


def fit_snapshot(train_X: pd.DataFrame, train_y: pd.Series, test_X: pd.DataFrame, test_y: pd.Series, day,
                 seed: int = 0) -> SnapshotResult:
    """A depth-limited tree (chosen by CV on train) and a gradient-boosting baseline on the same features.

    Features with no value in the training rows (click features of presentations without a click
    stream) are left out of both models.
    """
    features = [c for c in train_X.columns if train_X[c].notna().any()]
    train_X, test_X = train_X[features], test_X.reindex(columns=features)
    tree, chosen = choose_tree(train_X, train_y, seed)
    gb = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=seed)
    gb.fit(train_X, train_y)
    return SnapshotResult(
        params=chosen,
        day=day,
        train_rows=len(train_X),
        test_rows=len(test_X),
        tree_metrics=_metrics(test_y.to_numpy(), tree.predict_proba(test_X[features])[:, 1]),
        test_proba=tree.predict_proba(test_X[features])[:, 1],
        baseline_metrics=_metrics(test_y.to_numpy(), gb.predict_proba(test_X[features])[:, 1]),
        rules=export_text(tree, feature_names=features, decimals=2),
        features=features,
        tree=tree,
    )
