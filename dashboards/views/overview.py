"""Cohort overview: how many learners, how active, which segments, and how many are at risk (and the change)."""

import streamlit as st

from dashboards.data import (
    AT_RISK_SEGMENTS,
    require,
    serving_query,
    sidebar_filters,
    warehouse_query,
)
from models.decision_trees import SEGMENT_TREE

st.title("Cohort overview")
course, cohort, learners = sidebar_filters()
ids = list(learners)

decisions = require(lambda: serving_query(
    "SELECT user_id, decision_label, decision_version, decided_at, publish_id FROM serving.learner_decisions "
    "WHERE tree_id = %s AND user_id = ANY(%s)", (SEGMENT_TREE, ids)), "Decisions")
if decisions.empty:
    st.info("No learners match these filters.")
    st.stop()
previous = serving_query(
    """SELECT count(*) FILTER (WHERE decision_label = ANY(%s)) AS at_risk FROM serving.decision_log
       WHERE tree_id = %s AND user_id = ANY(%s) AND publish_id = (
           SELECT publish_id FROM serving.publish_log WHERE table_name = 'learner_decisions'
           AND publish_id <> %s ORDER BY published_at DESC LIMIT 1)""",
    (list(AT_RISK_SEGMENTS), SEGMENT_TREE, ids, decisions["publish_id"].iloc[0]))
at_risk = int(decisions["decision_label"].isin(AT_RISK_SEGMENTS).sum())
prev = previous["at_risk"].iloc[0] if len(previous) else None

daily = warehouse_query(
    "SELECT activity_date, sum(active_learners) AS active_learners, sum(minutes) AS minutes "
    "FROM analytics.agg_course_engagement_daily WHERE (? IS NULL OR course_id = ?) GROUP BY 1 ORDER BY 1",
    (course, course))
last7 = daily.tail(7)["active_learners"].mean() if len(daily) else 0

c1, c2, c3, c4 = st.columns(4)
c1.metric("Learners", f"{len(decisions):,}")
c2.metric("At risk", f"{at_risk:,}", delta=None if prev is None else f"{at_risk - int(prev):+,} since last run",
          delta_color="inverse", help=f"Segments {' and '.join(AT_RISK_SEGMENTS)} ({SEGMENT_TREE}).")
c3.metric("Active learners per day (last 7 days)", f"{last7:,.0f}")
c4.metric("Model version", f"v{decisions['decision_version'].iloc[0]}")

left, right = st.columns(2)
with left:
    st.subheader("Activity trend")
    if len(daily):
        st.line_chart(daily, x="activity_date", y="active_learners")
with right:
    st.subheader("Segment distribution")
    seg = decisions.groupby("decision_label").size().rename("learners").reset_index().sort_values("learners", ascending=False)
    st.bar_chart(seg, x="decision_label", y="learners", horizontal=True)
st.caption(f"Decisions made at {decisions['decided_at'].max()} by {SEGMENT_TREE} v{decisions['decision_version'].iloc[0]}.")
