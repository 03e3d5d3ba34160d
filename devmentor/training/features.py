"""The learner feature queries the trees train and score on (no Dagster import: the dashboard uses them too)."""

from __future__ import annotations

import pandas as pd

# Every learner-level feature comes from a dbt mart (dbt_project/models/marts/learner/); no feature logic here.
LEARNER_FEATURES_SQL = "SELECT * FROM marts.fct_learner_features ORDER BY user_id"
WEAK_TOPICS_SQL = """
SELECT user_id, list(topic_id ORDER BY weak_rank) AS weak_topics
FROM marts.fct_learner_weak_topics
GROUP BY user_id
"""


def load_learner_features(warehouse) -> pd.DataFrame:
    with warehouse.connect() as con:
        return con.execute(LEARNER_FEATURES_SQL).df()


def load_weak_topics(warehouse) -> pd.DataFrame:
    with warehouse.connect() as con:
        return con.execute(WEAK_TOPICS_SQL).df()


def load_annotations(warehouse) -> pd.DataFrame:
    with warehouse.connect() as con:
        return con.execute("SELECT user_id, segment FROM marts.fct_learner_annotations").df()


def load_decision_frame(warehouse, lake) -> pd.DataFrame:
    """The learner frame both learner-level trees train and decide on: the behaviour features, plus the
    learner's current enrolment (the active one with the highest risk): its early-warning features
    (prefixed ``ew_``) and ``p_at_risk``. ``decide`` is False for a learner whose enrolments in courses
    with a calendar have all ended or been withdrawn (no decision, so no nudge, after the course)."""
    from devmentor.training.early_warning import learner_risk
    from models.early_warning import FEATURES
    from models.segments import EARLY_WARNING_PREFIX

    frame = load_learner_features(warehouse)
    risk = learner_risk(lake)
    with warehouse.connect() as con:
        snapshots = con.execute(
            "SELECT * FROM marts.fct_enrolment_snapshots WHERE snapshot_role = 'score'").df()
    current = risk.merge(snapshots, left_on=["user_id", "course_id", "course_day"],
                         right_on=["user_id", "course_id", "snapshot_day"], how="left")
    current = current[["user_id", "course_id", "p_at_risk", *FEATURES]].rename(
        columns={"course_id": "current_course_id", **{f: EARLY_WARNING_PREFIX + f for f in FEATURES}})
    frame = frame.merge(current, on="user_id", how="left")
    frame["decide"] = frame["current_course_id"].notna() | ~frame["on_course_calendar"].astype(bool)
    return frame
