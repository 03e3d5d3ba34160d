"""Learner segments for the ``primary_classification`` tree: features and label definitions.

Labels come, in order of preference, from:
1. instructor annotations (the ``learner_labels`` input), when at least
   ``MIN_ANNOTATED`` learners with at least two segments are annotated;
2. real enrolment outcomes (the ``outcomes`` input), when past enrolments with known outcomes exist:
   each past enrolment's snapshot on the scored course day is labelled with the segment its outcome
   shows (``OUTCOME_SEGMENT``), and the tree learns from the early-warning features and the risk score
   (``OUTCOME_SEGMENT_FEATURES``); its held-out accuracy is then measured against what happened; or
3. the documented rules below, applied to the behaviour mart (weak supervision),
   so a deployment without annotations or outcomes still gets a working, inspectable tree. Its
   held-out accuracy then only measures agreement with our own rules, and is reported as such.

Outcome → segment (what the learner turned out to be on that day):
- withdrawn → Disengaging (stopped before the end)
- fail → Struggling Novice (stayed, did not reach the pass mark)
- pass, completed → Steady Progressor
- distinction → Fast Tracker
Format Mismatch cannot be read from an outcome; it is only learned from annotations or rules.

Segment definitions (the rules in ``rule_based_segment``; instructors are asked to
label with the same meaning):
- Disengaging: was active but has stopped: no activity for 7+ days, or activity in
  the last week under 30% of the earlier weekly average.
- Struggling Novice: answers under 55% of quiz questions correctly and asks for
  hints on at least 20% of attempts (or is at basic level with under 50% correct).
- Format Mismatch: scores at least 0.15 lower in the format they say they prefer
  than in their best other format (with 5+ attempts in it).
- Fast Tracker: answers 80%+ correctly and completes modules faster than 75% of learners.
- Steady Progressor: everyone else who is active.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.early_warning import FEATURES as EARLY_WARNING_FEATURES

SEGMENTS = ("Struggling Novice", "Fast Tracker", "Steady Progressor", "Disengaging", "Format Mismatch")
AT_RISK_SEGMENTS = ("Struggling Novice", "Disengaging")
MIN_ANNOTATED = 50
OUTCOME_SEGMENT = {"withdrawn": "Disengaging", "fail": "Struggling Novice", "pass": "Steady Progressor",
                   "completed": "Steady Progressor", "distinction": "Fast Tracker"}
# The learner's current enrolment's early-warning features, prefixed so they never clash with the
# learner-level behaviour columns of the same name, plus the early-warning risk.
EARLY_WARNING_PREFIX = "ew_"
OUTCOME_SEGMENT_FEATURES = [EARLY_WARNING_PREFIX + f for f in EARLY_WARNING_FEATURES] + ["p_at_risk"]

# Features the segment tree may split on (columns of marts.fct_learner_behavior joined with marts.dim_learner).
SEGMENT_FEATURES = [
    "correct_rate",
    "avg_score",
    "hint_rate",
    "quiz_attempts",
    "modules_completed",
    "active_days",
    "days_since_last_activity",
    "activity_trend",
    "retention_span_min",
    "total_time_spent_min",
    "module_order_deviation_rate",
    "exploratory_behavior_score",
    "format_performance_gap",
    "format_performance_mismatch",
    "avg_confidence",
    "avg_retries",
    "content_flags",
    "gpa",
    "learner_level_ordinal",
]

FEATURE_DESCRIPTIONS = {
    "correct_rate": "share of quiz answers correct",
    "avg_score": "average quiz score",
    "hint_rate": "share of quiz attempts with a hint",
    "quiz_attempts": "quiz attempts",
    "modules_completed": "modules completed",
    "active_days": "active days",
    "days_since_last_activity": "days since last activity",
    "activity_trend": "activity last week vs earlier weeks",
    "retention_span_min": "mean session length (min)",
    "total_time_spent_min": "total study time (min)",
    "module_order_deviation_rate": "share of views off the module path",
    "exploratory_behavior_score": "exploratory behaviour score",
    "format_performance_gap": "score in preferred format minus best other format",
    "format_performance_mismatch": "does worse in preferred format",
    "avg_confidence": "average self-rated confidence",
    "avg_retries": "average retries per question",
    "content_flags": "content flagged",
    "gpa": "GPA",
    "learner_level_ordinal": "learner level (0 basic, 1 intermediate, 2 advanced)",
    "p_at_risk": "P(fail or withdraw) from the early-warning model",
}


def rule_based_segment(frame: pd.DataFrame) -> pd.Series:
    """Apply the documented segment definitions to a behaviour frame (one row per learner)."""
    f = frame
    correct = f["correct_rate"].astype(float)
    hint = f["hint_rate"].astype(float).fillna(0)
    completed = f["modules_completed"].astype(float).fillna(0)
    fast_cut = np.nanpercentile(completed, 75) if len(completed) else 0
    label = pd.Series("Steady Progressor", index=f.index, dtype=object)
    fast = (correct >= 0.8) & (completed > fast_cut)
    mismatch = f["format_performance_mismatch"].fillna(False).astype(bool)
    struggling = ((correct < 0.55) & (hint >= 0.2)) | ((f["learner_level"] == "basic") & (correct < 0.5))
    disengaging = (f["days_since_last_activity"].astype(float) >= 7) | (
        (f["activity_trend"].astype(float) < 0.3) & (f["active_days"].astype(float) >= 3)
    )
    # Later assignments win: the most actionable segment is the one reported.
    label[fast] = "Fast Tracker"
    label[mismatch] = "Format Mismatch"
    label[struggling] = "Struggling Novice"
    label[disengaging.fillna(True)] = "Disengaging"
    return label


def choose_labels(frame: pd.DataFrame, annotations: pd.DataFrame | None) -> tuple[pd.Series, str]:
    """Training labels for the rows of ``frame`` and where they came from.

    Returns a Series aligned to ``frame`` (NaN where a learner is unlabelled) and
    ``"instructor_annotations"`` or ``"rule_based"``.
    """
    if annotations is not None and len(annotations) >= MIN_ANNOTATED and annotations["segment"].nunique() >= 2:
        mapped = frame["user_id"].map(annotations.set_index("user_id")["segment"])
        if mapped.notna().sum() >= MIN_ANNOTATED:
            return mapped, "instructor_annotations"
    return rule_based_segment(frame), "rule_based"
