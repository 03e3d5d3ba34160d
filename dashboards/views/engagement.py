"""Engagement: when learners study (local time), weekly patterns, and format usage vs performance.

Computed from the learner-level intermediate tables (sessions, format performance) so the course and
the cohort filters both apply; without filters the figures equal the analytics marts'.
"""

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.data import filters, require, warehouse_query
from dashboards.labels import label
from dashboards.ui import DATE_AXIS, nothing_to_show, over_time, show, table

MAX_LINES = 6  # more courses than this: one heatmap row per course instead of overlapping lines
DAYS = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}

st.title("Engagement")
f = filters()
where, params = f.sql()
tod = require(lambda: warehouse_query(
    f"SELECT CAST(extract(isodow FROM local_date) AS BIGINT) AS local_weekday, local_start_hour AS local_hour, "
    f"count(*) AS sessions, round(sum(duration_s) / 60.0, 1) AS minutes FROM intermediate.int_sessions_summarized "
    f"WHERE course_id IS NOT NULL AND {where} GROUP BY 1, 2", params), "Session tables")
weekly = warehouse_query(
    f"SELECT CAST(date_trunc('week', session_date) AS DATE) AS week_start, course_id, count(DISTINCT user_id) AS active_learners, "
    f"round(sum(duration_s) / 60.0, 1) AS minutes FROM intermediate.int_sessions_summarized "
    f"WHERE course_id IS NOT NULL AND {where} GROUP BY 1, 2 ORDER BY 1, 2", params)
formats = warehouse_query(
    f"SELECT study_format, sum(attempts) AS attempts, round(sum(score_sum) / sum(attempts), 3) AS mean_score "
    f"FROM intermediate.int_format_performance WHERE study_format IS NOT NULL AND {where} GROUP BY 1 ORDER BY 1", params)
st.caption(f"Filters: {f.describe()}.")

st.subheader("When learners study")
if tod.empty:
    nothing_to_show("No sessions for these learners in the data.")
elif tod["local_hour"].nunique() == 1:
    hour = int(tod["local_hour"].iloc[0])
    nothing_to_show(
        f"Every session in this data starts at {hour:02d}:00 (learner's time zone): the source records the day of "
        "each activity, not its time (OULAD's click stream has one row per learner, item and day), so there is no "
        "time of day to chart. Sessions per weekday:")
    per_day = tod.groupby("local_weekday", as_index=False)["sessions"].sum()
    per_day["weekday"] = per_day["local_weekday"].map(DAYS)
    show(alt.Chart(per_day).mark_bar().encode(
        x=alt.X("weekday:N", sort=list(DAYS.values()), title=label("weekday"), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("sessions:Q", title=label("sessions"))))
else:
    tod["weekday"] = tod["local_weekday"].map(DAYS)
    show(alt.Chart(tod).mark_rect().encode(
        x=alt.X("local_hour:O", title=label("local_hour"), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("weekday:N", sort=list(DAYS.values()), title=label("weekday")),
        color=alt.Color("sessions:Q", scale=alt.Scale(scheme="blues"), title=label("sessions")),
        tooltip=[alt.Tooltip(c, title=label(c)) for c in ("weekday", "local_hour", "sessions", "minutes")]))

def weekly_section(weekly) -> None:
    st.subheader("Weekly active learners")
    courses = weekly["course_id"].nunique()
    if weekly.empty:
        nothing_to_show("No sessions for these learners in the data.")
    elif courses <= MAX_LINES:
        show(over_time(weekly, "week_start", "active_learners", color="course_id" if courses > 1 else None))
    else:  # one row per course: lines would overlap past reading
        st.caption(f"{courses} courses: one row per course, darker = more active learners that week.")
        weeks = weekly.assign(week_end=weekly["week_start"] + pd.Timedelta(days=7))
        show(alt.Chart(weeks).mark_rect().encode(
            x=alt.X("week_start:T", title=label("week_start"), axis=alt.Axis(format=DATE_AXIS, labelAngle=0)),
            x2="week_end:T",
            y=alt.Y("course_id:N", title=label("course_id"), axis=alt.Axis(labelLimit=0, labelOverlap=False)),
            color=alt.Color("active_learners:Q", scale=alt.Scale(scheme="blues"), title=label("active_learners")),
            tooltip=[alt.Tooltip("course_id", title=label("course_id")),
                     alt.Tooltip("week_start:T", title=label("week_start"), format=DATE_AXIS),
                     alt.Tooltip("active_learners", title=label("active_learners"))]).properties(height=22 * courses))


def format_section(formats) -> None:
    st.subheader("Format usage vs performance")
    if formats.empty:
        nothing_to_show(
            "No format data: no quiz answer in this data follows content whose format (text, image, video) is "
            "known, so format and score cannot be compared.")
    else:
        base = alt.Chart(formats).encode(x=alt.X("study_format:N", title=label("study_format"), axis=alt.Axis(labelAngle=0)))
        show(alt.layer(base.mark_bar(opacity=0.5).encode(y=alt.Y("attempts:Q", title=label("attempts"))),
                       base.mark_line(point=True, color="firebrick").encode(
                           y=alt.Y("mean_score:Q", scale=alt.Scale(domain=[0, 1]), title=label("mean_score")))
                       ).resolve_scale(y="independent"))
        table(formats, progress=("mean_score",), formats={"attempts": "%d"})


if weekly["course_id"].nunique() > MAX_LINES:  # a wide heatmap: the sections one under the other
    weekly_section(weekly)
    format_section(formats)
else:
    left, right = st.columns(2)
    with left:
        weekly_section(weekly)
    with right:
        format_section(formats)
