"""DevMentor instructor dashboard: `devmentor dashboard` (Streamlit, st.navigation pages).

The entrypoint is the frame around every page: the course and cohort filters live here, so they keep
their value as the instructor moves between pages (widgets in a page would reset on every page change).
"""

import streamlit as st

from dashboards.data import render_filters
from dashboards.freshness import clear_caches_on_new_publish

st.set_page_config(page_title="DevMentor", layout="wide")

pages = [  # url paths are stable addresses (tests/browser.py PAGES visits each)
    st.Page("views/overview.py", title="Cohort overview", default=True),
    st.Page("views/at_risk.py", title="At-risk learners", url_path="at_risk"),
    st.Page("views/learner.py", title="Learner drill-down", url_path="learner"),
    st.Page("views/skills.py", title="Skill matrix", url_path="skills"),
    st.Page("views/engagement.py", title="Engagement", url_path="engagement"),
    st.Page("views/model_registry.py", title="Models", url_path="models"),
    st.Page("views/quality.py", title="Data quality", url_path="quality"),
]
page = st.navigation(pages)
clear_caches_on_new_publish()  # a publish or a forget since the caches were filled empties them
render_filters()
page.run()
