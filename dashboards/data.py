"""Data access for the dashboard: serving tables in PostgreSQL, marts and lake files via DuckDB (read-only), cached."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards.labels import as_float, path_words
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
def filter_options() -> tuple[dict[str, str], list[str]]:
    """Courses (id → title) and cohorts (sign-up months) the filters offer."""
    courses = warehouse_query("SELECT course_id, course_title FROM staging.stg_devmentor__courses ORDER BY 1")
    cohorts = warehouse_query(
        "SELECT DISTINCT strftime(signed_up_at, '%Y-%m') AS cohort FROM staging.stg_devmentor__profiles "
        "WHERE signed_up_at IS NOT NULL ORDER BY 1")["cohort"].tolist()
    return dict(zip(courses["course_id"], courses["course_title"].fillna(""))), cohorts


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


ALL_COURSES, ALL_COHORTS = "All courses", "All cohorts"


@dataclass(frozen=True)
class Filters:
    """The sidebar's course and cohort, and the learners they select (every page applies them)."""

    course: str | None
    cohort: str | None
    learners: tuple[str, ...]

    def sql(self, user_col: str = "user_id", course_col: str | None = "course_id") -> tuple[str, tuple]:
        """A DuckDB WHERE fragment for rows of these learners (and this course, when the rows have one)."""
        parts, params = [], []
        if self.course and course_col:
            parts.append(f"{course_col} = ?")
            params.append(self.course)
        if self.cohort:
            parts.append(f"{user_col} IN (SELECT user_id FROM staging.stg_devmentor__profiles "
                         "WHERE strftime(signed_up_at, '%Y-%m') = ?)")
            params.append(self.cohort)
        return (" AND ".join(parts) or "TRUE"), tuple(params)

    def describe(self) -> str:
        return f"{self.course or ALL_COURSES.lower()}, {('cohort ' + self.cohort) if self.cohort else ALL_COHORTS.lower()}"


def render_filters() -> None:
    """Draw the course and cohort filters in the sidebar; called by the entrypoint (app.py) on every page,
    so the choice stays as the instructor moves between pages."""
    try:
        courses, cohorts = filter_options()
    except Exception as exc:  # no warehouse yet
        st.session_state["filters_error"] = str(exc).splitlines()[0][:160]
        return
    st.session_state.pop("filters_error", None)
    st.sidebar.selectbox("Course", [ALL_COURSES, *courses], key="course",
                         format_func=lambda c: f"{c}: {courses[c]}" if courses.get(c) and courses[c] != c else c)
    st.sidebar.selectbox("Cohort (sign-up month)", [ALL_COHORTS, *cohorts], key="cohort")


def filters() -> Filters:
    """The filters the sidebar holds; stops the page with what to do when there are no feature tables yet."""
    if "filters_error" in st.session_state:
        st.warning(f"No feature tables yet ({st.session_state['filters_error']}). Run `devmentor demo` first.")
        st.stop()
    course = st.session_state.get("course", ALL_COURSES)
    cohort = st.session_state.get("cohort", ALL_COHORTS)
    course = None if course == ALL_COURSES else course
    cohort = None if cohort == ALL_COHORTS else cohort
    return Filters(course, cohort, learners_in(course, cohort))


def require(frame_fn, what: str):
    """Run a query; on a missing table or a database that is down, say what to do and stop the page."""
    try:
        return frame_fn()
    except Exception as exc:
        st.warning(f"{what} is not available yet ({str(exc).splitlines()[0][:160]}). Run `devmentor demo` first.")
        st.stop()


def plain_reasons(path: list | str | None) -> str:
    """A decision path as words: 'share of quiz answers correct at most 0.52 and …' (dashboards/labels.py words)."""
    if isinstance(path, str):
        path = json.loads(path)
    try:
        return path_words([(step["feature"], step["operator"], as_float(step["threshold"])) for step in path or []])
    except (KeyError, TypeError, ValueError):  # an older path without its rules' parts
        return " and ".join(step["rule"] for step in path or [])


@st.cache_data(ttl=60, show_spinner=False)
def data_as_of() -> pd.Timestamp | None:
    """The instant the published decisions (else the feature marts) were computed as of: trailing windows end here."""
    try:
        value = serving_query("SELECT max(as_of) AS as_of FROM serving.learner_decisions")["as_of"].iloc[0]
    except Exception:
        value = None
    if value is None or pd.isna(value):
        try:
            value = warehouse_query("SELECT max(as_of_at) AS as_of FROM marts.fct_learner_behavior")["as_of"].iloc[0]
        except Exception:
            return None
    return None if value is None or pd.isna(value) else pd.Timestamp(value).tz_convert("UTC") \
        if pd.Timestamp(value).tzinfo else pd.Timestamp(value).tz_localize("UTC")
