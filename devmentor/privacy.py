"""Forgetting a learner: remove every trace, and keep them forgotten when old files are ingested again.

    devmentor forget LEARNER_ID

Removes the learner's rows from the lake (raw, quarantine, ML outputs, badge ledger; the mastery
trace state is dropped and rebuilt by the next run), the warehouse (every table with a user_id),
the serving database (every serving table with a user_id, histories and outbox included), and the
chat search index. A tombstone records a keyed hash of the id (never the id itself): ingest drops
tombstoned learners' rows before they reach the lake or the quarantine. The command reports what
it removed where.

The hash key comes from DEVMENTOR_PRIVACY_KEY, or is generated once and kept (mode 0600) in the
data directory.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from devmentor.settings import Settings

TOMBSTONES = "_privacy/tombstones.parquet"


def privacy_key(home: Path) -> str:
    key = os.environ.get("DEVMENTOR_PRIVACY_KEY")
    if key:
        return key
    path = Path(home) / ".privacy_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def learner_hash(key: str, user_id: str) -> str:
    """Keyed hash of a learner id (DuckDB computes the same: sha256(key || ':' || user_id))."""
    return hashlib.sha256(f"{key}:{user_id}".encode()).hexdigest()


def tombstone_path(lake: Path) -> Path:
    return Path(lake) / TOMBSTONES


def tombstone_filter_sql(lake: Path, key: str, column: str = "user_id") -> str | None:
    """A SQL condition true for rows of forgotten learners, or None when nobody was forgotten."""
    path = tombstone_path(lake)
    if not path.exists():
        return None
    key_sql = key.replace("'", "''")
    return (f"sha256('{key_sql}' || ':' || CAST({column} AS VARCHAR)) IN "
            f"(SELECT learner_hash FROM read_parquet('{path}'))")


def _add_tombstone(lake: Path, key: str, user_id: str) -> None:
    path = tombstone_path(lake)
    path.parent.mkdir(parents=True, exist_ok=True)
    row = pa.table({"learner_hash": [learner_hash(key, user_id)],
                    "forgotten_at": pa.array([datetime.now(timezone.utc)], pa.timestamp("us", tz="UTC"))})
    if path.exists():
        old = pq.read_table(path)
        if learner_hash(key, user_id) in old.column("learner_hash").to_pylist():
            return
        row = pa.concat_tables([old, row])
    tmp = path.with_suffix(".tmp")
    pq.write_table(row, tmp)
    tmp.replace(path)


def _rewrite_parquet(con: duckdb.DuckDBPyConnection, path: Path, condition: str, params: list) -> int:
    """Rewrite one Parquet file without the rows matching ``condition``; returns rows removed."""
    n = con.execute(f"SELECT count(*) FROM read_parquet(?) WHERE {condition}", [str(path), *params]).fetchone()[0]
    if not n:
        return 0
    tmp = path.with_name(path.name + ".forget.tmp")
    con.execute(f"COPY (SELECT * FROM read_parquet(?) WHERE NOT ({condition})) TO '{tmp}' (FORMAT parquet)",
                [str(path), *params])
    if con.execute(f"SELECT count(*) FROM read_parquet('{tmp}')").fetchone()[0] == 0:
        tmp.unlink()
        path.unlink()
    else:
        os.replace(tmp, path)
    return n


def _has_column(con, path: Path, column: str) -> bool:
    cols = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]
    return column in cols


def forget(settings: Settings, user_id: str) -> dict[str, int]:
    """Remove ``user_id`` everywhere; returns rows removed per place."""
    if not user_id or not user_id.strip():
        raise ValueError("forget needs a learner id")
    report: dict[str, int] = {}
    key = privacy_key(settings.home)
    lake = settings.lake
    # The tombstone first: from now on ingest drops this learner, even if this command is interrupted
    # (running it again finishes the removal).
    _add_tombstone(lake, key, user_id)
    con = duckdb.connect()
    # 1. lake: raw data, ML outputs, analytics (any Parquet file with a user_id column)
    for folder in ("raw", "ml", "analytics"):
        for path in sorted((lake / folder).rglob("*.parquet")) if (lake / folder).exists() else []:
            if _has_column(con, path, "user_id"):
                n = _rewrite_parquet(con, path, "CAST(user_id AS VARCHAR) = ?", [user_id])
                if n:
                    label = f"lake/{path.relative_to(lake).parts[0]}/{path.relative_to(lake).parts[1]}"
                    report[label] = report.get(label, 0) + n
    # 2. quarantine: bad rows keep the raw record; match the learner id inside it
    for path in sorted((lake / "quarantine").rglob("*.parquet")) if (lake / "quarantine").exists() else []:
        if _has_column(con, path, "record"):
            cond = "(json_valid(record) AND json_extract_string(record, '$.user_id') = ? OR json_extract_string(record, '$.actor.account.name') = ?)"
            n = _rewrite_parquet(con, path, cond, [user_id, user_id])
            if n:
                label = f"lake/quarantine/{path.parent.name}"
                report[label] = report.get(label, 0) + n
    # 3. mastery trace state: indexed by learner position, so it is dropped and rebuilt by the next run
    state = lake / "ml" / "mastery" / "state"
    if state.exists():
        shutil.rmtree(state)
        report["lake/ml/mastery/state (dropped, rebuilt next run)"] = 1
    con.close()
    # 4. warehouse: every table with a user_id column
    if settings.warehouse_path.exists():
        wh = duckdb.connect(str(settings.warehouse_path))
        try:
            tables = wh.execute(
                """SELECT t.table_schema, t.table_name FROM information_schema.tables t
                   JOIN information_schema.columns c USING (table_schema, table_name)
                   WHERE t.table_type = 'BASE TABLE' AND c.column_name = 'user_id'""").fetchall()
            for schema, table in tables:
                n = wh.execute(f'DELETE FROM "{schema}"."{table}" WHERE CAST(user_id AS VARCHAR) = ?', [user_id]).fetchone()[0]
                if n:
                    report[f"warehouse/{schema}.{table}"] = n
        finally:
            wh.close()
    # 5. serving database
    from devmentor.storage import postgres

    url = settings.database_url or postgres.embedded_url(settings.pg_data_dir)
    with postgres.connect(url, autocommit=True) as conn:
        tables = conn.execute(
            """SELECT c.table_name FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
               WHERE c.table_schema = 'serving' AND c.column_name = 'user_id' AND t.table_type = 'BASE TABLE'""").fetchall()
        with conn.transaction():
            for (table,) in tables:
                n = conn.execute(f'DELETE FROM serving."{table}" WHERE user_id = %s', (user_id,)).rowcount
                if n:
                    report[f"serving.{table}"] = n
    return report
