"""The learner feature queries the trees train and score on (no Dagster import: the dashboard uses them too)."""

from __future__ import annotations

import pandas as pd

LEARNER_FEATURES_SQL = """
SELECT b.*, d.gpa, d.learner_level, d.format_preference, d.writing_style_category, d.analytics_opt_out,
       coalesce(c.chat_confusion_rate, 0) AS chat_confusion_rate, coalesce(c.user_messages, 0) AS user_messages
FROM marts.fct_learner_behavior AS b
JOIN marts.dim_learner AS d USING (user_id)
LEFT JOIN marts.fct_chat_features AS c USING (user_id)
ORDER BY b.user_id
"""

WEAK_TOPICS_SQL = """
SELECT user_id, list(topic_id ORDER BY topic_score, topic_id)[1:3] AS weak_topics
FROM (
    SELECT user_id, topic_id, avg(score) AS topic_score
    FROM intermediate.int_quiz_attempts_enriched
    WHERE topic_id IS NOT NULL
    GROUP BY user_id, topic_id
    HAVING count(*) >= 3 AND avg(score) < 0.7
)
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
        return con.execute("SELECT user_id, segment FROM staging.stg_devmentor__learner_labels").df()
