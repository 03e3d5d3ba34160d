"""The mastery model's life cycle: fit BKT on the warehouse's attempts, log it to MLflow, keep its parameters in the lake."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from devmentor.learning.engine import load_attempts, response_of
from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse
from devmentor.training.mlflow_store import MlflowStore
from models import calibration, mastery
from models.mastery_eval import Evaluation

MASTERY_EXPERIMENT = "mastery_bkt"


FIT_SAMPLE_LEARNERS = 20_000


def fit_sample(frame: pd.DataFrame, max_learners: int, seed: int = 0) -> pd.DataFrame:
    """At most ``max_learners`` learners' attempts (all of them when fewer), plus, for any question or skill
    the sample misses, the first learner who attempted it: BKT's parameters are per skill and question,
    so a fixed-size sample estimates them as well as everyone does, at a fixed cost."""
    users = frame["user_id"].unique()
    if len(users) <= max_learners:
        return frame
    chosen = set(np.random.default_rng(seed).choice(users, size=max_learners, replace=False))
    sample = frame["user_id"].isin(chosen)
    for col in ("problem_id", "skill_id"):
        missing = ~frame[col].isin(set(frame.loc[sample, col]))
        chosen |= set(frame.loc[missing].drop_duplicates(col)["user_id"])
        sample = frame["user_id"].isin(chosen)
    return frame[sample]


def fit_mastery(attempts: pd.DataFrame, holdout_share: float = 0.2, seed: int = 0,
                max_learners: int = FIT_SAMPLE_LEARNERS) -> tuple[mastery.BKTParams, Evaluation]:
    """Fit BKT on attempts (of at most ``max_learners`` learners, see fit_sample); the held-out figure
    comes from a fit on 80% of those learners, predicting the other 20%."""
    from models.mastery_eval import evaluate_next_response, fit_assistments

    frame = pd.DataFrame({
        "user_id": attempts["user_id"].to_numpy(), "seq": np.arange(len(attempts)),
        "problem_id": attempts["question_id"].to_numpy(), "skill_id": attempts["skill_id"].to_numpy(),
        "correct": attempts["is_correct"].astype(int).to_numpy(), "course_id": attempts["course_id"].to_numpy(),
    })
    frame["response_id"] = response_of(attempts)  # a multi-skill answer's rows: one answer, scored once
    frame = fit_sample(frame, max_learners, seed)
    users = frame["user_id"].unique()
    rng = np.random.default_rng(seed)
    test_users = set(rng.choice(users, size=max(1, int(len(users) * holdout_share)), replace=False))
    is_test = frame["user_id"].isin(test_users)
    held_out_params = fit_assistments(frame[~is_test])
    evaluation = evaluate_next_response(held_out_params, frame[is_test])
    params = fit_assistments(frame)
    # the published skill-level predicted success is recalibrated on the answers the fit has, each learner's
    # history cut at random points, as the engine publishes it at an as-of (models/calibration.py)
    params.calibration = calibration.fit_history(calibration.points_at_cuts(params, frame),
                                                 calibration.first_answer_rates(frame))
    return params, evaluation


class NoMasteryModel(RuntimeError):
    """The learning engine needs a fitted mastery model; the message says how to make one."""


@dataclass
class FittedMastery:
    version: str
    run_id: str
    params: mastery.BKTParams
    holdout_auc: float
    heldout_responses: int
    attempts: int
    learners: int


def params_path(lake: Lake):
    return lake.ml_path("mastery/params.json")


def load_params(lake: Lake) -> tuple[mastery.BKTParams, str]:
    path = params_path(lake)
    if not path.exists():
        raise NoMasteryModel(
            f"no mastery model at {path}: materialize ml/mastery_model first "
            "(`devmentor materialize --select 'key:ml/mastery_model'`, or run the full pipeline).")
    d = json.loads(path.read_text())
    return mastery.BKTParams.from_dict(d["params"]), d["version"]


def fit_and_log(warehouse: Warehouse, lake: Lake, mlflow: MlflowStore, run_tags: dict[str, str]) -> FittedMastery:
    """BKT fitted by EM on every quiz attempt (a capped sample of learners), logged to MLflow, saved to the lake."""
    with warehouse.connect() as con:
        attempts = load_attempts(con)
    if attempts.empty:
        raise NoMasteryModel("no quiz attempts in marts.fct_learning_attempts: nothing to fit mastery on")
    params, evaluation = fit_mastery(attempts)
    learners = int(attempts["user_id"].nunique())
    ml = mlflow.setup(MASTERY_EXPERIMENT)
    with ml.start_run(run_name="bkt", tags={**run_tags, "algorithm": mastery.ALGORITHM}) as run:
        ml.log_params({"algorithm": mastery.ALGORITHM, "skills": len(params.skills), "items": len(params.items),
                       "ability_weight": params.ability_weight, "em_iterations": params.iterations,
                       "attempts": len(attempts), "learners": learners, "fit_sample_learners": FIT_SAMPLE_LEARNERS})
        ml.log_metrics({"holdout_auc": evaluation.auc, "train_log_likelihood": params.log_likelihood})
        ml.log_dict(params.to_dict(), "bkt_params.json")
    version = f"{mastery.ALGORITHM}:{run.info.run_id[:12]}"
    path = params_path(lake)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": version, "mlflow_run_id": run.info.run_id, "params": params.to_dict(),
                               "holdout_auc": evaluation.auc}))
    tmp.replace(path)
    return FittedMastery(version, run.info.run_id, params, evaluation.auc, evaluation.responses, len(attempts), learners)
