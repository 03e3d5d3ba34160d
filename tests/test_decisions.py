"""Decision Tree Manager logic: threshold overrides, intervention policy, prompts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.features import feature_matrix
from models.interventions import rule_based_intervention
from models.prompts import render_prompt
from models.segments import rule_based_segment
from models.thresholds import OverrideError, apply_overrides, load_overrides
from models.trees import decide_with_rules, leaf_labels, rule_table, train_tree
from tests.test_trees import _frame


@pytest.fixture(scope="module")
def tree():
    frame = _frame(800, seed=4)
    X = feature_matrix(frame)
    trained = train_tree("primary_classification", X, rule_based_segment(frame), "rule_based", max_depth=4)
    return trained, X


def _write(tmp_path, text):
    p = tmp_path / "overrides.yml"
    p.write_text(text)
    return p


def test_override_changes_exactly_the_decisions_across_the_moved_threshold(tree, tmp_path):
    trained, X = tree
    rules = rule_table(trained.model, trained.features)
    root = rules[rules["rule_id"] == "R0L"].iloc[0]
    values = X[root["feature"]].dropna().to_numpy()
    new = float(np.quantile(values[values > root["threshold"]], 0.3))  # moves about 30% of the right branch
    overrides = load_overrides(_write(tmp_path, f"version: 7\noverrides:\n  primary_classification:\n"
                                                f"    - feature: {root['feature']}\n      threshold: {root['threshold']}\n"
                                                f"      new_threshold: {new}\n      reason: earlier support\n      author: t\n"))
    table, applied = apply_overrides(rules, overrides.for_tree("primary_classification"))
    assert applied[0]["applied"] and applied[0]["node_id"] == 0 and applied[0]["trained_threshold"] == root["threshold"]
    assert table.loc[table["node_id"] == 0, "overridden"].all()
    leaves = leaf_labels(trained.model)
    before = decide_with_rules(rules, leaves, X)
    after = decide_with_rules(table, leaves, X)
    v = X[root["feature"]].to_numpy()
    moved = (v > root["threshold"]) & (v <= new)
    changed_path = np.array([b[2] != a[2] for b, a in zip(before, after)])
    assert (changed_path == moved).all(), "exactly the learners between old and new threshold take another path"
    assert moved.sum() > 0
    # Recorded: the path of a moved learner names the new threshold.
    i = int(np.argmax(moved))
    assert after[i][2][0] == "R0L"


def test_override_that_matches_no_split_is_reported_not_applied(tree, tmp_path):
    trained, _ = tree
    rules = rule_table(trained.model, trained.features)
    overrides = load_overrides(_write(tmp_path, "version: 2\noverrides:\n  primary_classification:\n"
                                                "    - feature: gpa\n      threshold: 9.99\n      new_threshold: 1\n"))
    table, applied = apply_overrides(rules, overrides.for_tree("primary_classification"))
    assert applied == [{**applied[0], "applied": False, "why_not": "no such split in this tree version"}]
    assert (table["threshold"] == rules["threshold"]).all()


@pytest.mark.parametrize(
    "text, message",
    [
        ("overrides: {}\n", "field 'version' is required"),
        ("version: 1\noverrides:\n  t:\n    - feature: x\n      threshold: 1\n", "overrides.t[0]: field 'new_threshold' is required"),
        ("version: 1\noverrides:\n  t:\n    - new_threshold: 2\n", "give either 'rule_id' or both 'feature' and 'threshold'"),
        ("version: 1\noverrides:\n  t:\n    - rule_id: R0L\n      new_threshold: high\n", "must be numbers"),
        ("version: [1\n", "not valid YAML"),
    ],
)
def test_bad_override_files_name_the_file_entry_and_field(tmp_path, text, message):
    with pytest.raises(OverrideError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        load_overrides(_write(tmp_path, text))
    assert str(tmp_path / "overrides.yml") in str(err.value)


def test_missing_override_file_means_no_overrides(tmp_path):
    assert load_overrides(tmp_path / "none.yml").overrides == []


def test_intervention_policy_priorities():
    f = pd.DataFrame({
        "correct_rate": [0.3, 0.7, 0.7, 0.5, 0.95, 0.7],
        "hint_rate": [0.5, 0.1, 0.1, 0.1, 0.0, 0.1],
        "avg_retries": [1, 0, 0, 0, 0, 0],
        "days_since_last_activity": [10, 9, 1, 1, 1, 1],
        "activity_trend": [1, 1, 1, 1, 1, 1],
        "active_days": [5, 5, 5, 5, 5, 5],
        "format_performance_gap": [0, 0, -0.3, 0, 0, 0],
        "format_performance_mismatch": [False, False, True, False, False, False],
        "avg_question_difficulty": [0.5] * 6,
        "modules_completed": [1] * 6,
        "chat_confusion_rate": [0, 0, 0, 0, 0, 0],
        "user_messages": [0] * 6,
    })
    assert list(rule_based_intervention(f)) == [
        "Escalate to Tutor", "Re-engagement Nudge", "Switch Format", "Remedial Review", "Raise Challenge", "Continue Path"]


def test_prompt_names_learner_decisions_reasons_and_guidance():
    prompt = render_prompt(
        {"user_id": "u42", "learner_level": "basic", "format_preference": "video", "correct_rate": 0.41,
         "hint_rate": float("nan"), "weak_topics": ["T1", "T2"], "dominant_format": "text"},
        segment="Struggling Novice", segment_version="3", segment_reasons=["share of quiz answers correct at most 0.5"],
        intervention="Remedial Review", intervention_version="2", intervention_reasons=["x at most 1"],
        recommendations=["Review T1 (text)"],
    )
    for text in ("u42", "Struggling Novice", "primary_classification v3", "Remedial Review", "41%",
                 "T1, T2", "Review T1 (text)", "worked example", "share of quiz answers correct at most 0.5"):
        assert text in prompt, text
    assert "unknown" not in prompt and "hints" not in prompt  # the unknown hint rate is left out (issue 21)


def test_prompt_accepts_array_and_missing_topic_lists():
    base = dict(segment="Fast Tracker", segment_version="1", segment_reasons=[], intervention="Raise Challenge",
                intervention_version="1", intervention_reasons=[])
    assert "T9, T8" in render_prompt({"user_id": "u", "weak_topics": np.array(["T9", "T8"])}, **base)
    assert "none identified yet" in render_prompt({"user_id": "u", "weak_topics": float("nan")}, **base)
