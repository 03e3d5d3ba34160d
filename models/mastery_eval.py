"""Next-response evaluation of a mastery model on held-out learners (no I/O).

Protocol: fit on the train learners, then predict every response of the test learners before it is
seen. A problem tagged with several skills arrives as one row per skill sharing a ``response_id``;
the copies are traced as one answer (``mastery.trace(..., response=...)``: all predicted from the
state before the answer, the learner's residual updated once) and the answer is scored once, at
the mean of its copies' predictions. ``leaky=True`` keeps the earlier path, which traced the copies
as consecutive answers so one copy's outcome reached the next copy's individualised prior; it is
there only to show what the leak was worth (``benchmarks/bench_mastery.py``).
"""

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


def response_ids(df: pd.DataFrame) -> np.ndarray:
    """The answer each row belongs to: ``response_id`` (else one answer per user_id × seq), one copy per skill.

    A response that lists a skill again starts a new answer at that row (the reader's rule for a
    problem answered twice in a row with the same outcome; 19 responses in ASSISTments 2009 come
    merged), so each answer has one row per skill, as ``mastery.trace`` requires.
    """
    if "response_id" in df.columns:
        base = df["response_id"].to_numpy(dtype=np.int64)
    else:
        base = df.groupby(["user_id", "seq"], sort=False).ngroup().to_numpy()
    skills = df["skill_id"].to_numpy()
    part = np.zeros(len(df), dtype=np.int64)
    again = pd.DataFrame({"response": base, "skill": skills}).duplicated().to_numpy()
    repeated = np.isin(base, base[again])
    order = df["seq"].to_numpy()
    for rows in pd.Series(np.flatnonzero(repeated)).groupby(base[repeated]).agg(list):
        rows = np.asarray(rows)[np.argsort(order[rows], kind="stable")]
        seen: set = set()
        k = 0
        for row in rows:
            if skills[row] in seen:
                k, seen = k + 1, set()
            seen.add(skills[row])
            part[row] = k
    if not part.any():
        return base
    return pd.MultiIndex.from_arrays([base, part]).factorize()[0].astype(np.int64)


def fit_assistments(train: pd.DataFrame, items: bool = True, forgets: bool = True, individual: bool = True,
                    leaky: bool = False) -> mastery.BKTParams:
    """Fit on ASSISTments-shaped rows (user_id, seq, problem_id, skill_id, correct[, response_id]).

    The ability weight is chosen on traces that group each answer's copies (``leaky=True``: the
    earlier per-row traces, for comparison only).
    """
    params = mastery.fit(
        train["skill_id"].to_numpy(), sequence_groups(train), train["correct"].to_numpy(), train["seq"].to_numpy(),
        items_of_rows=train["problem_id"].to_numpy() if items else None, forgets=forgets,
    )
    if individual:
        mastery.fit_ability_weight(
            params, train.groupby("user_id", sort=False).ngroup().to_numpy(), params.index(train["skill_id"].to_numpy()),
            train["correct"].to_numpy(), train["seq"].to_numpy(),
            params.item_index(train["problem_id"].to_numpy()) if items else None,
            response=None if leaky else response_ids(train),
        )
    return params


@dataclass(frozen=True)
class TraceBefore:
    """Every row of a test frame traced in its learner's order: P(correct) before its answer is seen, and the
    indexes the trace used (skill, item, learner, answer id) so callers can derive more from the same trace."""

    params: mastery.BKTParams
    predicted: np.ndarray
    skill: np.ndarray
    item: np.ndarray | None
    learner: np.ndarray
    response: np.ndarray


def trace_before(params: mastery.BKTParams, test: pd.DataFrame, leaky: bool = False) -> TraceBefore:
    """Trace ``test`` (user_id, seq, problem_id, skill_id, correct[, response_id]); unknown skills take the
    default skill. ``leaky`` traces each copy of a multi-skill answer on its own (the old, inflated way)."""
    p = params.with_default()
    idx = p.index(test["skill_id"].to_numpy())
    idx = np.where(idx < 0, len(p.skills) - 1, idx)
    item_idx = p.item_index(test["problem_id"].to_numpy()) if len(p.items) else None
    learners = test.groupby("user_id", sort=False).ngroup().to_numpy()
    response = response_ids(test)
    predicted, _ = mastery.trace(p, learners, idx, test["correct"].to_numpy(), test["seq"].to_numpy(), item_idx,
                                 response=None if leaky else response)
    return TraceBefore(p, predicted, idx, item_idx, learners, response)


def predict_next_response(params: mastery.BKTParams, test: pd.DataFrame, leaky: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(P(correct) of every row predicted before its answer is seen, the answer id of every row), in ``test``'s row order."""
    traced = trace_before(params, test, leaky)
    return traced.predicted, traced.response


def evaluate_next_response(params: mastery.BKTParams, test: pd.DataFrame, leaky: bool = False) -> Evaluation:
    """Predict every test response before it is seen; a multi-skill response is predicted once (mean over its skills).

    ``leaky=True`` traces the copies as consecutive answers (the earlier path, for comparison only).
    """
    unseen = int((params.with_default().index(test["skill_id"].to_numpy()) < 0).sum())
    correct = test["correct"].to_numpy()
    predicted, response = predict_next_response(params, test, leaky)
    if leaky and "response_id" in test.columns:
        response = test["response_id"].to_numpy()  # the earlier scoring too, so the old figure is reproduced exactly
    pred_resp, correct_resp = mastery.per_response(predicted, correct, response)
    return Evaluation(
        auc=float(roc_auc_score(correct_resp, pred_resp)),
        auc_rows=float(roc_auc_score(correct, predicted)),
        responses=len(pred_resp),
        rows=len(predicted),
        skills_unseen=unseen,
    )
