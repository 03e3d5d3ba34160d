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

A skill the learner has never answered is also read through how learners did on their first answer on that
skill (``first_answer_rates``: the share correct of every learner's first answer on it, shrunk toward the
share over all skills by RATE_PRIOR_ANSWERS pseudo-answers). BKT's prior, guess and slip are fitted on every
answer and shrunk toward the other skills' values, so its first-answer figure is too kind to the skills
learners find hardest at first sight, which are the ones the next quiz picks for a learner new to them
(ASSISTments, 10 answers per learner: the quiz's first-time skills were published at 0.42 and answered
correctly 0.23 of the time; with the skill's rate 0.30, the other skills unchanged). In the fit each point's
own answer is left out of its skill's rate, so the rate never holds the outcome it predicts.

And a skill new to the learner that is among the learner's WEAKEST weakest skills (unmastered first, lowest
P(known) first: the skills the next quiz draws on, ``models/quiz.py``) has its own map ("weak_first"): being
the learner's weakest relative to their other skills says more than the raw figure and the rate do (the same
ASSISTments learners: the quiz's first-time skills 0.30 with the rate alone, 0.26 with this map, answered 0.23).
The flag is a function of the state only (``weakest``), computed the same way at the cuts and in the engine.

The isotonic maps of earlier versions (``{"first": {"x": [...], "y": [...]}, ...}``: one map per group,
fitted on each answer predicted from the state just before it) are still read by ``apply``, so a model
fitted before stays usable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import mastery, quiz
from models.frames import codes_within_groups

GROUPS = ("first", "weak_first", "seen")
MIN_POINTS = 50  # fewer answers in a group: that group stays uncalibrated (identity)
CUTS_PER_LEARNER = 8
HISTORY = "logistic_history"  # the kind of maps fit_history makes
WEAKEST = quiz.SIZE  # a learner's this many weakest skills form the "weak" groups (the next quiz's skills)
RATE_PRIOR_ANSWERS = 10.0  # pseudo-answers at the all-skills share that shrink a skill's first-answer rate
MAX_ANSWERS = 100_000  # a map reads at most this long a history (and at most the longest it was fitted on)


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


def first_answer_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Per skill (index): ``correct`` and ``answers`` over every learner's first answer on it (``frame`` as
    ``points_at_cuts`` takes it; a copy of a multi-skill answer weighs 1 / copies)."""
    f = frame.sort_values(["user_id", "seq"], kind="stable")
    weight = 1.0 / f["response_id"].map(f["response_id"].value_counts())
    firsts = ~f.duplicated(["user_id", "skill_id"])
    w = weight[firsts]
    out = pd.DataFrame({"skill_id": f.loc[firsts, "skill_id"].astype(str), "correct": f.loc[firsts, "correct"] * w, "answers": w})
    return out.groupby("skill_id")[["correct", "answers"]].sum()


def skill_rate(rates: dict, skills, leave_out_correct=None, leave_out_answers=None) -> np.ndarray:
    """The shrunk first-answer share of each skill (``rates`` as stored in the maps: skills, correct, answers,
    overall); an unknown skill gets the overall share. ``leave_out_*`` take a point's own answer out first."""
    index = pd.Index(rates["skills"])
    pos = index.get_indexer(pd.Index(np.asarray(skills, dtype=object).astype(str)))
    known = pos >= 0
    correct = np.where(known, np.asarray(rates["correct"], dtype=float)[pos], 0.0)
    answers = np.where(known, np.asarray(rates["answers"], dtype=float)[pos], 0.0)
    if leave_out_correct is not None:
        correct, answers = correct - leave_out_correct, answers - leave_out_answers
    return (correct + RATE_PRIOR_ANSWERS * rates["overall"]) / (np.maximum(answers, 0.0) + RATE_PRIOR_ANSWERS)


def _rates_dict(table: pd.DataFrame) -> dict:
    total = float(table["answers"].sum())
    return {"skills": table.index.astype(str).tolist(), "correct": np.round(table["correct"].to_numpy(), 6).tolist(),
            "answers": np.round(table["answers"].to_numpy(), 6).tolist(),
            "overall": float(table["correct"].sum()) / total if total else 0.5}


def weakest(user_id, skill_id, p_known, mastered, n: int | None = None) -> np.ndarray:
    """Per learner × skill row: is the skill among the learner's ``n`` weakest (``quiz.weakness_rank``, the order
    the next quiz picks its skills in); ``n`` default WEAKEST."""
    return quiz.weakness_rank(user_id, skill_id, p_known, mastered) < (WEAKEST if n is None else n)


