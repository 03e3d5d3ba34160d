"""Held-out metrics per demographic group, and the largest gap between groups.

Demographics are never model features; they are used here only to check how the model's errors
fall across groups (OULAD: gender, age band, disability, deprivation (IMD) band).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

GROUP_ATTRIBUTES = ("gender", "age_band", "disability", "imd_band")
MIN_GROUP = 20  # groups smaller than this are reported but not used for the gap


def group_metrics(y: np.ndarray, proba: np.ndarray, groups: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """One row per attribute × group: size, at-risk base rate, AUC, recall (TPR), false-positive rate, precision."""
    y = np.asarray(y).astype(int)
    pred = (np.asarray(proba) >= threshold).astype(int)
    rows = []
    for attr in groups.columns:
        values = groups[attr].fillna("unknown").astype(str).to_numpy()
        for g in sorted(set(values)):
            m = values == g
            yy, pp, pr = y[m], pred[m], np.asarray(proba)[m]
            pos, neg = yy == 1, yy == 0
            rows.append({
                "attribute": attr, "group": g, "n": int(m.sum()), "base_rate": float(yy.mean()) if m.any() else np.nan,
                "auc": float(roc_auc_score(yy, pr)) if pos.any() and neg.any() else np.nan,
                "recall": float(pp[pos].mean()) if pos.any() else np.nan,
                "false_positive_rate": float(pp[neg].mean()) if neg.any() else np.nan,
                "precision": float(yy[pp == 1].mean()) if (pp == 1).any() else np.nan,
            })
    return pd.DataFrame(rows)


def largest_gaps(table: pd.DataFrame, metrics=("auc", "recall", "false_positive_rate")) -> pd.DataFrame:
    """Per attribute and metric: the best and worst group (among groups of at least MIN_GROUP) and the gap."""
    out = []
    big = table[table["n"] >= MIN_GROUP]
    for attr, part in big.groupby("attribute"):
        for metric in metrics:
            p = part.dropna(subset=[metric])
            if len(p) < 2:
                continue
            hi, lo = p.loc[p[metric].idxmax()], p.loc[p[metric].idxmin()]
            out.append({"attribute": attr, "metric": metric, "gap": round(float(hi[metric] - lo[metric]), 4),
                        "highest": f"{hi['group']} ({hi[metric]:.3f}, n={hi['n']})",
                        "lowest": f"{lo['group']} ({lo[metric]:.3f}, n={lo['n']})"})
    return pd.DataFrame(out).sort_values("gap", ascending=False).reset_index(drop=True) if out else pd.DataFrame(
        columns=["attribute", "metric", "gap", "highest", "lowest"])
