"""Forgetting a learner: remove every trace, and keep them forgotten when old files are ingested again.

    devmentor forget LEARNER_ID

Removes the learner's rows from the lake (raw, quarantine, ML outputs, badge ledger, text logs; the
mastery trace state is dropped and rebuilt by the next run), importer-written inbox files, the warehouse
(every table with a user_id; the file is then rewritten so freed blocks keep nothing), every PostgreSQL
schema with a user_id, the JetStream stream, and replaces the id in Dagster's run history and step logs. A tombstone records a keyed hash of the id (never the id itself): ingest drops
tombstoned learners' rows before they reach the lake or the quarantine. The command reports what
it removed where.

The hash key comes from DEVMENTOR_PRIVACY_KEY, or is generated once and kept (mode 0600) in the
data directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from devmentor.settings import Settings
from devmentor.storage.lake import PUBLISHED_FINGERPRINTS, remove_directory

TOMBSTONES = "_privacy/tombstones.parquet"


class PrivacyKeyMismatch(RuntimeError):
    """The privacy key is not the one that made this data directory's tombstones and pseudonyms."""


def key_fingerprint(key: str) -> str:
    return hashlib.sha256(f"devmentor-privacy-key-fingerprint:{key}".encode()).hexdigest()[:16]


def privacy_key(home: Path) -> str:
    """The keyed-hash key: DEVMENTOR_PRIVACY_KEY, else one generated once in the data directory (mode 0600
    from creation). Its fingerprint is recorded on first use; a different key later is refused, because
    tombstones and pseudonyms made with the old key would silently stop matching (forgotten learners
    would come back). DEVMENTOR_PRIVACY_KEY_CHANGE=accept records the new key's fingerprint instead."""
    home = Path(home)
    key = os.environ.get("DEVMENTOR_PRIVACY_KEY")
    if not key:
        path = home / ".privacy_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(32))
        key = path.read_text().strip()
    record = home / ".privacy_key_fingerprint"
    fingerprint = key_fingerprint(key)
    if record.exists() and record.read_text().strip() != fingerprint:
        if os.environ.get("DEVMENTOR_PRIVACY_KEY_CHANGE") != "accept":
            raise PrivacyKeyMismatch(
                f"the privacy key (fingerprint {fingerprint}) is not the one this data directory was made with "
                f"(fingerprint {record.read_text().strip()}): tombstones of forgotten learners and xAPI pseudonyms "
                "would stop matching. Set DEVMENTOR_PRIVACY_KEY back to the original key; to change keys on "
                "purpose, run once with DEVMENTOR_PRIVACY_KEY_CHANGE=accept and forget those learners again "
                "(docs/operator.md).")
    if not record.exists() or record.read_text().strip() != fingerprint:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(fingerprint + "\n")
    return key


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


def _scrub_lines(path: Path, user_id: str) -> int:
    """Rewrite a text file without the lines that contain ``user_id``; returns lines removed."""
    lines = path.read_text(errors="replace").splitlines(keepends=True)
    keep = [line for line in lines if user_id not in line]
    if len(keep) == len(lines):
        return 0
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(keep))
    tmp.replace(path)
    return len(lines) - len(keep)


def _scrub_text_files(lake: Path, user_id: str) -> int:
    removed = 0
    for path in sorted(lake.rglob("*")) if lake.exists() else []:
        if not path.is_file() or "_privacy" in path.parts:
            continue
        if path.suffix in (".jsonl", ".txt", ".log"):
            removed += _scrub_lines(path, user_id)
        elif path.suffix == ".json":  # one JSON document: keep it valid, replace the id
            text = path.read_text(errors="replace")
            if user_id in text:
                removed += text.count(user_id)
                tmp = path.with_suffix(".json.tmp")
                tmp.write_text(text.replace(user_id, "[forgotten]"))
                tmp.replace(path)
    return removed


def _has_column(con, path: Path, column: str) -> bool:
    cols = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()]
    return column in cols


