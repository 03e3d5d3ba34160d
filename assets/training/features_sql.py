"""The learner feature query the trees train and score on (no Dagster import: the dashboard uses it too)."""

LEARNER_FEATURES_SQL = """
SELECT b.*, d.gpa, d.learner_level, d.format_preference, d.writing_style_category, d.analytics_opt_out,
       coalesce(c.chat_confusion_rate, 0) AS chat_confusion_rate, coalesce(c.user_messages, 0) AS user_messages
FROM marts.fct_learner_behavior AS b
JOIN marts.dim_learner AS d USING (user_id)
LEFT JOIN marts.fct_chat_features AS c USING (user_id)
ORDER BY b.user_id
"""
