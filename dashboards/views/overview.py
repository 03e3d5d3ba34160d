"""Cohort overview: how many learners, how active, which segments, and how many are at risk (and the change)."""

import pandas as pd
import streamlit as st

from dashboards.data import (
    AT_RISK_SEGMENTS,
    data_as_of,
    filters,
    require,
    serving_query,
    warehouse_query,
)
from dashboards.labels import tree_name
from dashboards.ui import bars, nothing_to_show, over_time, show
from models.decision_trees import SEGMENT_TREE
from models.segments import SEGMENTS

WINDOW_DAYS = 7

st.title("Cohort overview")
f = filters()
ids = list(f.learners)

decisions = require(lambda: serving_query(
    "SELECT user_id, decision_label, decision_version, decided_at, publish_id FROM serving.learner_decisions "
    "WHERE tree_id = %s AND user_id = ANY(%s)", (SEGMENT_TREE, ids)), "Decisions")
if decisions.empty:
    st.info(f"No learner with a current decision matches these filters ({f.describe()}).")
    st.stop()
# The publish before this one, if there was one: count(*) tells "no earlier run" apart from "nobody at risk then".
previous = serving_query(
    """SELECT count(*) AS decided, count(*) FILTER (WHERE decision_label = ANY(%s)) AS at_risk FROM serving.decision_log
       WHERE tree_id = %s AND user_id = ANY(%s) AND publish_id = (
           SELECT publish_id FROM serving.publish_log WHERE table_name = 'learner_decisions'
           AND publish_id <> %s ORDER BY published_at DESC LIMIT 1)""",
    (list(AT_RISK_SEGMENTS), SEGMENT_TREE, ids, decisions["publish_id"].iloc[0]))
at_risk = int(decisions["decision_label"].isin(AT_RISK_SEGMENTS).sum())
prev = int(previous["at_risk"].iloc[0]) if len(previous) and int(previous["decided"].iloc[0]) > 0 else None

as_of = data_as_of()
where, params = f.sql()
# Active learners per UTC day (a learner active in two courses counts once).
daily = warehouse_query(
    f"SELECT session_date AS activity_date, count(DISTINCT user_id) AS active_learners, "
    f"round(sum(duration_s) / 60.0, 1) AS minutes FROM intermediate.int_sessions_summarized "
    f"WHERE course_id IS NOT NULL AND {where} GROUP BY 1 ORDER BY 1", params)
window = None
if as_of is not None:
    # Trailing window of 7 calendar days ending at the data's as-of: learner-days active in it / 7.
    window = warehouse_query(
        f"SELECT count(DISTINCT user_id || '|' || CAST(session_date AS VARCHAR)) / {WINDOW_DAYS}.0 AS per_day FROM intermediate.int_sessions_summarized "
        f"WHERE course_id IS NOT NULL AND {where} AND started_at > ? AND started_at <= ?",
        (*params, as_of - pd.Timedelta(days=WINDOW_DAYS), as_of))["per_day"].iloc[0]

c1, c2, c3, c4 = st.columns(4)
c1.metric("Learners", f"{len(decisions):,}", help="Learners with a current decision under these filters.")
c2.metric("At risk", f"{at_risk:,}", delta=None if prev is None else f"{at_risk - prev:+,} since last run",
          delta_color="inverse",
          help=f"Segments {' and '.join(AT_RISK_SEGMENTS)} ({tree_name(SEGMENT_TREE).lower()} tree)."
               + (" First run: nothing to compare with yet." if prev is None else ""))
c3.metric(f"Daily active (last {WINDOW_DAYS} days)", "—" if window is None else f"{window:,.1f}",
          help=None if as_of is None else f"Active learners per day, averaged over the {WINDOW_DAYS} calendar days up to the data's as-of, {as_of:%Y-%m-%d %H:%M} UTC.")
c4.metric("Segment model version", f"v{decisions['decision_version'].iloc[0]}")

left, right = st.columns(2)
with left:
    st.subheader("Active learners per day")
    if len(daily):
        show(over_time(daily, "activity_date", "active_learners"))
    else:
        nothing_to_show("No recorded activity for these learners: the data has no sessions in any course.")
with right:
    st.subheader("Learners per segment")
    seg = decisions.groupby("decision_label").size().rename("learners").reset_index().rename(columns={"decision_label": "segment"})
    seg = seg.sort_values(["learners", "segment"], ascending=[False, True])
    show(bars(seg, "segment", "learners", sort="-x"))
    missing = [s for s in SEGMENTS if s not in set(seg["segment"])]
    if missing:
        st.caption(f"No learner is in {', '.join(missing)}.")
decided = pd.to_datetime(decisions["decided_at"], utc=True).max()
st.caption(f"Decisions made {decided:%Y-%m-%d %H:%M} UTC"
           + (f" on data as of {as_of:%Y-%m-%d %H:%M} UTC" if as_of is not None else "")
           + f" by the {tree_name(SEGMENT_TREE).lower()} tree v{decisions['decision_version'].iloc[0]}; filters: {f.describe()}.")
