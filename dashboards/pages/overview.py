"""Cohort overview: how many learners, and which segment the tree puts them in."""

import streamlit as st

from dashboards.data import serving_query

st.title("Cohort overview")
try:
    decisions = serving_query(
        "SELECT decision_label, count(*) AS learners FROM serving.learner_decisions "
        "WHERE tree_id = 'primary_classification' GROUP BY 1 ORDER BY 2 DESC"
    )
    meta = serving_query(
        "SELECT max(decision_version) AS version, max(decided_at) AS decided_at, count(*) AS n "
        "FROM serving.learner_decisions WHERE tree_id = 'primary_classification'"
    )
except Exception as exc:  # no publish yet, or database down
    st.warning(f"No decisions published yet ({exc}). Run `devmentor demo` first.")
    st.stop()

total = int(meta["n"].iloc[0])
c1, c2, c3 = st.columns(3)
c1.metric("Learners", f"{total:,}")
at_risk = int(decisions.loc[decisions["decision_label"].isin(["Struggling Novice", "Disengaging"]), "learners"].sum())
c2.metric("Struggling or disengaging", f"{at_risk:,}")
c3.metric("Model version", f"v{meta['version'].iloc[0]}")
st.subheader("Segment distribution")
st.bar_chart(decisions, x="decision_label", y="learners", horizontal=True)
st.caption(f"Decisions made at {meta['decided_at'].iloc[0]} by primary_classification v{meta['version'].iloc[0]}.")
