"""The ``intervention_strategy`` tree: which intervention a learner should get next.

Until outcome data says which intervention worked for whom, the labels are the
documented policy below, applied to the feature marts; the tree distils the
policy into a versioned, inspectable model whose thresholds instructors can
override (models/thresholds.py) and whose every decision carries its path.

Label definitions, in priority order (the first that applies wins):
- Escalate to Tutor: the learner keeps failing despite help — at least half of
  their chat messages signal confusion (3+ messages), or under 40% correct while
  using hints on 40%+ of attempts — or the early-warning model gives P(fail or
  withdraw) of 0.8 or more while they are still active (a person should look).
- Re-engagement Nudge: activity has stopped — for a learner in a course with a
  calendar (early-warning features present): idle at least 7 days longer than the
  course cohort's median, or an assessment due and not submitted; otherwise: no
  activity for 7+ days, or last week's activity under 30% of the earlier weekly
  average (after 3+ active days). Relative to the cohort, because a course whose
  only records are assessment submissions makes everyone look idle for weeks.
- Switch Format: scores at least 0.15 lower in the preferred format than in the
  best other format (format_performance_mismatch).
- Remedial Review: under 60% of answers correct, or P(at risk) of 0.5 or more.
- Raise Challenge: 85%+ correct on questions of below-median difficulty for them,
  or 90%+ correct overall.
- Continue Path: none of the above.

A learner whose enrolments have all ended is not decided at all (no nudge after the course).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

INTERVENTIONS = (
    "Escalate to Tutor",
    "Re-engagement Nudge",
    "Switch Format",
    "Remedial Review",
    "Raise Challenge",
    "Continue Path",
)

INTERVENTION_FEATURES = [
    "correct_rate",
    "hint_rate",
    "avg_retries",
    "days_since_last_activity",
    "activity_trend",
    "active_days",
    "format_performance_gap",
    "format_performance_mismatch",
    "avg_question_difficulty",
    "modules_completed",
    "chat_confusion_rate",
    "user_messages",
    "p_at_risk",
    "ew_idle_days_vs_cohort_median",
    "ew_assessments_missed",
]


def rule_based_intervention(frame: pd.DataFrame) -> pd.Series:
    """Apply the documented intervention policy to a learner feature frame."""
    f = frame
    correct = pd.to_numeric(f["correct_rate"], errors="coerce")
    hint = pd.to_numeric(f["hint_rate"], errors="coerce").fillna(0)
    confusion = pd.to_numeric(f.get("chat_confusion_rate", pd.Series(np.nan, index=f.index)), errors="coerce").fillna(0)
    messages = pd.to_numeric(f.get("user_messages", pd.Series(0, index=f.index)), errors="coerce").fillna(0)
    difficulty = pd.to_numeric(f["avg_question_difficulty"], errors="coerce")
    median_difficulty = difficulty.median() if difficulty.notna().any() else 0.5
    days_idle = pd.to_numeric(f["days_since_last_activity"], errors="coerce")
    trend = pd.to_numeric(f["activity_trend"], errors="coerce")
    active = pd.to_numeric(f["active_days"], errors="coerce").fillna(0)
    risk = pd.to_numeric(f.get("p_at_risk", pd.Series(np.nan, index=f.index)), errors="coerce")
    missing = pd.Series(np.nan, index=f.index)
    in_course = risk.notna()
    idle_vs_cohort = pd.to_numeric(f.get("ew_idle_days_vs_cohort_median", missing), errors="coerce")
    missed = pd.to_numeric(f.get("ew_assessments_missed", missing), errors="coerce").fillna(0)
    stopped = np.where(in_course, (idle_vs_cohort >= 7).fillna(False) | (missed >= 1),
                       (days_idle >= 7) | days_idle.isna() | ((trend < 0.3) & (active >= 3)))
    stopped = pd.Series(stopped, index=f.index).astype(bool)

    rules = [
        ("Escalate to Tutor", ((confusion >= 0.5) & (messages >= 3)) | ((correct < 0.4) & (hint >= 0.4))
         | ((risk >= 0.8) & ~stopped)),
        ("Re-engagement Nudge", stopped),
        ("Switch Format", f["format_performance_mismatch"].fillna(False).astype(bool)),
        ("Remedial Review", (correct < 0.6) | (risk >= 0.5)),
        ("Raise Challenge", ((correct >= 0.85) & (difficulty < median_difficulty)) | (correct >= 0.9)),
    ]
    label = pd.Series("Continue Path", index=f.index, dtype=object)
    # Apply from lowest to highest priority so the highest-priority rule wins.
    for name, mask in reversed(rules):
        label[mask.fillna(False).to_numpy()] = name
    return label