def _weakest_at_cut(p: mastery.BKTParams, state: mastery.TraceState, p_known: np.ndarray,
                    eligible: np.ndarray | None) -> np.ndarray:
    """``weakest`` of every learner × skill of a traced state (``p_known``: its current mastery), as a matrix,
    ranking each learner's ``eligible`` skills only (a learner × skill matrix; None: every skill the model
    knows; the fallback row never)."""
    n_learners, n_skills = p_known.shape[0], len(p.skills) - 1
    mastered = mastery.is_mastered(p_known[:, :n_skills], state.attempts[:, :n_skills])
    li, si = np.nonzero(np.ones((n_learners, n_skills), bool) if eligible is None else eligible[:, :n_skills])
    flags = np.zeros((n_learners, n_skills + 1), dtype=bool)
    flags[li, si] = weakest(li, np.asarray(p.skills, dtype=object)[si], p_known[li, si], mastered[li, si])
    return flags


def _course_skills(p: mastery.BKTParams, frame: pd.DataFrame, learner: np.ndarray, sidx: np.ndarray,
                   n_learners: int) -> np.ndarray | None:
    """Learner × skill: the skill is taught in a course the learner answers in (the engine ranks a learner's
    course skills); None without a ``course_id`` column."""
    if "course_id" not in frame.columns:
        return None
    courses = pd.factorize(frame["course_id"].astype(str))[0]
    in_course = np.zeros((courses.max() + 1, len(p.skills)), dtype=bool)
    in_course[courses, sidx] = True
    of_learner = np.zeros((n_learners, courses.max() + 1), dtype=bool)
    of_learner[learner, courses] = True
    return (of_learner.astype(np.int32) @ in_course.astype(np.int32)) > 0


def points_at_cuts(params: mastery.BKTParams, frame: pd.DataFrame, cuts: int = CUTS_PER_LEARNER,
                   seed: int = 0) -> pd.DataFrame:
    """Calibration points in the situation the figure is published in. ``frame``: user_id, seq, problem_id,
    skill_id, correct, response_id (one id per answer), in each learner's order, optionally course_id (then
    "weak" ranks each learner's skills of the courses they answer in, as the engine ranks their course skills).
    Each learner's history is cut
    ``cuts`` times after a log-uniform random number of answers (1 .. all but one); at each cut the state after
    the history, read as the engine publishes it (P(known) carried to the next attempt, the skill's guess and
    slip), predicts the learner's first later answer on each skill (a multi-skill answer only where it is
    the first later answer on all its skills). Columns: user_id, skill_id, pred, first (skill never answered
    before the cut), weak (among the learner's WEAKEST weakest at the cut), correct, weight (1 / copies of the
    answer), answers (the learner's answers before the cut)."""
    p = params.with_default()
    rng = np.random.default_rng(seed)
    f = frame.sort_values(["user_id", "seq"], kind="stable").reset_index(drop=True)
    users, learner = np.unique(f["user_id"].to_numpy(), return_inverse=True)
    answer = codes_within_groups(learner, f["response_id"])
    total = np.zeros(len(users), np.int64)
    np.maximum.at(total, learner, answer + 1)
    sidx = p.index(f["skill_id"].to_numpy())
    sidx = np.where(sidx < 0, len(p.skills) - 1, sidx)
    iidx = p.item_index(f["problem_id"].to_numpy())
    copies = f["response_id"].map(f["response_id"].value_counts()).to_numpy()
    eligible = _course_skills(p, f, learner, sidx, len(users))
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
        known_now = mastery.current_mastery(p, state)
        p_known = known_now[li, si]
        weak = _weakest_at_cut(p, state, known_now, eligible)[li, si]
        p_next = state.p_next[li, si]
        p_next = np.where(np.isnan(p_next), p_known, p_next)
        out.append(pd.DataFrame({
            "user_id": users[li], "skill_id": f["skill_id"].to_numpy()[rows], "pred": p_next * (1 - p.slip[si]) + (1 - p_next) * p.guess[si], "first": state.attempts[li, si] == 0,
            "weak": weak, "correct": f["correct"].to_numpy()[rows], "weight": 1.0 / copies[rows], "answers": cut[li]}))
    return pd.concat(out, ignore_index=True)


