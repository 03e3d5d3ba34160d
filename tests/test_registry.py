"""The champion gate against a real MLflow registry (SQLite in a temporary directory)."""

from __future__ import annotations

import pandas as pd
import pytest

from devmentor.training.registry import CHAMPION, log_and_register
from models.features import feature_matrix
from models.segments import rule_based_segment
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


def test_a_logged_tree_names_what_loading_it_needs_pinned_to_this_environment(mlflow_in_tmp):
    """The model's requirements are the packages that load it, at the installed versions, not what MLflow infers
    by loading the model in a fresh process (9-12 s a model; it listed pytest, polars and rich from the caller)."""
    from importlib.metadata import version

    from devmentor.training.registry import MODEL_PACKAGES

    ml = mlflow_in_tmp
    frame = _frame(300, seed=2)
    X, y = feature_matrix(frame), rule_based_segment(frame)
    tree = train_tree("primary_classification", X, y, "rule_based", max_depth=3)
    registered = log_and_register(ml, tree, X.loc[tree.holdout_index], y.loc[tree.holdout_index])
    path = ml.artifacts.download_artifacts(f"{registered.model_uri}/requirements.txt")
    with open(path) as f:
        lines = {line.strip() for line in f if line.strip()}
    assert lines == {f"{p}=={version(p)}" for p in MODEL_PACKAGES}
    model = ml.sklearn.load_model(registered.model_uri)  # loads from what was logged
    assert list(model.predict(X.head(5))) == list(tree.model.predict(X.head(5)))


def test_no_champion_yet_is_none_but_a_registry_outage_fails_closed(mlflow_in_tmp, monkeypatch):
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE

    from devmentor.training.registry import champion_scores, champion_version

    ml = mlflow_in_tmp
    assert champion_version(ml, "primary_classification") is None  # nothing registered: a real "no champion"

    def outage(self, name, alias):
        raise MlflowException("registry is down", error_code=TEMPORARILY_UNAVAILABLE)

    monkeypatch.setattr(ml.MlflowClient, "get_model_version_by_alias", outage)
    frame = _frame(200, seed=2)
    with pytest.raises(MlflowException, match="registry is down"):
        champion_scores(ml, "primary_classification", feature_matrix(frame), rule_based_segment(frame))


def test_held_out_learners_are_fixed_by_their_id_across_retrains():
    frame = _frame(1200, seed=8)
    X, y = feature_matrix(frame), rule_based_segment(frame)
    keys = frame["user_id"]
    first = train_tree("t", X, y, "rule_based", holdout_keys=keys)
    # A retrain on more data, rows in another order: every learner held out before is still held out.
    more = _frame(1600, seed=9)
    more["user_id"] = [f"extra-{i}" for i in range(len(more))]
    both = pd.concat([frame, more], ignore_index=True).sample(frac=1, random_state=4)
    second = train_tree("t", feature_matrix(both), rule_based_segment(both), "rule_based", holdout_keys=both["user_id"])
    held_first = set(frame.loc[first.holdout_index, "user_id"])
    held_second = set(both.loc[second.holdout_index, "user_id"])
    assert held_first and held_first <= held_second
    assert not (held_first & set(both.loc[~both.index.isin(second.holdout_index), "user_id"]))
