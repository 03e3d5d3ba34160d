"""Engagement: when learners study (local time), weekly patterns, and format usage vs performance."""

import altair as alt
import streamlit as st

from dashboards.data import require, sidebar_filters, warehouse_query

st.title("Engagement")
course, cohort, learners = sidebar_filters()
tod = require(lambda: warehouse_query(
    "SELECT local_weekday, local_hour, sum(sessions) AS sessions, sum(minutes) AS minutes FROM analytics.agg_time_of_day "
    "WHERE (? IS NULL OR course_id = ?) GROUP BY 1, 2", (course, course)), "Engagement marts")
weekly = warehouse_query(
    "SELECT week_start, course_id, active_learners, minutes, minutes_per_active_learner FROM analytics.agg_course_engagement_weekly "
    "WHERE (? IS NULL OR course_id = ?) ORDER BY week_start", (course, course))
formats = warehouse_query(
    "SELECT study_format, sum(attempts) AS attempts, round(sum(mean_score * attempts) / sum(attempts), 3) AS mean_score "
    "FROM analytics.agg_format_performance WHERE (? IS NULL OR course_id = ?) AND study_format IS NOT NULL GROUP BY 1 ORDER BY 1",
    (course, course))

days = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}
tod["weekday"] = tod["local_weekday"].map(days)
st.subheader("Sessions by local weekday and hour")
st.altair_chart(alt.Chart(tod).mark_rect().encode(
    x=alt.X("local_hour:O", title="hour (learner's time zone)"),
    y=alt.Y("weekday:N", sort=list(days.values()), title=None),
    color=alt.Color("sessions:Q", scale=alt.Scale(scheme="blues")),
    tooltip=["weekday", "local_hour", "sessions", "minutes"]), width="stretch")
left, right = st.columns(2)
with left:
    st.subheader("Weekly active learners")
    st.altair_chart(alt.Chart(weekly).mark_line(point=True).encode(
        x=alt.X("week_start:T", title="week"), y=alt.Y("active_learners:Q"), color="course_id:N"), width="stretch")
with right:
    st.subheader("Format usage vs performance")
    base = alt.Chart(formats).encode(x=alt.X("study_format:N", title="format studied before the quiz"))
    st.altair_chart(alt.layer(base.mark_bar(opacity=0.5).encode(y=alt.Y("attempts:Q")),
                              base.mark_line(point=True, color="firebrick").encode(
                                  y=alt.Y("mean_score:Q", scale=alt.Scale(domain=[0, 1]), title="mean score"))
                              ).resolve_scale(y="independent"), width="stretch")
    st.dataframe(formats, hide_index=True, width="stretch")
