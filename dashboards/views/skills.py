"""Skill matrix: learners × skills mastery as a heatmap, and the cohort's weakest skills."""

import altair as alt
import streamlit as st

from dashboards.data import require, serving_query, sidebar_filters

st.title("Skill matrix")
course, cohort, learners = sidebar_filters()
mastery = require(lambda: serving_query(
    "SELECT user_id, skill_id, course_id, p_known, mastered FROM serving.mastery WHERE user_id = ANY(%s) AND (%s::text IS NULL OR course_id = %s)",
    (list(learners), course, course)), "Mastery")
if mastery.empty:
    st.info("No mastery rows for these filters.")
    st.stop()

weakest = (mastery.groupby("skill_id")
           .agg(learners=("user_id", "nunique"), mean_p_known=("p_known", "mean"), mastered_share=("mastered", "mean"))
           .reset_index().sort_values(["mean_p_known", "skill_id"]))
st.subheader("Weakest skills of the cohort")
c1, c2 = st.columns([2, 3])
c1.dataframe(weakest.head(10).round(3), hide_index=True, width="stretch")
c2.altair_chart(alt.Chart(weakest).mark_bar().encode(
    x=alt.X("mean_p_known:Q", title="mean P(known)", scale=alt.Scale(domain=[0, 1])),
    y=alt.Y("skill_id:N", sort="x", title=None)), width="stretch")

n = st.slider("Learners shown (weakest first)", 10, 200, 40, step=10)
per_learner = mastery.groupby("user_id")["p_known"].mean().sort_values().head(n).index
heat = mastery[mastery["user_id"].isin(per_learner)]
st.subheader(f"Mastery of the {len(per_learner)} weakest learners")
st.altair_chart(alt.Chart(heat).mark_rect().encode(
    x=alt.X("skill_id:N", title="skill"),
    y=alt.Y("user_id:N", sort=list(per_learner), title="learner"),
    color=alt.Color("p_known:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1]), title="P(known)"),
    tooltip=["user_id", "skill_id", alt.Tooltip("p_known:Q", format=".2f"), "mastered"]), width="stretch")
