"""Next-response evaluation of a mastery model on held-out learners (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models import mastery


@dataclass
class Evaluation:
    auc: float
    auc_rows: float  # counting every multi-skill copy (inflated; for comparison only)
    responses: int
    rows: int
    skills_unseen: int


def sequence_groups(df: pd.DataFrame) -> np.ndarray:
    """One group id per learner × skill."""
    return df.groupby(["user_id", "skill_id"], sort=False).ngroup().to_numpy()


def fit_assistments(train: pd.DataFrame, items: bool = True, forgets: bool = True, individual: bool = True) -> mastery.BKTParams:
    """Fit on ASSISTments-shaped rows (user_id, seq, problem_id, skill_id, correct)."""
    params = mastery.fit(
        train["skill_id"].to_numpy(), sequence_groups(train), train["correct"].to_numpy(), train["seq"].to_numpy(),
        items_of_rows=train["problem_id"].to_numpy() if items else None, forgets=forgets,
    )
    if individual:
        mastery.fit_ability_weight(
            params, train.groupby("user_id", sort=False).ngroup().to_numpy(), params.index(train["skill_id"].to_numpy()),
            train["correct"].to_numpy(), train["seq"].to_numpy(),
            params.item_index(train["problem_id"].to_numpy()) if items else None,
        )
    return params


def evaluate_next_response(params: mastery.BKTParams, test: pd.DataFrame) -> Evaluation:
    """Predict every test response before it is seen; a multi-skill response is predicted once (mean over its skills)."""
    p = params.with_default()
    idx = p.index(test["skill_id"].to_numpy())
    unseen = int((idx < 0).sum())
    idx = np.where(idx < 0, len(p.skills) - 1, idx)
    item_idx = p.item_index(test["problem_id"].to_numpy()) if len(p.items) else None
    learners = test.groupby("user_id", sort=False).ngroup().to_numpy()
    predicted, _ = mastery.trace(p, learners, idx, test["correct"].to_numpy(), test["seq"].to_numpy(), item_idx)
    per_row = pd.DataFrame({"response_id": test["response_id"].to_numpy(), "pred": predicted,
                            "correct": test["correct"].to_numpy()})
    per_response = per_row.groupby("response_id").agg(pred=("pred", "mean"), correct=("correct", "first"))
    return Evaluation(
        auc=float(roc_auc_score(per_response["correct"], per_response["pred"])),
        auc_rows=float(roc_auc_score(per_row["correct"], per_row["pred"])),
        responses=len(per_response),
        rows=len(per_row),
        skills_unseen=unseen,
    )
