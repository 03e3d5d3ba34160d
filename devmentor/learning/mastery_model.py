"""The mastery model's life cycle: fit BKT on the warehouse's attempts, log it to MLflow, keep its parameters in the lake."""

from __future__ import annotations

import json
from dataclasses import dataclass

from devmentor.learning.engine import FIT_SAMPLE_LEARNERS, fit_mastery, load_attempts
from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse
from devmentor.training.mlflow_store import MlflowStore
from models import mastery

MASTERY_EXPERIMENT = "mastery_bkt"


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
        raise NoMasteryModel("no quiz attempts in intermediate.int_quiz_attempts_enriched: nothing to fit mastery on")
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
