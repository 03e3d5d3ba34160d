"""Forgetting a learner on the shared pipeline run: no trace anywhere, and none after the sender re-sends its
old files and everything is re-ingested. It changes the data for good: the files after it in the shared
run's worker (tests/conftest.py schedules them in collection order) only read what stays true."""

from __future__ import annotations

import os
import shutil

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.runner import run_pipeline
from tests.conftest import E2E_LEARNERS as LEARNERS


def _forget(settings, url, victim: str) -> None:
    from orchestration.cli import main

    os.environ["DEVMENTOR_HOME"] = str(settings.home)
    os.environ["DEVMENTOR_DATABASE_URL"] = url
    try:
        assert main(["forget", victim]) == 0
    finally:
        del os.environ["DEVMENTOR_HOME"], os.environ["DEVMENTOR_DATABASE_URL"]


def _lake_traces(settings, victim: str) -> list[str]:
    found = []
    for path in settings.lake.rglob("*"):  # text files: ingest log, quality check examples (issue 19 #2)
        if path.is_file() and path.suffix in (".json", ".jsonl", ".txt", ".log") and victim in path.read_text(errors="replace"):
            found.append(str(path.relative_to(settings.lake)))
    for path in settings.lake.rglob("*.parquet"):
        if "_privacy" in path.parts:
            continue
        table = pq.read_table(path)
        for col in table.column_names:
            t = table.schema.field(col).type
            if pa.types.is_dictionary(t):
                t = t.value_type
            if pa.types.is_string(t) or pa.types.is_large_string(t):
                values = table.column(col).to_pylist()
                if victim in values or any(isinstance(v, str) and f'"{victim}"' in v for v in values):
                    found.append(f"{path.relative_to(settings.lake)}:{col}")
    return found


def _traces(settings, url, victim: str) -> list[str]:
    """Where the learner still is: lake files, warehouse rows, serving rows."""
    found = _lake_traces(settings, victim)
    wh = duckdb.connect(str(settings.warehouse_path), read_only=True)
    for schema, table in wh.execute(
            "SELECT table_schema, table_name FROM information_schema.columns WHERE column_name = 'user_id'").fetchall():
        if wh.execute(f'SELECT count(*) FROM "{schema}"."{table}" WHERE user_id = ?', [victim]).fetchone()[0]:
            found.append(f"warehouse {schema}.{table}")
    wh.close()
    with psycopg.connect(url) as conn:
        for (table,) in conn.execute("SELECT table_name FROM information_schema.columns WHERE table_schema = 'serving' "
                                     "AND column_name = 'user_id'").fetchall():
            if conn.execute(f'SELECT count(*) FROM serving."{table}" WHERE user_id = %s', (victim,)).fetchone()[0]:
                found.append(f"serving.{table}")
    return found


def _postgres_rows_naming(url, victim: str) -> tuple[int, list[str]]:
    """(tables scanned, tables with a row naming the learner) over every schema, Dagster's included."""
    pattern = rf"(^|[^A-Za-z0-9_-]){victim}([^A-Za-z0-9_-]|$)"
    with psycopg.connect(url) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                              "AND table_schema NOT IN ('pg_catalog', 'information_schema')").fetchall()
        left = [f"{s}.{t}" for s, t in tables
                if conn.execute(f'SELECT count(*) FROM "{s}"."{t}" AS r WHERE r::text ~ %s', (pattern,)).fetchone()[0]]
    return len(tables), left


def test_forget_removes_every_trace_and_survives_a_re_ingest(pipeline_run, capsys, tmp_path):
    settings, url, result, summary = pipeline_run
    with psycopg.connect(url) as conn:
        victim = conn.execute("SELECT user_id FROM serving.badges ORDER BY user_id LIMIT 1").fetchone()[0]
    # The sender's copy of the event files, as it will send them again later (the inbox's own copy is forgotten).
    resent = tmp_path / "resent"
    shutil.copytree(settings.inbox / "events", resent)
    _forget(settings, url, victim)
    out = capsys.readouterr().out
    assert "serving.learner_decisions" in out and "lake/raw/events" in out and "warehouse/" in out
    assert _traces(settings, url, victim) == []
    # The whole-store scan (issue 19): every file under the data directory (Parquet decoded; DuckDB, SQLite,
    # MLflow and Dagster files by their raw bytes, freed blocks included) and every row of every table in every
    # PostgreSQL schema (Dagster's run storage in public included) hold no trace of the learner.
    from tests.test_privacy import _traces_on_disk

    assert _traces_on_disk(settings.home, victim) == []
    scanned, left = _postgres_rows_naming(url, victim)
    assert scanned > 20 and left == []
    # The sender sends its old files again, every file is re-ingested from scratch and everything runs again:
    # the learner stays gone (the tombstone drops their rows).
    shutil.copytree(resent, settings.inbox / "events", dirs_exist_ok=True)
    shutil.rmtree(settings.lake / "_ingest_log")
    (settings.inbox / "events" / "2026-11-05.csv").unlink(missing_ok=True)  # the bad day of an earlier test
    rerun = run_pipeline(settings, select="group:ingest or group:features", full_refresh=True)
    assert rerun.success
    ingested = [e for e in rerun.get_asset_materialization_events() if e.asset_key.to_user_string() == "raw/events"]
    assert ingested[0].materialization.metadata["rows_forgotten"].value > 0  # the old files still hold the learner
    assert _traces(settings, url, victim) == []
    wh = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert wh.execute("SELECT count(*) FROM marts.dim_learner").fetchone()[0] == LEARNERS - 1
    wh.close()
