"""The one place that names what the dashboard shows: a human label per column, tree and data source.

Pages never spell a column's label themselves: they pass frames through ``table`` / ``rename`` and
axis titles through ``label``. Feature words come from models/ (the same words a decision path uses),
tree ids, segments and interventions from models/decision_trees.py, models/segments.py and
models/interventions.py.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

from models.decision_trees import TREE_SPECS
from models.early_warning import TREE_ID as EARLY_WARNING_TREE
from models.trees import describe_rule, feature_words

# Column → label. Columns not listed fall back to a model feature's words, then to "Snake case" → "Snake case".
COLUMNS: dict[str, str] = {
    # who and where
    "user_id": "Learner", "course_id": "Course", "course_title": "Course title", "module_id": "Module",
    "skill_id": "Skill", "content_id": "Content", "question_id": "Question", "topic": "Chat topic",
    "cohort": "Cohort (sign-up month)", "entity": "Input", "asset": "Asset", "check": "Check",
    # decisions
    "tree_id": "Tree", "decision_label": "Decision", "segment": "Segment", "confidence": "Tree confidence",
    "decision_version": "Model version", "version": "Version", "model_version": "Model version",
    "why": "Why (the segment tree's path)", "suggested_intervention": "Suggested intervention",
    "why_the_intervention": "Why (the intervention tree's path)", "decided_at": "Decided at", "as_of": "As of",
    "course_day": "Course day", "p_at_risk": "P(fail or withdraw)", "risk_band": "Risk",
    "reasons": "Why (the early-warning tree's path)", "leaf_path": "Path (every rule on it holds)",
    "learners_now": "Learners in this leaf now", "champion": "Champion", "run_id": "MLflow run",
    "start_time": "Trained at", "label_source": "Labels came from", "measures": "What the held-out figures measure",
    "metrics.holdout_accuracy": "Held-out accuracy", "metrics.holdout_macro_f1": "Held-out macro F1",
    "metrics.training_rows": "Training rows", "feature": "Feature", "psi": "Drift (PSI)",
    "operator": "Operator", "threshold": "Threshold", "trained_threshold": "Trained threshold",
    "overridden": "Overridden by an instructor", "rule": "Rule",
    # activity
    "activity_date": "Day", "week_start": "Week starting", "active_learners": "Active learners",
    "sessions": "Sessions", "minutes": "Minutes studied", "local_hour": "Hour (learner's time zone)",
    "weekday": "Weekday (learner's time zone)", "study_format": "Format studied before the quiz",
    "attempts": "Quiz attempts", "mean_score": "Mean score", "learners": "Learners",
    # learner state
    "current_streak": "Current streak (days)", "longest_streak": "Longest streak (days)",
    "mastered_skills": "Skills mastered", "skills": "Skills", "p_known": "P(known)",
    "skill_score": "Skill score (0-10)", "mastered": "Mastered", "mean_p_known": "Mean P(known)",
    "mastered_share": "Share mastered", "step": "Step", "status": "Status", "module_mastery": "Module mastery",
    "missing_prerequisites": "Missing prerequisites", "priority": "Priority", "due_at": "Due",
    "overdue": "Overdue", "retrievability": "Recall probability now", "rank": "Rank", "format": "Format",
    "reason": "Reason", "reason_detail": "Why", "position": "Position", "predicted_success": "Predicted success",
    "name": "Badge", "earned_at": "Earned", "description": "Challenge", "progress": "Progress", "target": "Target",
    "completed": "Completed", "messages": "Messages", "last_message": "Last message",
    "xp_total": "XP", "level": "Level", "pipeline_run": "Pipeline run",
    # profile and behaviour (marts.dim_learner, marts.fct_learner_behavior)
    "age": "Age", "class_year": "Class year", "courses_completed": "Courses completed before", "gpa": "GPA",
    "learner_purpose": "Purpose", "format_preference": "Preferred format",
    "format_comfort_rating_text": "Comfort with text (1-5)", "format_comfort_rating_image": "Comfort with images (1-5)",
    "format_comfort_rating_video": "Comfort with video (1-5)",
    "format_comprehension_score_text": "Comprehension, text (0-1)",
    "format_comprehension_score_image": "Comprehension, images (0-1)",
    "format_comprehension_score_video": "Comprehension, video (0-1)",
    "session_preference": "Session preference", "ui_theme_preference": "Theme", "layout_preference": "Layout",
    "study_mode": "Study mode", "learner_level": "Level", "timezone": "Time zone",
    "leaderboard_opt_out": "Left out of leaderboards", "analytics_opt_out": "Opted out of analytics",
    "signed_up_at": "Signed up", "avg_sentence_length": "Mean sentence length (words)",
    "type_token_ratio": "Vocabulary variety (type-token ratio)", "pronoun_usage": "Pronoun use",
    "contractions_count": "Contractions", "writing_style_category": "Writing style",
    "total_courses": "Courses", "courses_withdrawn": "Courses withdrawn from", "dominant_format": "Most used format",
    "last_activity_date": "Last active", "quiz_time_min": "Quiz time (min)", "video_time_min": "Video time (min)",
    "reading_time_min": "Reading time (min)", "image_time_min": "Image time (min)",
    "hint_usage_count": "Hints used", "session_count": "Sessions", "peak_local_hour": "Busiest hour (own time zone)",
    "content_flag_reasons": "Content flagged as", "topic_flags": "Topics flagged", "event_count": "Events",
    "overconfidence": "Overconfidence (confidence − correct)", "avg_question_difficulty": "Mean question difficulty",
    "events_last_7d": "Events in the last 7 days", "preferred_format_score": "Score in the preferred format",
    "best_other_format_score": "Score in the best other format", "as_of_at": "Features as of",
    "module_order_log": "Modules in the order visited", "active_time_distribution": "When active",
    "content_type_engagement": "Time per content type",
    # data quality
    "result": "Result", "at": "Checked at", "rows": "Rows", "files": "Files", "reason_kind": "Reason",
    "source_file": "File (under the data directory)", "row_number": "Row", "field": "Field", "record": "Record",
    # mastery model
    "prior": "P(known) before practice", "learn": "P(learn) per attempt", "forget": "P(forget)",
    "guess": "P(guess)", "slip": "P(slip)",
}

# Where a tree's labels came from (the ``label_source`` tag training writes), and what its held-out figures measure.
LABEL_SOURCES: dict[str, tuple[str, str]] = {
    "rule_based": ("our own segment rules", "agreement with our own rules"),
    "policy_rules": ("our own intervention policy", "agreement with our own rules"),
    "instructor_annotations": ("instructor annotations", "accuracy against instructors' labels"),
    "enrolment_outcomes": ("real enrolment outcomes", "accuracy against what happened"),
}
RULE_LABEL_SOURCES = tuple(k for k, (_src, measures) in LABEL_SOURCES.items() if measures.startswith("agreement"))


def label(column: str) -> str:
    """The human label of a column (or a model feature)."""
    if column in COLUMNS:
        return COLUMNS[column]
    words = feature_words(column)
    if words:
        return words[0].upper() + words[1:]
    return column.replace("_", " ").strip().capitalize()


def as_float(value) -> float:
    """A stored threshold as a float; the "split known from missing" threshold (±float max) can come back from
    JSON as an integer too large for float()."""
    try:
        return float(value)
    except OverflowError:
        return sys.float_info.max if value > 0 else -sys.float_info.max


def rule_words(feature: str, operator: str, threshold: float) -> str:
    """One rule of a decision path in words (models.trees.describe_rule: the same words the published paths use)."""
    return describe_rule(feature, operator, threshold)


def tree_name(tree_id: str) -> str:
    """'Learner segment' for primary_classification: the words before the colon of the tree's description."""
    if tree_id in TREE_SPECS:
        return TREE_SPECS[tree_id].description.split(":")[0]
    if tree_id == EARLY_WARNING_TREE:
        return "Early warning"
    return label(tree_id)