def _fit_group(rows: pd.DataFrame, rates: dict | None, with_rate: bool) -> dict | None:
    """One group's logistic map, or None (too few answers, one outcome only, or not increasing in the raw figure).
    Histories longer than the group's longest (``max_answers``) read as that long: the map does not extrapolate
    its quadratic in the history's length beyond the data, and stays increasing in the raw figure there."""
    from sklearn.linear_model import LogisticRegression

    if rows["weight"].sum() < MIN_POINTS or rows["correct"].nunique() < 2:
        return None
    cap = int(min(rows["answers"].max(), MAX_ANSWERS))
    x = history_features(rows["pred"], rows["answers"])
    if with_rate and rates is not None:
        own = rows["weight"].to_numpy()  # a first-answer point is its learner's first answer on the skill: left out
        x = np.column_stack([x, _logit(skill_rate(rates, rows["skill_id"], rows["correct"].to_numpy() * own, own))])
    model = LogisticRegression(C=1e4, max_iter=2000).fit(x, rows["correct"].to_numpy(dtype=int),
                                                         sample_weight=rows["weight"].to_numpy())
    coef = model.coef_[0]
    if (_slope(coef, np.linspace(0, np.log1p(cap), 200)) <= 0).any():
        return None
    return {"coef": np.round(coef, 6).tolist(), "intercept": round(float(model.intercept_[0]), 6),
            "answers": int(round(rows["weight"].sum())), "max_answers": cap}


def fit_history(points: pd.DataFrame, first_rates: pd.DataFrame | None = None) -> dict:
    """``{"kind": HISTORY, "first": {"coef": [...], "intercept": b, "answers": n}, "weak_first": ..., "seen": ...,
    "first_rates": ..., "weakest": n}``: a logistic recalibration per group (GROUPS) on ``history_features``
    (``points`` as ``points_at_cuts`` returns). The first-answer groups also read the logit of the skill's
    first-answer rate (with ``first_rates``, what ``first_answer_rates`` returns on the frame the points come
    from), each point's own answer left out of it; "weak_first" (with a ``weak`` column) holds the first
    answers on the learner's WEAKEST weakest skills, "first" the others. A group with fewer than MIN_POINTS
    answers, one outcome only, or a fit that is not increasing in the raw figure up to its longest history
    (it would reorder learners) is left out: "weak_first" then falls to "first" (fitted on every first answer),
    the others to identity."""
    maps: dict = {"kind": HISTORY}
    rates = _rates_dict(first_rates) if first_rates is not None and len(first_rates) else None
    first = points["first"].to_numpy(dtype=bool)
    weak = points["weak"].to_numpy(dtype=bool) if "weak" in points.columns else np.zeros(len(points), dtype=bool)
    weak_map = _fit_group(points[first & weak], rates, True) if weak.any() else None
    first_map = _fit_group(points[first & ~weak], rates, True) if weak_map else None
    fits = {"weak_first": weak_map, "first": first_map or _fit_group(points[first], rates, True),
            "seen": _fit_group(points[~first], rates, False)}
    maps |= {name: m for name, m in fits.items() if m is not None}
    if weak_map:
        maps["weakest"] = WEAKEST
    if rates is not None and ("first" in maps or "weak_first" in maps):  # their maps read the rate
        maps["first_rates"] = rates
    return maps


def apply(maps: dict, pred, first, answers=None, skills=None, weak=None) -> np.ndarray:
    """The calibrated predicted success: each value through its group's map (identity where a map is missing).
    Maps of ``fit_history`` need ``answers``, the learner's answers so far, per value; maps with first-answer
    rates also ``skills``, each value's skill; maps with a "weak_first" group also ``weak`` (``weakest`` of
    each value's learner × skill, with ``maps["weakest"]``)."""
    pred = np.asarray(pred, dtype=float)
    first = np.asarray(first, dtype=bool)
    out = pred.copy()
    history = bool(maps) and maps.get("kind") == HISTORY
    if history and answers is None:
        raise ValueError("these calibration maps depend on the learner's answers so far: pass answers")
    if history and "first_rates" in maps and skills is None and first.any():
        raise ValueError("these calibration maps read each skill's first-answer rate: pass skills")
    if history and "weak_first" in maps and weak is None and first.any():
        raise ValueError("these calibration maps tell the learner's weakest skills apart: pass weak")
    weak_first = first & np.asarray(weak, dtype=bool) if history and "weak_first" in maps else np.zeros(len(first), bool)
    for name, mask in (("first", first & ~weak_first), ("weak_first", weak_first), ("seen", ~first)):
        m = maps.get(name) if maps else None
        if not m or not mask.any():
            continue
        if history:
            x = history_features(pred[mask], np.minimum(np.asarray(answers, dtype=float)[mask], m.get("max_answers", np.inf)))
            if len(m["coef"]) > x.shape[1]:
                x = np.column_stack([x, _logit(skill_rate(maps["first_rates"], np.asarray(skills, dtype=object)[mask]))])
            z = x @ np.asarray(m["coef"]) + m["intercept"]
            out[mask] = 1 / (1 + np.exp(-z))
        else:
            out[mask] = np.interp(pred[mask], m["x"], m["y"])
    return out
