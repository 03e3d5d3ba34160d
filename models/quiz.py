"""Quiz assembly: each learner's next quiz of N questions, aimed at weak skills at a suitable difficulty.

Questions come from modules the learner can work on (open or mastered on the learning path,
never locked), skip anything the learner attempted recently, and are ranked so the quiz
interleaves the weakest skills (lowest P(known) first, unmastered before mastered) and,
within a skill, prefers questions whose predicted success is closest to the target (70%).
The question is chosen on the BKT prediction with the question's own guess and slip, from P(known) at the
next attempt (``p_next``: after the learn / forget step that follows the last answer; ``p_known``, the
posterior after the last answer, when the mastery rows lack it). A question tagged with several skills
is one question, answered right only when all its skills hold: its predicted success is the LOWEST over its
skills, and it appears once, under its weakest skill. (On ASSISTments the real multi-skill answers after a
cut were right 0.542 of the time at F = 10; the lowest of their skills' published figures said 0.533, the
mean 0.585; at F = 5 and 20 the same: 0.570 / 0.535 / 0.586 and 0.547 / 0.537 / 0.594. ``quiz-2`` took the mean.)

The PUBLISHED ``predicted_success`` is, when the mastery rows carry one, the lowest over the question's skills
of the mastery rows' skill-level ``predicted_success``: the calibrated prediction of the learner's next
answer on the skill on whatever question it comes (``models/calibration.py``), not the question-specific
figure the choice aimed at 70% with (that one assumes the quiz's own, often easiest, question is answered).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.frames import IdCodes, sort_rows

ALGORITHM = "quiz-3"
TARGET_SUCCESS = 0.7
SIZE = 5  # questions in a quiz unless told otherwise (settings.quiz_size)


def _weakest_skills(usable: pd.DataFrame, questions: pd.DataFrame, mastery: pd.DataFrame, seen: pd.DataFrame,
                    n: int) -> pd.DataFrame:
    """Per learner, the ``n`` weakest skills (unmastered first, lowest P(known) first) that still have a question
    the learner has not seen recently in a usable module: the only skills a quiz of ``n`` can draw on, so the
    questions of the others are never paired with the learner (100 skills × 16,000 questions × 3,000 learners
    would be 5 billion pairs)."""
    per_module = questions.groupby(["module_id", "skill_id"]).size().rename("questions").reset_index()
    pairs = usable.merge(per_module, on="module_id").groupby(["user_id", "skill_id"])["questions"].sum().reset_index()
    used = seen.merge(questions[["question_id", "module_id", "skill_id"]], on="question_id").merge(usable, on=["user_id", "module_id"])
    used = used.groupby(["user_id", "skill_id"]).size().rename("used").reset_index()
    pairs = pairs.merge(used, on=["user_id", "skill_id"], how="left")
    pairs = pairs[pairs["questions"] > pairs["used"].fillna(0)]
    pairs = pairs.merge(mastery[["user_id", "skill_id", "p_known", "mastered"]], on=["user_id", "skill_id"], how="left")
    pairs["p_known"] = pairs["p_known"].fillna(0.0)
    pairs["mastered"] = pairs["mastered"].fillna(False).astype(bool)
    pairs["s_rank"] = weakness_rank(pairs["user_id"], pairs["skill_id"], pairs["p_known"], pairs["mastered"])
    pairs = sort_rows(pairs, ["user_id", "s_rank"])
    return pairs[pairs["s_rank"] < n][["user_id", "skill_id", "p_known", "mastered", "s_rank"]]


def weakness_rank(user_id, skill_id, p_known, mastered) -> np.ndarray:
    """Each learner × skill row's place among the learner's skills, weakest first (0): unmastered before
    mastered, then lowest P(known), then skill id. The quiz draws on each learner's weakest skills in this
    order; the calibration of a learner's weakest skills (``models/calibration.weakest``) ranks the same way."""
    users = pd.factorize(np.asarray(user_id))[0]
    skills = np.asarray(skill_id)  # integer codes (IdCodes) order as their strings do; strings compare as text
    skills = skills if np.issubdtype(skills.dtype, np.integer) else skills.astype(object).astype(str)
    order = np.lexsort((skills, np.asarray(p_known, dtype=float),
                        np.asarray(mastered, dtype=bool), users))
    sorted_users = users[order]
    start = np.r_[True, sorted_users[1:] != sorted_users[:-1]] if len(order) else np.zeros(0, bool)
    first_of_group = np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - first_of_group
    return rank


