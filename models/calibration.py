"""Calibration of the skill-level predicted success: isotonic maps fitted on answers predicted before they were seen.

The published ``predicted_success`` of a learner × skill (and of a quiz question) is a claim about the
learner's NEXT answer on that skill, whatever question it is on. BKT's raw skill-level figure (P(known)
at the next attempt read through the skill's guess and slip) over-predicts first answers on skills new
to the learner, so the engine maps it through one of two isotonic maps: one for a skill the learner has
never answered, one for a skill already practised. The maps are fitted by ``fit_on`` on answers the
pipeline already has (never on held-out ones): every attempt the mastery model was fitted on, each
predicted by the fitted parameters from the trace state before it, in each learner's time order; each
copy of a multi-skill answer weighs 1 / copies, so an answer counts once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from models import mastery

GROUPS = ("first", "seen")
MIN_POINTS = 50  # fewer answers in a group: that group stays uncalibrated (identity)


def skill_level_before(params: mastery.BKTParams, test: pd.DataFrame) -> pd.DataFrame:
    """Per row of ``test`` (user_id, seq, problem_id, skill_id, correct[, response_id]): the raw skill-level
    predicted success from the state before the answer, whether it is the learner's first answer on the
    skill, and the row's weight (1 / copies of its answer)."""
    from models.mastery_eval import trace_before

    traced = trace_before(params, test)
    p, pred, idx, item_idx, learners, response = (traced.params, traced.predicted, traced.skill, traced.item,
                                                  traced.learner, traced.response)
    g, s = p.emission(idx, item_idx)
    known = np.clip((pred - g) / np.maximum(1 - s - g, 1e-6), 0.0, 1.0)  # P(known) before the answer
    skill_pred = known * (1 - p.slip[idx]) + (1 - known) * p.guess[idx]
    order = np.lexsort((test["seq"].to_numpy(), learners))
    first = np.empty(len(test), dtype=bool)
    first[order] = ~pd.DataFrame({"u": learners[order], "s": idx[order]}).duplicated().to_numpy()
    copies = pd.Series(response).map(pd.Series(response).value_counts()).to_numpy()
    return pd.DataFrame({"pred": skill_pred, "first": first, "correct": test["correct"].to_numpy(),
                         "weight": 1.0 / copies}, index=test.index)


def fit(points: pd.DataFrame) -> dict:
    """``{"first": {"x": [...], "y": [...]}, "seen": ...}``: an isotonic map per group (``points`` as
    ``skill_level_before`` returns); a group with fewer than MIN_POINTS answers is left out (identity)."""
    maps = {}
    for name, rows in (("first", points[points["first"]]), ("seen", points[~points["first"]])):
        if rows["weight"].sum() < MIN_POINTS or rows["correct"].nunique() < 2:
            continue
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(rows["pred"].to_numpy(), rows["correct"].to_numpy(dtype=float), sample_weight=rows["weight"].to_numpy())
        maps[name] = {"x": np.round(iso.X_thresholds_, 6).tolist(), "y": np.round(iso.y_thresholds_, 6).tolist(),
                      "answers": int(round(rows["weight"].sum()))}
    return maps


def fit_on(params: mastery.BKTParams, test: pd.DataFrame) -> dict:
    """The calibration maps from ``params`` traced over ``test`` (rows as ``skill_level_before`` takes them)."""
    return fit(skill_level_before(params, test))


def apply(maps: dict, pred, first) -> np.ndarray:
    """The calibrated predicted success: each value through its group's map (identity where a map is missing)."""
    pred = np.asarray(pred, dtype=float)
    first = np.asarray(first, dtype=bool)
    out = pred.copy()
    for name, mask in (("first", first), ("seen", ~first)):
        m = maps.get(name) if maps else None
        if m and mask.any():
            out[mask] = np.interp(pred[mask], m["x"], m["y"])
    return out
