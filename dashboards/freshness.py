"""Cached answers never outlive a publish or a forget: every page run compares serving.publish_log's version
(its row count and newest time; a publish or `devmentor forget` adds a row) with the one the caches were filled
at, and clears every cached query when it changed. A forgotten learner leaves the dashboard at the next page
view, not after the caches' 60 s expiry."""

from __future__ import annotations

import streamlit as st

from dashboards.data import database_url
from devmentor.storage import postgres

VERSION_SQL = ("SELECT count(*) || ':' || coalesce(max(published_at)::text, '') FROM serving.publish_log "
               "WHERE to_regclass('serving.publish_log') IS NOT NULL")


def publish_version() -> str | None:
    """The publish log's version, or None while nothing was ever published (or the database is unreachable)."""
    try:
        with postgres.connect(database_url()) as conn:
            if conn.execute("SELECT to_regclass('serving.publish_log')").fetchone()[0] is None:
                return None
            return conn.execute(VERSION_SQL).fetchone()[0]
    except Exception:  # noqa: BLE001 - the pages say what is wrong with the database; this only guards caches
        return None


@st.cache_resource(show_spinner=False)
def _seen() -> dict[str, str | None]:
    return {"version": None}


def clear_caches_on_new_publish() -> bool:
    """Clear every st.cache_data entry when the publish log moved on since the caches were filled."""
    version = publish_version()
    seen = _seen()
    if version is not None and version != seen["version"]:
        changed = seen["version"] is not None
        seen["version"] = version
        if changed:
            st.cache_data.clear()
        return changed
    return False
