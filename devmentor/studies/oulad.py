"""The OULAD early-warning study on the DAG's own features and model code, on the honest protocol.

The features are the dbt mart ``marts.fct_enrolment_snapshots`` built with
``DEVMENTOR_SNAPSHOT_DAYS`` (role 'study': every enrolment still active on each named course day); the
tree is ``models.early_warning.fit_tree``, the same function the ``ml/early_warning`` asset trains with.
For each snapshot day: train on the named presentations' enrolments active that day, test on the others'
enrolments active that day (learners who had already withdrawn are in neither), tree vs a boosted
baseline on the same rows and features.
"""

from __future__ import annotations

import pandas as pd

from models import early_warning as ew
from models.fairness import GROUP_ATTRIBUTES, group_metrics

STUDY_DAYS = ("30", "60", "90", "120", "end")
PROTOCOL = ("train and test split by presentation; at each course day only enrolments still registered that day; "
            "features from data recorded by the end of that day; at risk = fail or withdrawn; 'end' = the day "
            "before the final exam; tree depth and leaf size chosen by cross-validation on the training rows only")

STUDY_SQL = """
SELECT s.*, o.final_result, o.at_risk
FROM marts.fct_enrolment_snapshots AS s
JOIN marts.fct_enrolment_outcomes AS o USING (user_id, course_id)
WHERE s.snapshot_role = 'study'
"""


def load_study_frame(warehouse) -> pd.DataFrame:
    with warehouse.connect() as con:
        return con.execute(STUDY_SQL).df()


def run_study(frame: pd.DataFrame, train: list[str], test: list[str], days=STUDY_DAYS,
              demographics: pd.DataFrame | None = None) -> list[dict]:
    """One row per day: tree and baseline metrics on the test presentations' active enrolments."""
    rows = []
    unknown = sorted(set(train + test) - set(frame["course_id"]))
    if unknown:
        raise ValueError(f"no such presentation in the data: {', '.join(unknown)} "
                         f"(have {', '.join(sorted(frame['course_id'].unique()))})")
    for day in days:
        at_day = frame[frame["snapshot_name"] == day]
        tr, te = at_day[at_day["course_id"].isin(train)], at_day[at_day["course_id"].isin(test)]
        X, y = ew.feature_frame(tr), tr["at_risk"].astype(int).to_numpy()
        fit = ew.fit_tree(X, y, tr["course_id"])
        baseline = ew.fit_baseline(X, y)
        Xt, yt = ew.feature_frame(te, fit.features), te["at_risk"].astype(int).to_numpy()
        proba = fit.model.predict_proba(Xt)[:, 1]
        row = {"day": day, "n_train": len(tr), "n_test": len(te), "at_risk_share_test": float(yt.mean()),
               "depth": int(fit.model.get_depth()), "min_samples_leaf": fit.params["min_samples_leaf"],
               "cv_auc": fit.cv_auc,
               **{f"tree_{k}": v for k, v in ew.metrics(yt, proba).items() if k != "rows"},
               **{f"baseline_{k}": v for k, v in ew.metrics(yt, ew.baseline_proba(baseline, Xt)).items() if k != "rows"}}
        if demographics is not None:
            groups = te[["user_id", "course_id"]].merge(demographics, on=["user_id", "course_id"], how="left")
            cols = [c for c in GROUP_ATTRIBUTES if c in groups.columns]
            row["fairness"] = group_metrics(yt, proba, groups[cols].reset_index(drop=True))
        rows.append(row)
    return rows


def report(rows: list[dict], train: list[str], test: list[str]) -> str:
    lines = [f"train {', '.join(train)} → test {', '.join(test)}",
             "| day | train rows | test rows | test at-risk share | tree depth/leaf | tree AUC | tree F1 | tree precision | "
             "tree recall | boosted AUC | boosted F1 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['day']} | {r['n_train']:,} | {r['n_test']:,} | {r['at_risk_share_test']:.3f} | "
                     f"{r['depth']}/{r['min_samples_leaf']} | {r['tree_auc']:.3f} | {r['tree_f1']:.3f} | "
                     f"{r['tree_precision']:.3f} | {r['tree_recall']:.3f} | {r['baseline_auc']:.3f} | {r['baseline_f1']:.3f} |")
    return "\n".join(lines)


def as_json(rows: list[dict], train: list[str], test: list[str]) -> dict:
    keys = ("tree_auc", "baseline_auc", "tree_f1", "baseline_f1", "tree_precision", "tree_recall",
            "baseline_precision", "baseline_recall", "n_train", "n_test", "at_risk_share_test", "depth")
    return {"train": train, "test": test, "protocol": PROTOCOL,
            "days": {r["day"]: {k: (round(r[k], 4) if isinstance(r[k], float) else r[k]) for k in keys} for r in rows}}
