"""The OULAD early-warning study: an interpretable at-risk tree per course snapshot, with a boosted baseline.

For every module with two or more presentations, train on the earlier ones and evaluate on the
latest (default), or on explicit presentations. Each snapshot (day 30, 60, 90, 120, end) uses only
data available by that day; tree and baseline see the same features. Metrics go to MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from models.early_warning import OuladTables, SnapshotResult, at_risk_labels, fit_snapshot, snapshot_features
from models.fairness import GROUP_ATTRIBUTES, group_metrics, largest_gaps

DEFAULT_DAYS = (30, 60, 90, 120, "end")


def presentation_order(code: str) -> tuple[int, int]:
    """2013B < 2013J < 2014B < 2014J (B starts in February, J in October)."""
    return int(code[:4]), 0 if code[4:] == "B" else 1


def default_splits(t: OuladTables, modules: list[str] | None = None) -> list[tuple[str, list[str], str]]:
    """(module, train presentations, test presentation) for each module with two or more presentations."""
    out = []
    for module, group in t.courses.groupby("code_module"):
        if modules and module not in modules:
            continue
        pres = sorted(group["code_presentation"], key=presentation_order)
        if len(pres) >= 2:
            out.append((module, pres[:-1], pres[-1]))
    return out


def _features(t: OuladTables, module: str, presentations: list[str], day) -> tuple[pd.DataFrame, pd.Series]:
    frames, labels = [], []
    for p in presentations:
        length = int(t.courses.loc[(t.courses["code_module"] == module) & (t.courses["code_presentation"] == p), "module_presentation_length"].iloc[0])
        d = length if day == "end" else int(day)
        frames.append(snapshot_features(t, module, p, d))
        labels.append(at_risk_labels(t, module, p))
    X = pd.concat(frames)
    y = pd.concat(labels).reindex(X.index)
    return X, y


@dataclass
class StudyRow:
    module: str
    train: str
    test: str
    result: SnapshotResult
    fairness: pd.DataFrame | None = None


def fairness_table(t: OuladTables, module: str, presentation: str, students, y, proba) -> pd.DataFrame:
    """The tree's held-out metrics per gender, age band, disability and deprivation band of the test students."""
    info = t.student_info
    key = (info["code_module"] == module) & (info["code_presentation"] == presentation)
    cols = [c for c in GROUP_ATTRIBUTES if c in info.columns]
    groups = info.loc[key].drop_duplicates("id_student").set_index("id_student")[cols].reindex(students)
    return group_metrics(y, proba, groups.reset_index(drop=True))


def run_study(t: OuladTables, splits, days=DEFAULT_DAYS, mlflow=None) -> list[StudyRow]:
    rows = []
    for module, train_pres, test_pres in splits:
        for day in days:
            train_X, train_y = _features(t, module, train_pres, day)
            test_X, test_y = _features(t, module, [test_pres], day)
            test_X = test_X.reindex(columns=train_X.columns)
            result = fit_snapshot(train_X, train_y, test_X, test_y, day)
            fair = fairness_table(t, module, test_pres, test_X.index, test_y.to_numpy(), result.test_proba)
            rows.append(StudyRow(module, "+".join(train_pres), test_pres, result, fair))
            if mlflow is not None:
                with mlflow.start_run(run_name=f"oulad-{module}-{test_pres}-day-{day}"):
                    mlflow.set_tags({"study": "oulad_early_warning", "module": module, "train": "+".join(train_pres),
                                     "test": test_pres, "snapshot_day": str(day)})
                    mlflow.log_params({**{k: v for k, v in result.params.items() if k != "cv_auc"}, "n_features": len(result.features)})
                    mlflow.log_metric("tree_cv_auc_train", result.params.get("cv_auc", float("nan")))
                    mlflow.log_metrics({f"tree_{k}": v for k, v in result.tree_metrics.items()})
                    mlflow.log_metrics({f"baseline_{k}": v for k, v in result.baseline_metrics.items()})
                    mlflow.log_metrics({"train_rows": result.train_rows, "test_rows": result.test_rows})
                    mlflow.log_text(result.rules, "rules.txt")
                    mlflow.log_table(fair, "fairness_by_group.json")
                    gaps = largest_gaps(fair)
                    for g in gaps.itertuples():
                        mlflow.log_metric(f"fairness_gap_{g.metric}_{g.attribute}", g.gap)
    return rows


def report(rows: list[StudyRow]) -> str:
    header = "| module | train → test | day | tree depth/leaf | tree AUC | tree F1 | tree precision | tree recall | GB AUC | GB F1 |"
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m, b = r.result.tree_metrics, r.result.baseline_metrics
        lines.append(
            f"| {r.module} | {r.train} → {r.test} | {r.result.day} | {r.result.params.get('max_depth')}/{r.result.params.get('min_samples_leaf')} | {m['auc']:.3f} | {m['f1']:.3f} | "
            f"{m['precision']:.3f} | {m['recall']:.3f} | {b['auc']:.3f} | {b['f1']:.3f} |"
        )
    return "\n".join(lines)