def path_words(steps: list[tuple[str, str, float]]) -> str:
    """A decision path in words, in path order, each feature's repeated bound said once at its tightest
    ('P(at risk) more than 0.37 and … more than 0.77' → 'P(at risk) more than 0.77'); the same leaf either way."""
    tightest: dict[tuple, float] = {}
    for feature, op, threshold in steps:
        key = (feature, op, abs(threshold) >= 1e300)  # a known/missing split is its own rule
        if key not in tightest:
            tightest[key] = threshold
        else:
            tightest[key] = max(tightest[key], threshold) if op == ">" else min(tightest[key], threshold)
    return " and ".join(rule_words(f, op, t) for (f, op, _), t in tightest.items())


def is_empty(value) -> bool:
    """None, NaN, '' and empty containers; also the 'unknown' a mart writes when it has no data."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, (str, bytes)):
        return value.strip() in ("", "None", "nan", "unknown")
    if isinstance(value, (list, tuple, dict, set)):
        return len(value) == 0
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return hasattr(value, "__len__") and len(value) == 0


def show_value(value) -> str:
    """One field's value as an instructor reads it: dates without microseconds, numbers rounded, lists joined."""
    if isinstance(value, pd.Timestamp) or hasattr(value, "strftime"):
        ts = pd.Timestamp(value)
        if ts.hour == ts.minute == ts.second == 0:
            return f"{ts:%Y-%m-%d}"
        return f"{ts:%Y-%m-%d %H:%M}" + (" UTC" if ts.tzinfo is not None else "")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 1 else f"{value:,.3g}"
    if isinstance(value, dict):
        return ", ".join(f"{label(str(k)).lower()} {show_value(v)}" for k, v in value.items() if not is_empty(v))
    if isinstance(value, (list, tuple)) or (hasattr(value, "tolist") and not isinstance(value, str)):
        items = value.tolist() if hasattr(value, "tolist") else value
        return ", ".join(show_value(v) for v in items if not is_empty(v))
    return str(value)


def fields(row: dict, skip: tuple[str, ...] = ("user_id",)) -> pd.DataFrame:
    """A record as a two-column table of its non-empty fields, each under its human label."""
    shown = [(label(k), show_value(v)) for k, v in row.items() if k not in skip and not is_empty(v)]
    return pd.DataFrame([(k, v) for k, v in shown if v != ""], columns=["Field", "Value"])


def rename(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every column under its human label."""
    return frame.rename(columns={c: label(c) for c in frame.columns})


def relative_path(path: str | None, roots: list[Path]) -> str | None:
    """A file path relative to the first root that holds it (the data directory, the inbox); else its name."""
    if not path:
        return path
    p = Path(str(path))
    for root in roots:
        try:
            return str(p.resolve().relative_to(Path(root).resolve()))
        except ValueError:
            continue
    return p.name if p.is_absolute() else str(p)
