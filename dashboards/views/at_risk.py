"""At-risk learners, riskiest first, each with the reason in plain words and the suggested intervention."""

import pandas as pd
import streamlit as st

from dashboards.data import (
    AT_RISK_SEGMENTS,
    filters,
    plain_reasons,
    require,
    serving_query,
)
from dashboards.labels import rename, tree_name
from dashboards.ui import nothing_to_show, table
from models.decision_trees import INTERVENTION_TREE, SEGMENT_TREE
from models.early_warning import AT_RISK_THRESHOLD

st.title("At-risk learners")
f = filters()

rows = require(lambda: serving_query(
    """SELECT s.user_id, s.decision_label AS segment, s.confidence, s.flagged_rules_hit,
              i.decision_label AS suggested_intervention, i.flagged_rules_hit AS intervention_path,
              x.current_streak, m.mastered_skills, m.skills
       FROM serving.learner_decisions s
       JOIN serving.learner_decisions i ON i.user_id = s.user_id AND i.tree_id = %s
       LEFT JOIN serving.streaks x ON x.user_id = s.user_id
       LEFT JOIN (SELECT user_id, count(*) FILTER (WHERE mastered) AS mastered_skills, count(*) AS skills
                  FROM serving.mastery GROUP BY 1) m ON m.user_id = s.user_id
       WHERE s.tree_id = %s AND s.decision_label = ANY(%s) AND s.user_id = ANY(%s)""",
    (INTERVENTION_TREE, SEGMENT_TREE, list(AT_RISK_SEGMENTS), list(f.learners))), "Decisions")
# Riskiest segment first (the order models/segments.py lists them in reversed: Disengaging, then Struggling Novice),
# then the tree's confidence.
order = {s: i for i, s in enumerate(reversed(AT_RISK_SEGMENTS))}
rows["risk_order"] = rows["segment"].map(order)
rows = rows.sort_values(["risk_order", "confidence", "user_id"], ascending=[True, False, True])
rows["why"] = rows["flagged_rules_hit"].map(plain_reasons)
rows["why_the_intervention"] = rows["intervention_path"].map(plain_reasons)
listed = rows[["user_id", "segment", "confidence", "why", "suggested_intervention", "why_the_intervention",
               "current_streak", "mastered_skills", "skills"]].reset_index(drop=True)
if listed["skills"].isna().all():  # no mastery model for this data (no skill-tagged quiz answers)
    listed = listed.drop(columns=["mastered_skills", "skills"])

st.metric("Learners at risk", f"{len(listed):,}",
          help=f"{tree_name(SEGMENT_TREE)} tree: {' or '.join(AT_RISK_SEGMENTS)}. Filters: {f.describe()}.")
if listed.empty:
    nothing_to_show(f"No learner under these filters ({f.describe()}) is in an at-risk segment.")
else:
    table(listed, progress=("confidence",), formats={"current_streak": "%d", "mastered_skills": "%d", "skills": "%d"})
    st.download_button("Export to CSV", rename(listed).to_csv(index=False).encode(), file_name="at_risk_learners.csv",
                       mime="text/csv")

st.subheader("Early warning: P(fail or withdraw) per current enrolment")
try:
    risk = serving_query(
        """SELECT user_id, course_id, course_day, p_at_risk, risk_band, reasons, model_version, as_of
           FROM serving.early_warning WHERE user_id = ANY(%s) AND (%s::text IS NULL OR course_id = %s)
           ORDER BY p_at_risk DESC, user_id""", (list(f.learners), f.course, f.course))
except Exception:  # a database published before the early-warning model existed
    risk = None
if risk is None or risk.empty:
    nothing_to_show(
        "No early-warning scores for these learners. Early warning needs courses with a calendar (a start and an end "
        "date: the course day N a score is made on) and past enrolments whose final results are known (the `outcomes` "
        "input), e.g. `devmentor replay oulad PATH --day 60`. Self-paced courses, like the generated demo's, have "
        "neither, so nothing is scored.")
else:
    as_of = pd.to_datetime(risk["as_of"], utc=True).max()
    c1, c2, c3 = st.columns(3)
    c1.metric("Enrolments scored", f"{len(risk):,}")
    c2.metric(f"P(fail or withdraw) ≥ {AT_RISK_THRESHOLD}", f"{int((risk['p_at_risk'] >= AT_RISK_THRESHOLD).sum()):,}")
    c3.metric("As of", f"{as_of:%Y-%m-%d}", help="Course day N of each enrolment is counted to this instant.")
    st.caption("The early-warning tree learns from the real final results of past enrolments on the same course day "
               "(docs/models.md gives its held-out AUC by course and day). Only enrolments still active on that day "
               "are scored; a learner whose course has ended gets no decision and no nudge.")
    table(risk.drop(columns=["as_of"]), progress=("p_at_risk",), formats={"course_day": "%d"})