def assemble(
    questions: pd.DataFrame,
    paths: pd.DataFrame,
    mastery: pd.DataFrame,
    item_params: pd.DataFrame,
    recent: pd.DataFrame,
    n: int = SIZE,
) -> pd.DataFrame:
    """The next quiz per learner with a path.

    - ``questions``: question_id, module_id, skill_id, difficulty (a multi-skill question: one row per skill)
    - ``paths``: learning_paths() output
    - ``mastery``: user_id, skill_id, p_known, mastered[, p_next]
    - ``item_params``: question_id, guess, slip (skills' values for questions without their own)
    - ``recent``: user_id, question_id attempted inside the no-repeat window
    """
    if n < 1:
        raise ValueError(f"quiz size must be at least 1, got {n}")
    frames = {"questions": questions, "paths": paths, "mastery": mastery, "item_params": item_params, "recent": recent}
    return IdCodes.run(_assemble, frames, ID_KINDS, n=n)


# The ids the quiz joins, groups and sorts on: it works on their integer codes (models/frames.IdCodes).
ID_KINDS = {"user_id": "user", "question_id": "question", "module_id": "module", "skill_id": "skill"}


def _assemble(codes: IdCodes, questions, paths, mastery, item_params, recent, n: int) -> pd.DataFrame:
    """assemble() on frames whose id columns are integer codes."""
    usable = paths.loc[paths["status"] != "locked", ["user_id", "module_id"]]
    qs = questions[["question_id", "module_id", "skill_id", "difficulty"]]
    seen = recent[["user_id", "question_id"]].drop_duplicates()
    skills = _weakest_skills(usable, qs, mastery, seen, n)
    cand = skills.merge(qs, on="skill_id").merge(usable, on=["user_id", "module_id"])
    cand = cand.merge(seen.assign(seen=True), on=["user_id", "question_id"], how="left")
    cand = cand[cand["seen"].isna()].drop(columns="seen")
    # a question of several kept skills appears once, under the weakest
    cand = sort_rows(cand, ["user_id", "question_id", "s_rank"]).drop_duplicates(["user_id", "question_id"])
    cand = cand.merge(item_params[["question_id", "guess", "slip"]], on="question_id", how="left")
    cand["guess"] = cand["guess"].fillna(0.2)
    cand["slip"] = cand["slip"].fillna(0.1)
    item_level, skill_level = _predicted_success(cand, qs, mastery)
    cand["fit"] = (item_level - TARGET_SUCCESS).abs()
    cand["predicted_success"] = skill_level if "predicted_success" in mastery.columns else item_level
    cand = sort_rows(cand, ["user_id", "skill_id", "fit", "question_id"])
    cand["q_rank"] = cand.groupby(["user_id", "skill_id"]).cumcount()
    cand = sort_rows(cand, ["user_id", "mastered", "q_rank", "s_rank"])
    cand["position"] = cand.groupby("user_id").cumcount() + 1
    quiz = cand[cand["position"] <= n].copy()
    quiz["reason"] = np.where(quiz["mastered"], "keep_sharp", "weak_skill")
    cols = ["user_id", "position", "question_id", "module_id", "skill_id", "difficulty", "p_known", "predicted_success", "reason"]
    return quiz[cols].reset_index(drop=True)


def _predicted_success(cand: pd.DataFrame, questions: pd.DataFrame, mastery: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per candidate row: (the lowest over the question's skills of BKT with the question's guess and slip, the
    lowest over them of the mastery rows' skill-level ``predicted_success``, NaN where the rows lack it)."""
    col = "p_next" if "p_next" in mastery.columns else "p_known"
    per_skill = cand[["user_id", "question_id", "guess", "slip"]]
    if questions["question_id"].duplicated().any():
        per_skill = per_skill.merge(questions[["question_id", "skill_id"]], on="question_id")
    else:
        per_skill = per_skill.assign(skill_id=cand["skill_id"].to_numpy())
    extra = [c for c in (col, "predicted_success") if c != "p_known" and c in mastery.columns]
    per_skill = per_skill.merge(mastery[["user_id", "skill_id", "p_known"] + extra], on=["user_id", "skill_id"], how="left")
    p = per_skill[col].fillna(per_skill["p_known"]).fillna(0.0)
    per_skill["ps"] = p * (1 - per_skill["slip"]) + (1 - p) * per_skill["guess"]
    per_skill["skill_ps"] = per_skill["predicted_success"] if "predicted_success" in extra else np.nan
    low = per_skill.groupby(["user_id", "question_id"])[["ps", "skill_ps"]].min().round(4)
    low = low.reindex(pd.MultiIndex.from_frame(cand[["user_id", "question_id"]]))
    return (pd.Series(low["ps"].to_numpy(), index=cand.index), pd.Series(low["skill_ps"].to_numpy(), index=cand.index))
