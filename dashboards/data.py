"""Data access for the dashboard: serving tables in PostgreSQL, marts and lake files via DuckDB (read-only), cached."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from devmentor.settings import Settings, load_settings
from devmentor.storage import postgres
from models.segments import AT_RISK_SEGMENTS  # noqa: F401  (one place names them; pages import it from here)


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """The dashboard's settings, resolved once per server process."""
    return load_settings()


@st.cache_resource(show_spinner=False)
def database_url() -> str:
    """The serving database as the read-only reader role (the dashboard never writes)."""
    return settings().serving_db().reader_url()


@st.cache_data(ttl=60, show_spinner=False)
def serving_query(sql: str, params: tuple = ()) -> pd.DataFrame:
    with postgres.connect(database_url()) as conn:
        cur = conn.execute(sql, params)
        columns = [c.name for c in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


@st.cache_data(ttl=60, show_spinner=False)
def warehouse_query(sql: str, params: tuple = ()) -> pd.DataFrame:
    import duckdb

    con = duckdb.connect(str(settings().warehouse_path), read_only=True)
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def lake_path() -> Path:
    return settings().lake


@st.cache_data(ttl=60, show_spinner=False)
def lake_query(sql: str) -> pd.DataFrame:
    """DuckDB over lake files; ``{lake}`` in the SQL is the lake directory."""
    import duckdb

    con = duckdb.connect()
    try:
        return con.execute(sql.format(lake=lake_path())).df()
    finally:
        con.close()


@st.cache_data(ttl=60, show_spinner=False)
def check_results() -> pd.DataFrame:
    path = lake_path() / "_quality" / "checks.jsonl"
    if not path.exists():
        return pd.DataFrame(columns=["at", "asset", "check", "passed", "run_id", "metadata"])
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return pd.DataFrame(rows)


@st.cache_data(ttl=60, show_spinner=False)
def filter_options() -> tuple[list[str], list[str]]:
    courses = warehouse_query("SELECT DISTINCT course_id FROM staging.stg_devmentor__enrolments ORDER BY 1")["course_id"].tolist()
    cohorts = warehouse_query(
        "SELECT DISTINCT strftime(signed_up_at, '%Y-%m') AS cohort FROM staging.stg_devmentor__profiles "
        "WHERE signed_up_at IS NOT NULL ORDER BY 1")["cohort"].tolist()
    return courses, cohorts


@st.cache_data(ttl=60, show_spinner=False)
def learners_in(course: str | None, cohort: str | None) -> tuple[str, ...]:
    """Learners enrolled in ``course`` and signed up in ``cohort`` (YYYY-MM); None means all."""
    sql = ["SELECT DISTINCT p.user_id FROM staging.stg_devmentor__profiles p"]
    params: list = []
    if course:
        sql.append("JOIN staging.stg_devmentor__enrolments e ON e.user_id = p.user_id AND e.course_id = ?")
        params.append(course)
    if cohort:
        sql.append("WHERE strftime(p.signed_up_at, '%Y-%m') = ?")
        params.append(cohort)
    return tuple(warehouse_query(" ".join(sql) + " ORDER BY 1", tuple(params))["user_id"])


def sidebar_filters() -> tuple[str | None, str | None, tuple[str, ...]]:
    """Course and cohort filters shown on every page; returns them and the learners they select."""
    try:
        courses, cohorts = filter_options()
    except Exception as exc:  # no warehouse yet
        st.warning(f"No feature tables yet ({str(exc).splitlines()[0]}). Run `devmentor demo` first.")
        st.stop()
    course = st.sidebar.selectbox("Course", ["All courses", *courses], key="course")
    cohort = st.sidebar.selectbox("Cohort (sign-up month)", ["All cohorts", *cohorts], key="cohort")
    course = None if course == "All courses" else course
    cohort = None if cohort == "All cohorts" else cohort
    return course, cohort, learners_in(course, cohort)


def require(frame_fn, what: str):
    """Run a query; on a missing table or a database that is down, say what to do and stop the page."""
    try:
        return frame_fn()
    except Exception as exc:
        st.warning(f"{what} is not available yet ({str(exc).splitlines()[0][:160]}). Run `devmentor demo` first.")
        st.stop()


def plain_reasons(path: list | str | None) -> str:
    """A decision path as words: 'correct rate ≤ 0.52 and activity last week ...'."""
    if isinstance(path, str):
        path = json.loads(path)
    return " and ".join(step["rule"] for step in (path or []))
