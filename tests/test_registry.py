"""The champion gate against a real MLflow registry (SQLite in a temporary directory)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from devmentor.training.registry import CHAMPION, log_and_register
from models.segments import rule_based_segment
from models.features import feature_matrix
from models.trees import train_tree
from tests.test_trees import _frame


@pytest.fixture
def mlflow_in_tmp(tmp_path):
    import mlflow

    from devmentor.training.mlflow_store import MlflowStore

    resource = MlflowStore(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=tmp_path / "artifacts")
    yield resource.setup()
    mlflow.set_tracking_uri(None)


def test_gate_promotes_a_good_model_and_refuses_a_worse_one(mlflow_in_tmp):
    ml = mlflow_in_tmp
    frame = _frame(1200, seed=8)
    X = feature_matrix(frame)
    y = rule_based_segment(frame)
    good = train_tree("primary_classification", X, y, "rule_based", max_depth=6, min_samples_leaf=5)
    holdout_X, holdout_y = X.loc[good.holdout_index], y.loc[good.holdout_index]
    first = log_and_register(ml, good, holdout_X, holdout_y)
    assert first.promoted and first.gate["reason"] == "no champion yet"
    # A deliberately worse tree: depth 1 cannot separate five segments.
    worse = train_tree("primary_classification", X, y, "rule_based", max_depth=1)
    second = log_and_register(ml, worse, holdout_X, holdout_y)
    assert second.promoted is False
    assert "worse than champion v1" in second.gate["reason"]
    client = ml.MlflowClient()
    assert str(client.get_model_version_by_alias("primary_classification", CHAMPION).version) == first.version
    assert {str(v.version) for v in client.search_model_versions("name='primary_classification'")} == {"1", "2"}
    # The refused version is still registered and its retraining log says why.
    log = ml.artifacts.load_dict(f"runs:/{second.run_id}/retraining_log.json")
    assert log["changes_made"]["promoted"] is False and log["changes_made"]["previous_champion"] == "1"
    assert log["changes_made"]["params_changed"]["max_depth"] == {"from": "6", "to": "1"}
    assert log["data_points_used"] == {"training": worse.training_rows, "holdout": worse.holdout_rows}
    # An equally good retraining on the same data is promoted.
    third = log_and_register(ml, train_tree("primary_classification", X, y, "rule_based", max_depth=6, min_samples_leaf=5), holdout_X, holdout_y)
    assert third.promoted and str(client.get_model_version_by_alias("primary_classification", CHAMPION).version) == "3"
