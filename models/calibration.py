"""Calibration of the skill-level predicted success: isotonic maps fitted on answers predicted before they were seen.

The published ``predicted_success`` of a learner × skill (and of a quiz question) is a claim about the
learner's NEXT answer on that skill, whatever question it is on and whenever it comes. BKT's raw
skill-level figure (P(known) at the next attempt read through the skill's guess and slip) is not that:
it over-predicts first answers on skills new to the learner, and how far it is off depends on how much
the learner has answered so far (measured on ASSISTments: for learners with 5 answers its low values
are 0.11 too low, with 20 answers they are about right; a map fitted on each answer predicted just
before it met this by chance at one history length and missed at another).

So the engine maps it through a logistic recalibration per group (a skill the learner has never
answered, a skill already practised) of the raw figure's logit and the learner's answers so far
(``fit_history``; HISTORY_FEATURES). Its points come from the answers the pipeline already has, never held-out
ones, in the situation the figure is published in (``points_at_cuts``): each learner's history cut at
CUTS_PER_LEARNER random answers (log-uniform, so short histories count as much as long ones), the state
at the cut as the engine computes it, and for each skill the learner's first answer on it after the cut;
each copy of a multi-skill answer weighs 1 / copies, so an answer counts once.

The isotonic maps of earlier versions (``{"first": {"x": [...], "y": [...]}, ...}``: one map per group,
fitted on each answer predicted from the state just before it) are still read by ``apply``, so a model
fitted before stays usable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import mastery

GROUPS = ("first", "seen")
MIN_POINTS = 50  # fewer answers in a group: that group stays uncalibrated (identity)
CUTS_PER_LEARNER = 8
HISTORY = "logistic_history"  # the kind of maps fit_history makes
MAX_ANSWERS = 100_000  # the history lengths a map must keep monotone in the raw figure (0..MAX_ANSWERS)


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def history_features(pred, answers) -> np.ndarray:
    """HISTORY_FEATURES of each raw figure: its logit l, h = log(1 + answers so far), and l·h, h², l·h²
    (the slope and the offset of the logit both vary smoothly with the history's length)."""
    lo, h = _logit(pred), np.log1p(np.asarray(answers, dtype=float))
    return np.column_stack([lo, h, lo * h, h * h, lo * h * h])


HISTORY_FEATURES = ("logit", "log1p_answers", "logit_x_log1p_answers", "log1p_answers_sq", "logit_x_log1p_answers_sq")


def _slope(coef, h) -> np.ndarray:
    """d(calibrated logit) / d(raw logit) at history ``h`` (log1p answers)."""
    return coef[0] + coef[2] * h + coef[4] * h * h


def points_at_cuts(params: mastery.BKTParams, frame: pd.DataFrame, cuts: int = CUTS_PER_LEARNER,
                   seed: int = 0) -> pd.DataFrame:
    """Calibration points in the situation the figure is published in. ``frame``: user_id, seq, problem_id,
    skill_id, correct, response_id (one id per answer), in each learner's order. Each learner's history is cut
    ``cuts`` times after a log-uniform random number of answers (1 .. all but one); at each cut the state after
    the history, read as the engine publishes it (P(known) carried to the next attempt, the skill's guess and
    slip), predicts the learner's first later answer on each skill (a multi-skill answer only where it is
    the first later answer on all its skills). Columns: user_id, skill_id, pred, first (skill never answered
    before the cut), correct, weight (1 / copies of the answer), answers (the learner's answers before the cut)."""
    p = params.with_default()
    rng = np.random.default_rng(seed)
    f = frame.sort_values(["user_id", "seq"], kind="stable").reset_index(drop=True)
    users, learner = np.unique(f["user_id"].to_numpy(), return_inverse=True)
    answer = (f.groupby("user_id", sort=False)["response_id"].transform(lambda r: pd.factorize(r)[0])).to_numpy()
    total = np.zeros(len(users), np.int64)
    np.maximum.at(total, learner, answer + 1)
    sidx = p.index(f["skill_id"].to_numpy())
    sidx = np.where(sidx < 0, len(p.skills) - 1, sidx)
    iidx = p.item_index(f["problem_id"].to_numpy())
    copies = f["response_id"].map(f["response_id"].value_counts()).to_numpy()
    out = []
    for _ in range(cuts):
        cut = np.floor(np.exp(rng.uniform(0, np.log(np.maximum(total, 2))))).astype(np.int64)  # 1 .. total-1
        before = answer < cut[learner]
        _, state = mastery.trace(p, learner[before], sidx[before], f["correct"].to_numpy()[before],
                                 np.arange(int(before.sum())), iidx[before], n_learners=len(users),
                                 response=f["response_id"].to_numpy()[before])
        later = f.index[~before]
        nxt = f.loc[later, ["user_id", "skill_id", "response_id"]]
        first_on_skill = ~nxt.duplicated(["user_id", "skill_id"])
        whole = first_on_skill.groupby(nxt["response_id"]).transform("all").to_numpy()
        rows = later[whole]
        li, si = learner[rows], sidx[rows]
        p_known = mastery.current_mastery(p, state)[li, si]
        p_next = state.p_next[li, si]
        p_next = np.where(np.isnan(p_next), p_known, p_next)
        out.append(pd.DataFrame({
            "user_id": users[li], "skill_id": f["skill_id"].to_numpy()[rows], "pred": p_next * (1 - p.slip[si]) + (1 - p_next) * p.guess[si], "first": state.attempts[li, si] == 0,
            "correct": f["correct"].to_numpy()[rows], "weight": 1.0 / copies[rows], "answers": cut[li]}))
    return pd.concat(out, ignore_index=True)


def fit_history(points: pd.DataFrame) -> dict:
    """``{"kind": HISTORY, "first": {"coef": [...], "intercept": b, "answers": n}, "seen": ...}``: a logistic
    recalibration per group on ``history_features`` (``points`` as ``points_at_cuts`` returns). A group with
    fewer than MIN_POINTS answers, one outcome only, or a fit that is not increasing in the raw figure over
    0..MAX_ANSWERS answers (it would reorder learners) is left out (identity)."""
    from sklearn.linear_model import LogisticRegression

    maps: dict = {"kind": HISTORY}
    h = np.linspace(0, np.log1p(MAX_ANSWERS), 200)
    for name, rows in (("first", points[points["first"]]), ("seen", points[~points["first"]])):
        if rows["weight"].sum() < MIN_POINTS or rows["correct"].nunique() < 2:
            continue
        model = LogisticRegression(C=1e4, max_iter=2000).fit(
            history_features(rows["pred"], rows["answers"]), rows["correct"].to_numpy(dtype=int),
            sample_weight=rows["weight"].to_numpy())
        coef = model.coef_[0]
        if (_slope(coef, h) <= 0).any():
            continue
        maps[name] = {"coef": np.round(coef, 6).tolist(), "intercept": round(float(model.intercept_[0]), 6),
                      "answers": int(round(rows["weight"].sum()))}
    return maps


def apply(maps: dict, pred, first, answers=None) -> np.ndarray:
    """The calibrated predicted success: each value through its group's map (identity where a map is missing).
    Maps of ``fit_history`` need ``answers``, the learner's answers so far, per value."""
    pred = np.asarray(pred, dtype=float)
    first = np.asarray(first, dtype=bool)
    out = pred.copy()
    history = bool(maps) and maps.get("kind") == HISTORY
    if history and answers is None:
        raise ValueError("these calibration maps depend on the learner's answers so far: pass answers")
    for name, mask in (("first", first), ("seen", ~first)):
        m = maps.get(name) if maps else None
        if not m or not mask.any():
            continue
        if history:
            z = history_features(pred[mask], np.asarray(answers)[mask]) @ np.asarray(m["coef"]) + m["intercept"]
            out[mask] = 1 / (1 + np.exp(-z))
        else:
            out[mask] = np.interp(pred[mask], m["x"], m["y"])
    return out