QUARANTINE_MATCH = (
    # CASE, not AND/OR: DuckDB must never parse a record that is not valid JSON (a malformed line is exactly
    # what a quarantine holds); such a record is matched on its raw text instead.
    "CASE WHEN record IS NULL THEN false "
    "WHEN json_valid(record) THEN coalesce(json_extract_string(record, '$.user_id') = ? "
    "OR json_extract_string(record, '$.actor.account.name') = ? "
    "OR json_extract_string(record, '$.actor.learner_id') = ?, false) "
    "ELSE contains(record, ?) END")


def _count(report: dict[str, int], label: str, n: int) -> None:
    if n:
        report[label] = report.get(label, 0) + n


def _parquet_files(folder: Path):
    return sorted(folder.rglob("*.parquet")) if folder.exists() else []


def _forget_in_lake(con, lake: Path, user_id: str, report: dict[str, int]) -> None:
    from devmentor.ingest.validate import recover_interrupted

    recover_interrupted(lake)  # an interrupted ingest swap is finished first, so its files are scanned too
    # fingerprints of the published tables (keys of the learner's rows): dropped, the next publish is a whole one
    published = lake / "ml" / PUBLISHED_FINGERPRINTS
    if published.exists():
        shutil.rmtree(published)
        report["lake/ml/_published (fingerprints dropped, next publish is whole)"] = 1
    # raw data, ML outputs, analytics: any Parquet file with a user_id column
    for folder in ("raw", "ml", "analytics"):
        for path in _parquet_files(lake / folder):
            if _has_column(con, path, "user_id"):
                parts = path.relative_to(lake).parts
                _count(report, f"lake/{parts[0]}/{parts[1]}",
                       _rewrite_parquet(con, path, "CAST(user_id AS VARCHAR) = ?", [user_id]))
    # quarantine: bad rows keep the raw record; match the learner id inside it
    for path in _parquet_files(lake / "quarantine"):
        if _has_column(con, path, "record"):
            _count(report, f"lake/quarantine/{path.parent.name}",
                   _rewrite_parquet(con, path, QUARANTINE_MATCH, [user_id] * 4))
    # text files (ingest log, quality check examples); leftover staging files of interrupted ingests
    _count(report, "lake text logs (lines)", _scrub_text_files(lake, user_id))
    staging = lake / "_staging"
    if staging.exists() and any(staging.iterdir()):
        shutil.rmtree(staging)
        report["lake/_staging (leftovers removed)"] = 1
    # mastery trace state: indexed by learner position, so it is dropped and rebuilt by the next run
    state = lake / "ml" / "mastery" / "state"
    if state.exists() or state.is_symlink():
        remove_directory(state)
        report["lake/ml/mastery/state (dropped, rebuilt next run)"] = 1


def _forget_in_inbox(con, inbox: Path, user_id: str, report: dict[str, int]) -> None:
    """Every file in the inbox is this data directory's copy (a sender's drop or an importer's output), so the
    learner leaves it too: Parquet and CSV files with a user_id column are rewritten without the learner's rows,
    JSON Lines lose the lines that name them. (The sending system's own copy is its operator's to erase.) A
    rewritten file is a changed file: the next ingest reads it again, without the learner."""
    label = "inbox files"
    for path in sorted(p for p in inbox.rglob("*") if p.is_file()) if inbox.exists() else []:
        if path.suffix == ".parquet" and _has_column(con, path, "user_id"):
            _count(report, label, _rewrite_parquet(con, path, "CAST(user_id AS VARCHAR) = ?", [user_id]))
        elif path.suffix in (".jsonl", ".ndjson", ".json") and user_id in path.read_text(errors="replace"):
            _count(report, label, _scrub_lines(path, user_id))
        elif path.suffix == ".csv" and user_id in path.read_text(errors="replace"):
            _count(report, label, _rewrite_csv(con, path, user_id))


