"""Data access for the dashboard: serving tables in PostgreSQL, marts in DuckDB (read-only), cached."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from orchestration import postgres
from orchestration.settings import load_settings


@st.cache_resource(show_spinner=False)
def database_url() -> str:
    settings = load_settings()
    return settings.database_url or postgres.embedded_url(settings.pg_data_dir)


@st.cache_data(ttl=60, show_spinner=False)
def serving_query(sql: str, params: tuple = ()) -> pd.DataFrame:
    with postgres.connect(database_url()) as conn:
        cur = conn.execute(sql, params)
        columns = [c.name for c in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


@st.cache_data(ttl=60, show_spinner=False)
def warehouse_query(sql: str) -> pd.DataFrame:
    import duckdb

    settings = load_settings()
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()
