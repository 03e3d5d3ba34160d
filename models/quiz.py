"""Quiz assembly: each learner's next quiz of N questions, aimed at weak skills at a suitable difficulty.

Questions come from modules the learner can work on (open or mastered on the learning path,
never locked), skip anything the learner attempted recently, and are ranked so the quiz
interleaves the weakest skills (lowest P(known) first, unmastered before mastered) and,
within a skill, prefers questions whose predicted success is closest to the target (70%).
Predicted success is the BKT prediction with the question's own guess and slip.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALGORITHM = "quiz-1"
TARGET_SUCCESS = 0.7


def assemble(
    questions: pd.DataFrame,
    paths: pd.DataFrame,
    mastery: pd.DataFrame,
    item_params: pd.DataFrame,
    recent: pd.DataFrame,
    n: int = 5,
) -> pd.DataFrame:
    """The next quiz per learner with a path.

    - ``questions``: question_id, module_id, skill_id, difficulty
    - ``paths``: learning_paths() output
    - ``mastery``: user_id, skill_id, p_known, mastered
    - ``item_params``: question_id, guess, slip (skills' values for questions without their own)
    - ``recent``: user_id, question_id attempted inside the no-repeat window
    """
    if n < 1:
        raise ValueError(f"quiz size must be at least 1, got {n}")
    usable = paths.loc[paths["status"] != "locked", ["user_id", "module_id"]]
    cand = usable.merge(questions[["question_id", "module_id", "skill_id", "difficulty"]], on="module_id")
    seen = recent[["user_id", "question_id"]].drop_duplicates().assign(seen=True)
    cand = cand.merge(seen, on=["user_id", "question_id"], how="left")
    cand = cand[cand["seen"].isna()].drop(columns="seen")
    cand = cand.merge(mastery[["user_id", "skill_id", "p_known", "mastered"]], on=["user_id", "skill_id"], how="left")
    cand["p_known"] = cand["p_known"].fillna(0.0)
    cand["mastered"] = cand["mastered"].fillna(False).astype(bool)
    cand = cand.merge(item_params[["question_id", "guess", "slip"]], on="question_id", how="left")
    cand["guess"] = cand["guess"].fillna(0.2)
    cand["slip"] = cand["slip"].fillna(0.1)
    cand["predicted_success"] = (cand["p_known"] * (1 - cand["slip"]) + (1 - cand["p_known"]) * cand["guess"]).round(4)
    cand["fit"] = (cand["predicted_success"] - TARGET_SUCCESS).abs()
    cand = cand.sort_values(["user_id", "skill_id", "fit", "question_id"])
    cand["q_rank"] = cand.groupby(["user_id", "skill_id"]).cumcount()
    skills = cand[["user_id", "skill_id", "p_known", "mastered"]].drop_duplicates(["user_id", "skill_id"])
    skills = skills.sort_values(["user_id", "mastered", "p_known", "skill_id"])
    skills["s_rank"] = skills.groupby("user_id").cumcount()
    cand = cand.merge(skills[["user_id", "skill_id", "s_rank"]], on=["user_id", "skill_id"])
    cand = cand.sort_values(["user_id", "mastered", "q_rank", "s_rank"])
    cand["position"] = cand.groupby("user_id").cumcount() + 1
    quiz = cand[cand["position"] <= n].copy()
    quiz["reason"] = np.where(quiz["mastered"], "keep_sharp", "weak_skill")
    cols = ["user_id", "position", "question_id", "module_id", "skill_id", "difficulty", "p_known", "predicted_success", "reason"]
    return quiz[cols].reset_index(drop=True)
