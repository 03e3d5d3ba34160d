"""DevMentor instructor dashboard: `devmentor dashboard` (Streamlit, st.navigation pages)."""

import streamlit as st

st.set_page_config(page_title="DevMentor", layout="wide")

pages = [
    st.Page("pages/overview.py", title="Cohort overview", default=True),
]
st.navigation(pages).run()