def _rewrite_csv(con, path: Path, user_id: str) -> int:
    """The CSV without the learner's rows (by its user_id column; without one, without the lines naming them)."""
    source = "read_csv(?, header=true, all_varchar=true)"
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}", [str(path)]).fetchall()]
    if "user_id" not in columns:
        return _scrub_lines(path, user_id)
    n = con.execute(f"SELECT count(*) FROM {source} WHERE user_id = ?", [str(path), user_id]).fetchone()[0]
    tmp = path.with_name(path.name + ".forget.tmp")
    con.execute(f"COPY (SELECT * FROM {source} WHERE user_id IS DISTINCT FROM ?) TO '{str(tmp).replace(chr(39), chr(39) * 2)}' "
                "(FORMAT csv, HEADER true)", [str(path), user_id])
    os.replace(tmp, path)
    return n


def _forget_in_warehouse(warehouse: Path, user_id: str, report: dict[str, int]) -> None:
    if not warehouse.exists():
        return
    wh = duckdb.connect(str(warehouse))
    try:
        tables = wh.execute(
            """SELECT t.table_schema, t.table_name FROM information_schema.tables t
               JOIN information_schema.columns c USING (table_schema, table_name)
               WHERE t.table_type = 'BASE TABLE' AND c.column_name = 'user_id'""").fetchall()
        deleted = 0
        for schema, table in tables:
            n = wh.execute(f'DELETE FROM "{schema}"."{table}" WHERE CAST(user_id AS VARCHAR) = ?', [user_id]).fetchone()[0]
            _count(report, f"warehouse/{schema}.{table}", n)
            deleted += n
    finally:
        wh.close()
    if deleted:
        _compact_duckdb(warehouse)


def _compact_duckdb(path: Path) -> None:
    """A DELETE leaves the old rows' bytes in the database file's freed blocks: copy the database into a
    fresh file and swap it in, so no trace of the deleted rows stays on disk."""
    fresh = path.with_name(path.name + ".forget.tmp")
    fresh.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        name = con.execute("SELECT current_database()").fetchone()[0]
        con.execute("ATTACH ? AS forget_fresh", [str(fresh)])
        con.execute(f'COPY FROM DATABASE "{name}" TO forget_fresh')
        con.execute("DETACH forget_fresh")
    finally:
        con.close()
    os.replace(fresh, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)


def _forget_in_postgres(settings: Settings, user_id: str, report: dict[str, int]) -> None:
    """Every schema, not only serving: `devmentor warehouse postgres` fills lake, staging, intermediate, marts."""
    from psycopg import sql as postgres_sql

    with settings.serving_db().connect() as conn:
        tables = conn.execute(
            """SELECT c.table_schema, c.table_name FROM information_schema.columns c
               JOIN information_schema.tables t USING (table_schema, table_name)
               WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.column_name = 'user_id'
                 AND t.table_type = 'BASE TABLE'""").fetchall()
        with conn.transaction():
            for schema, table in tables:
                n = conn.execute(postgres_sql.SQL("DELETE FROM {}.{} WHERE CAST(user_id AS text) = %s").format(
                    postgres_sql.Identifier(schema), postgres_sql.Identifier(table)), (user_id,)).rowcount
                _count(report, f"{schema}.{table}", n)
            # A row in the publish log makes the read API drop its cached answers at once (it watches the log).
            if conn.execute("SELECT to_regclass('serving.publish_log')").fetchone()[0]:
                conn.execute("INSERT INTO serving.publish_log (publish_id, table_name, row_count, run_id, seconds) "
                             "VALUES (%s, 'forget', %s, NULL, 0)", (secrets.token_hex(16), sum(report.values())))


# Characters that can continue an id: the learner's id is replaced only where it stands on its own, so
# forgetting "u0042" leaves "u00421" alone.
_ID_CHAR = "A-Za-z0-9_-"
FORGOTTEN = "[forgotten]"


def _id_regex(user_id: str) -> str:
    return f"(?<![{_ID_CHAR}]){re.escape(user_id)}(?![{_ID_CHAR}])"


