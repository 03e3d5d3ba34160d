"""A publish or a forget empties the dashboard's caches at the next page view (issue 19: forget must reach the
dashboard's cache, not wait for its 60 s expiry)."""

from __future__ import annotations

import secrets

import psycopg


def test_a_new_publish_log_row_clears_every_cached_query(pipeline_run, monkeypatch):
    import streamlit as st

    settings, url, _result, _summary = pipeline_run
    monkeypatch.setenv("DEVMENTOR_HOME", str(settings.home))
    monkeypatch.setenv("DEVMENTOR_DATABASE_URL", url)
    from dashboards import data
    from dashboards.freshness import _seen, clear_caches_on_new_publish

    data.settings.clear()
    data.database_url.clear()
    _seen.clear()
    calls = []

    @st.cache_data(ttl=60, show_spinner=False)
    def badges() -> int:
        calls.append(1)
        return len(data.serving_query("SELECT user_id FROM serving.badges"))

    assert clear_caches_on_new_publish() is False  # first look: nothing to clear
    first = badges()
    assert badges() == first and len(calls) == 1  # cached
    assert clear_caches_on_new_publish() is False  # nothing new: the cache stays
    badges()
    assert len(calls) == 1
    with psycopg.connect(url, autocommit=True) as conn:  # what `devmentor forget` writes after its deletes
        conn.execute("INSERT INTO serving.publish_log (publish_id, table_name, row_count, run_id, seconds) "
                     "VALUES (%s, 'forget', 1, NULL, 0)", (secrets.token_hex(16),))
    assert clear_caches_on_new_publish() is True
    badges()
    assert len(calls) == 2  # read again, not served from the cache
