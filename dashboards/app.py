"""DevMentor instructor dashboard: `devmentor dashboard` (Streamlit, st.navigation pages)."""

import streamlit as st

st.set_page_config(page_title="DevMentor", layout="wide")

pages = [
    st.Page("pages/overview.py", title="Cohort overview", default=True),
    st.Page("pages/at_risk.py", title="At-risk learners"),
    st.Page("pages/learner.py", title="Learner drill-down"),
    st.Page("pages/skills.py", title="Skill matrix"),
    st.Page("pages/engagement.py", title="Engagement"),
    st.Page("pages/model_registry.py", title="Models"),
    st.Page("pages/quality.py", title="Data quality"),
]
st.navigation(pages).run()