def _forget_in_dagster(settings: Settings, user_id: str, report: dict[str, int]) -> None:
    """Dagster's run history (event logs, run bodies, check results) and step logs can carry the id in log
    lines and metadata: it is replaced by [forgotten] there, keeping the runs themselves."""
    pattern = _id_regex(user_id)
    if settings.database_url:  # dagster-postgres: Dagster's tables live in schema public of the same database
        from psycopg import sql as postgres_sql

        with settings.serving_db().connect() as conn, conn.transaction():
            columns = conn.execute(
                """SELECT table_name, column_name FROM information_schema.columns
                   WHERE table_schema = 'public' AND data_type IN ('text', 'character varying')""").fetchall()
            for table, column in columns:
                col = postgres_sql.Identifier(column)
                n = conn.execute(postgres_sql.SQL("UPDATE public.{} SET {} = regexp_replace({}, %s, %s, 'g') WHERE {} ~ %s").format(
                    postgres_sql.Identifier(table), col, col, col), (pattern, FORGOTTEN, pattern)).rowcount
                _count(report, f"dagster run storage (public.{table})", n)
    home = settings.dagster_home
    for path in sorted(home.rglob("*")) if home.exists() else []:
        if not path.is_file() or path.name == "dagster.yaml" or path.suffix in (".db-wal", ".db-shm", ".lock"):
            continue
        if path.suffix == ".db":
            _count(report, f"dagster run storage ({path.relative_to(home)})", _scrub_sqlite(path, user_id, pattern))
        else:
            text = path.read_text(errors="replace")
            scrubbed, n = re.subn(pattern, FORGOTTEN, text)
            if n:
                tmp = path.with_name(path.name + ".forget.tmp")
                tmp.write_text(scrubbed)
                os.replace(tmp, path)
                _count(report, "dagster step logs (occurrences)", n)


def _scrub_sqlite(path: Path, user_id: str, pattern: str) -> int:
    """Replace the id in every text value of a SQLite database, then VACUUM so no old page keeps it."""
    regex = re.compile(pattern)
    changed = 0
    con = sqlite3.connect(str(path))
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            for _, column, kind, *_ in con.execute(f"PRAGMA table_info({quoted})").fetchall():
                if kind.upper() not in ("TEXT", "VARCHAR", "") and not kind.upper().startswith("VARCHAR"):
                    continue
                qc = '"' + column.replace('"', '""') + '"'
                rows = con.execute(f"SELECT rowid, {qc} FROM {quoted} WHERE instr({qc}, ?) > 0", (user_id,)).fetchall()
                for rowid, value in rows:
                    new, n = regex.subn(FORGOTTEN, value) if isinstance(value, str) else (value, 0)
                    if n:
                        con.execute(f"UPDATE {quoted} SET {qc} = ? WHERE rowid = ?", (new, rowid))
                        changed += 1
        con.commit()
        if changed:
            con.execute("VACUUM")
    finally:
        con.close()
    return changed


def forget(settings: Settings, user_id: str) -> dict[str, int]:
    """Remove ``user_id`` everywhere; returns rows removed per place."""
    if not user_id or not user_id.strip():
        raise ValueError("forget needs a learner id")
    report: dict[str, int] = {}
    # The tombstone first: from now on ingest drops this learner, even if this command is interrupted
    # (running it again finishes the removal).
    _add_tombstone(settings.lake, privacy_key(settings.home), user_id)
    # Every serving table's publish lock for the lake and PostgreSQL parts: a publish running meanwhile either
    # finished before (its fingerprints saved, then removed here) or reads the lake after it was rewritten.
    from devmentor.serving.publish import publish_lock
    from devmentor.serving.tables import SERVING_TABLE_NAMES

    with settings.serving_db().connect() as lock_conn, publish_lock(lock_conn, SERVING_TABLE_NAMES):
        con = duckdb.connect()
        try:
            _forget_in_lake(con, settings.lake, user_id, report)
            _forget_in_inbox(con, settings.inbox, user_id, report)
        finally:
            con.close()
        _forget_in_warehouse(settings.warehouse_path, user_id, report)
        _forget_in_postgres(settings, user_id, report)
    _forget_in_dagster(settings, user_id, report)
    if settings.nats_url:  # the decisions already relayed to JetStream carry the id too
        from devmentor.serving.relay import forget_in_stream

        _count(report, "nats stream DEVMENTOR_DECISIONS", forget_in_stream(settings.nats_url, user_id))
    return report
