"""At-risk learners, riskiest first, each with the reason in plain words and the suggested intervention."""

import pandas as pd
import streamlit as st

from dashboards.data import (
    AT_RISK_SEGMENTS,
    plain_reasons,
    require,
    serving_query,
    sidebar_filters,
)
from models.decision_trees import INTERVENTION_TREE, SEGMENT_TREE

st.title("At-risk learners")
course, cohort, learners = sidebar_filters()

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
    (INTERVENTION_TREE, SEGMENT_TREE, list(AT_RISK_SEGMENTS), list(learners))), "Decisions")
# Disengaging before Struggling Novice, then the tree's confidence.
rows["risk_order"] = rows["segment"].map({"Disengaging": 0, "Struggling Novice": 1})
rows = rows.sort_values(["risk_order", "confidence", "user_id"], ascending=[True, False, True])
rows["why"] = rows["flagged_rules_hit"].map(plain_reasons)
rows["why the intervention"] = rows["intervention_path"].map(plain_reasons)
table = rows[["user_id", "segment", "confidence", "why", "suggested_intervention", "why the intervention",
              "current_streak", "mastered_skills", "skills"]].reset_index(drop=True)

st.metric("Learners at risk", f"{len(table):,}")
st.dataframe(table, hide_index=True, width="stretch",
             column_config={"confidence": st.column_config.ProgressColumn("confidence", min_value=0, max_value=1, format="%.2f")})
st.download_button("Export to CSV", table.to_csv(index=False).encode(), file_name="at_risk_learners.csv", mime="text/csv")

st.subheader("Early warning: P(fail or withdraw) per current enrolment")
try:
    risk = serving_query(
        """SELECT user_id, course_id, course_day, p_at_risk, risk_band, reasons, model_version, as_of
           FROM serving.early_warning WHERE user_id = ANY(%s) ORDER BY p_at_risk DESC, user_id""", (list(learners),))
except Exception:  # a database published before the early-warning model existed
    risk = None
if risk is None or risk.empty:
    st.info("No early-warning scores: they need courses with a calendar (start and end dates) and past enrolments "
            "with known outcomes (the `outcomes` input), e.g. `devmentor replay oulad PATH --day 60`. "
            "Generated demo courses are self-paced, so the demo has none.")
else:
    if course:
        risk = risk[risk["course_id"] == course]
    as_of = pd.to_datetime(risk["as_of"]).max()
    c1, c2, c3 = st.columns(3)
    c1.metric("Enrolments scored", f"{len(risk):,}")
    c2.metric("P(at risk) ≥ 0.5", f"{int((risk['p_at_risk'] >= 0.5).sum()):,}")
    c3.metric("As of", f"{as_of:%Y-%m-%d}", help="Course day N of each enrolment is counted to this instant")
    st.caption("The early-warning tree learns from real final results of past enrolments on the same course day "
               "(docs/models.md gives its held-out AUC by course and day). Only enrolments still active on that day "
               "are scored; a learner whose course has ended gets no decision and no nudge.")
    st.dataframe(risk.rename(columns={"course_day": "course day", "p_at_risk": "P(at risk)", "risk_band": "risk",
                                      "reasons": "why (tree path)", "model_version": "model version"}).drop(columns=["as_of"]),
                 hide_index=True, width="stretch",
                 column_config={"P(at risk)": st.column_config.ProgressColumn("P(at risk)", min_value=0, max_value=1, format="%.2f")})
