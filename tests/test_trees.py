"""Decision trees: rule tables reproduce predictions, decision paths, labels, and the champion gate."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from devmentor.training.registry import gate_decision
from models.features import feature_matrix
from models.segments import SEGMENT_FEATURES, choose_labels, rule_based_segment
from models.trees import (
    decide_leaves,
    decide_with_rules,
    explain,
    input_attributes,
    leaf_labels,
    predict_with_rules,
    rule_table,
    train_tree,
)


def _frame(n=600, seed=0):
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({c: rng.random(n) for c in SEGMENT_FEATURES if c not in ("learner_level_ordinal", "format_performance_mismatch")})
    f["learner_level"] = rng.choice(["basic", "intermediate", "advanced"], n)
    f["format_performance_mismatch"] = rng.random(n) < 0.2
    f["days_since_last_activity"] = rng.integers(0, 20, n)
    f["modules_completed"] = rng.integers(0, 12, n)
    f["active_days"] = rng.integers(0, 20, n)
    f.loc[rng.random(n) < 0.1, "format_performance_gap"] = np.nan  # gaps are real: learners without data
    f["user_id"] = [f"u{i}" for i in range(n)]
    return f


def test_rule_table_reproduces_tree_predictions_including_missing_values():
    frame = _frame()
    X = feature_matrix(frame)
    y = rule_based_segment(frame)
    trained = train_tree("primary_classification", X, y, "rule_based", max_depth=6, min_samples_leaf=5)
    rules = rule_table(trained.model, trained.features)
    assert {"rule_id", "feature", "operator", "threshold", "path"} <= set(rules.columns)
    assert len(rules) == 2 * (trained.model.tree_.node_count - trained.model.get_n_leaves())
    predicted = predict_with_rules(rules, leaf_labels(trained.model), X)
    assert predicted == list(trained.model.predict(X))
    # the vectorised walk lands every row in the tree's own leaf, and each leaf's path leads to it
    leaf, paths = decide_leaves(rules, X)
    assert (leaf == trained.model.apply(X)).all()
    by_id = rules.set_index("rule_id")
    for node, path in paths.items():
        assert not path or int(by_id.loc[path[-1], "child_node_id"]) == node


def test_input_attributes_are_json_with_nulls_for_missing_values():
    X = pd.DataFrame({"a": [0.1234567, np.nan], "b": [3.0, 1e-7]})
    assert [json.loads(s) for s in input_attributes(X)] == [{"a": 0.123457, "b": 3.0}, {"a": None, "b": 0.0}]


def test_threshold_override_changes_exactly_the_rows_across_it():
    frame = _frame()
    X = feature_matrix(frame)
    trained = train_tree("t", X, rule_based_segment(frame), "rule_based")
    rules = rule_table(trained.model, trained.features)
    leaves = leaf_labels(trained.model)
    root = rules[rules["node_id"] == 0].copy()
    feature, thr = root["feature"].iloc[0], root["threshold"].iloc[0]
    overridden = rules.copy()
    overridden.loc[overridden["node_id"] == 0, "threshold"] = thr + 0.05
    before = np.array(predict_with_rules(rules, leaves, X))
    after = np.array(predict_with_rules(overridden, leaves, X))
    moved = (X[feature] > thr) & (X[feature] <= thr + 0.05)
    assert (before[~moved.to_numpy()] == after[~moved.to_numpy()]).all()


def test_explain_gives_path_in_ids_and_words():
    frame = _frame()
    X = feature_matrix(frame)
    trained = train_tree("t", X, rule_based_segment(frame), "rule_based")
    decisions = explain(trained.model, trained.features, X.head(5))
    for d, label in zip(decisions, trained.model.predict(X.head(5))):
        assert d.label == label
        assert d.rule_ids[0] in ("R0L", "R0R")
        assert len(d.rule_ids) == len(d.rules_in_words) >= 1
        assert 0 < d.confidence <= 1


def test_train_tree_reports_held_out_metrics_and_fingerprint():
    frame = _frame()
    X = feature_matrix(frame)
    y = rule_based_segment(frame)
    a = train_tree("t", X, y, "rule_based")
    b = train_tree("t", X.sample(frac=1, random_state=3), y.sample(frac=1, random_state=3), "rule_based")
    assert a.data_fingerprint == b.data_fingerprint, "fingerprint does not depend on row order"
    assert a.holdout_rows == len(a.holdout_index) == 150
    assert 0 <= a.metrics["holdout_macro_f1"] <= 1
    # one class (every learner in the same segment, as on ASSISTments) is a one-leaf tree that says so
    one = train_tree("t", X, pd.Series("x", index=X.index), "rule_based")
    assert one.metrics["classes"] == 1 and one.metrics["n_leaves"] == 1 and one.classes == ["x"]
    rules = rule_table(one.model, one.features)
    assert rules.empty and "node_id" in rules.columns
    assert {label for label, _, _ in decide_with_rules(rules, leaf_labels(one.model), X)} == {"x"}


def test_rule_based_segments_follow_their_definitions():
    f = _frame(5)
    f["correct_rate"] = [0.9, 0.3, 0.7, 0.7, 0.6]
    f["hint_rate"] = [0.0, 0.5, 0.1, 0.1, 0.1]
    f["modules_completed"] = [12, 1, 3, 3, 3]
    f["days_since_last_activity"] = [0, 1, 10, 1, 1]
    f["activity_trend"] = [1, 1, 1, 1, 1]
    f["format_performance_mismatch"] = [False, False, False, True, False]
    f["learner_level"] = "intermediate"
    assert list(rule_based_segment(f)) == ["Fast Tracker", "Struggling Novice", "Disengaging", "Format Mismatch", "Steady Progressor"]


def test_annotations_are_used_when_there_are_enough():
    frame = _frame(200)
    few = pd.DataFrame({"user_id": ["u1", "u2"], "segment": ["Fast Tracker", "Disengaging"]})
    assert choose_labels(frame, few)[1] == "rule_based"
    many = pd.DataFrame({"user_id": frame["user_id"][:80], "segment": ["Fast Tracker", "Disengaging"] * 40})
    labels, source = choose_labels(frame, many)
    assert source == "instructor_annotations"
    assert labels.notna().sum() == 80


def test_champion_gate_refuses_a_worse_model():
    champ = {"version": "3", "holdout_macro_f1": 0.90, "holdout_accuracy": 0.91}
    assert gate_decision({"holdout_macro_f1": 0.91, "holdout_accuracy": 0.91}, champ)[0] is True
    assert gate_decision({"holdout_macro_f1": 0.898, "holdout_accuracy": 0.91}, champ)[0] is True  # within tolerance
    ok, reason = gate_decision({"holdout_macro_f1": 0.85, "holdout_accuracy": 0.91}, champ)
    assert ok is False and "holdout_macro_f1 0.8500 < champion 0.9000" in reason
    assert gate_decision({"holdout_macro_f1": 0.1, "holdout_accuracy": 0.1}, None) == (True, "no champion yet")


def test_every_feature_a_tree_may_split_on_has_words_in_the_published_paths():
    """The rule words the published decisions and tutor prompts carry (models.trees.describe_rule) name every
    feature in words, the learner trees' ``ew_`` copies of the early-warning features included."""
    from models.early_warning import FEATURES as EW_FEATURES
    from models.segments import OUTCOME_SEGMENT_FEATURES
    from models.trees import describe_rule, feature_words

    for feature in list(SEGMENT_FEATURES) + list(OUTCOME_SEGMENT_FEATURES) + list(EW_FEATURES):
        text = describe_rule(feature, ">", 0.5)
        assert feature_words(feature) and "_" not in text, (feature, text)
    assert describe_rule("ew_weighted_score", "<=", 40) == "weighted assessment score (current enrolment) at most 40"
