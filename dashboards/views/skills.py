"""Skill matrix: learners × skills mastery as a heatmap, and the cohort's weakest skills."""

import altair as alt
import streamlit as st

from dashboards.data import filters, require, serving_query
from dashboards.labels import label
from dashboards.ui import bars, nothing_to_show, show, table

st.title("Skill matrix")
f = filters()
mastery = require(lambda: serving_query(
    "SELECT user_id, skill_id, course_id, p_known, mastered FROM serving.mastery WHERE user_id = ANY(%s) AND (%s::text IS NULL OR course_id = %s)",
    (list(f.learners), f.course, f.course)), "Mastery")
if mastery.empty:
    nothing_to_show(
        f"No mastery estimates for these learners ({f.describe()}). Mastery (BKT) is traced from quiz answers tagged "
        "with the skill they test; data without them (OULAD records whole-assessment scores, not answers per skill) "
        "has no skill matrix.")
    st.stop()

weakest = (mastery.groupby("skill_id")
           .agg(learners=("user_id", "nunique"), mean_p_known=("p_known", "mean"), mastered_share=("mastered", "mean"))
           .reset_index().sort_values(["mean_p_known", "skill_id"]))
st.subheader("Weakest skills of the cohort")
c1, c2 = st.columns([3, 2])
with c1:
    table(weakest.head(10).round(3), progress=("mean_p_known", "mastered_share"), formats={"learners": "%d"})
with c2:
    show(bars(weakest, "skill_id", "mean_p_known", sort="x", domain=(0, 1)))

n = st.slider("Learners shown (weakest first)", 10, 200, 40, step=10)
per_learner = mastery.groupby("user_id")["p_known"].mean().sort_values().head(n).index
heat = mastery[mastery["user_id"].isin(per_learner)]
st.subheader(f"Mastery of the {len(per_learner)} weakest learners")
show(alt.Chart(heat).mark_rect().encode(
    x=alt.X("skill_id:N", title=label("skill_id"), axis=alt.Axis(labelLimit=0)),
    y=alt.Y("user_id:N", sort=list(per_learner), title=label("user_id"), axis=alt.Axis(labelLimit=0)),
    color=alt.Color("p_known:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1]), title=label("p_known")),
    tooltip=[alt.Tooltip("user_id", title=label("user_id")), alt.Tooltip("skill_id", title=label("skill_id")),
             alt.Tooltip("p_known:Q", format=".2f", title=label("p_known")),
             alt.Tooltip("mastered", title=label("mastered"))]))
