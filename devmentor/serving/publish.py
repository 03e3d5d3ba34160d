"""Atomic publication of serving tables into PostgreSQL.

A table is built beside the live one (``serving.<name>__new_<id>``) with COPY, indexed
and analysed, then swapped in one short transaction (rename old away, rename new in,
drop old, record the publish). A reader sees the whole old version or the whole new
one. If the process dies before the swap commits, the live table is untouched and the
leftover ``__new_`` table is dropped by the next publish.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

SCHEMA = "serving"
COPY_BATCH_ROWS = 50_000
PARALLEL_COPY_MIN_ROWS = 20_000  # smaller tables are COPYed on one connection

PUBLISH_LOG_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.publish_log (
    publish_id text NOT NULL,
    table_name text NOT NULL,
    row_count bigint NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    run_id text,
    seconds double precision,
    PRIMARY KEY (publish_id, table_name)
)
"""


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str
    nullable: bool = True


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    description: str = ""

    def ddl(self, table_name: str) -> str:
        cols = [f'{c.name} {c.pg_type}{"" if c.nullable else " NOT NULL"}' for c in self.columns]
        return f"CREATE TABLE {SCHEMA}.{table_name} ({', '.join(cols)})"


@dataclass
class PublishResult:
    table: str
    rows: int
    seconds: float
    copy_seconds: float
    publish_id: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.copy_seconds if self.copy_seconds > 0 else 0.0


READER_ROLE = "devmentor_reader"


def ensure_schema(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(PUBLISH_LOG_DDL)
    # A secret: read from the environment only, never from configuration that Dagster would display.
    ensure_reader_role(conn, password=os.environ.get("DEVMENTOR_READER_PASSWORD") or None)


def ensure_reader_role(conn: psycopg.Connection, role: str = READER_ROLE, password: str | None = None) -> None:
    """Create and maintain the serving layer's read-only role: SELECT on schema ``serving`` only.

    The role can log in, is read-only by default for every session, owns nothing, and gets SELECT on
    every current and future table in ``serving`` (future ones through default privileges of the
    pipeline's own role, which creates them on each swap). It has no right on any other schema.
    The password, when given, comes from the environment and is never logged.
    """
    from psycopg import sql

    ident = sql.Identifier(role)
    with conn.transaction():
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT").format(ident))
        if password and (not exists or not _password_works(conn, role, password)):
            # Only when the role is new or its password changed: the statement carries the password, and
            # statement logs would record it on every publish otherwise.
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(password)))
        conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(conn.info.dbname), ident))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), ident))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), ident))
        conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(
            sql.Identifier(SCHEMA), ident))
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(ident))
        try:  # nobody may create objects in public through PUBLIC either (needs the schema's owner)
            with conn.transaction():
                conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        except psycopg.errors.InsufficientPrivilege:
            pass


def _password_works(conn: psycopg.Connection, role: str, password: str) -> bool:
    """Whether ``role`` can already log in with ``password`` (then it need not be sent again)."""
    info = conn.info
    try:
        with psycopg.connect(host=info.host, port=info.port, dbname=info.dbname, user=role, password=password,
                             connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def reader_url(url: str, role: str = READER_ROLE, password: str | None = None) -> str:
    """The same database as ``url``, logged in as the reader role."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    auth = quote(role) + (":" + quote(password, safe="") if password else "")
    return urlunsplit((parts.scheme, f"{auth}@{host}", parts.path, parts.query, parts.fragment))


def drop_leftovers(conn: psycopg.Connection, spec: TableSpec) -> list[str]:
    """Drop build tables left by a publish that died before its swap."""
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
        (SCHEMA, f"{spec.name}\\_\\_new\\_%"),
    ).fetchall()
    with conn.transaction():
        for (name,) in rows:
            conn.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{name}")
    return [r[0] for r in rows]


def copy_arrow(conn: psycopg.Connection, qualified_table: str, data: pa.Table) -> None:
    """COPY every column of ``data`` into the table of the same column names, as CSV in batches."""
    cols = ", ".join(f'"{c}"' for c in data.column_names)
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    with conn.cursor() as cur:
        with cur.copy(f"COPY {qualified_table} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
            for start in range(0, data.num_rows, COPY_BATCH_ROWS):
                buf = io.BytesIO()
                pacsv.write_csv(data.slice(start, COPY_BATCH_ROWS), buf, options)
                copy.write(buf.getvalue())


def _copy_arrow(conn: psycopg.Connection, table_name: str, spec: TableSpec, data: pa.Table) -> None:
    copy_arrow(conn, f"{SCHEMA}.{table_name}", data.select([c.name for c in spec.columns]))


def _prepare(spec: TableSpec, data: pa.Table, publish_id: str) -> pa.Table:
    if "publish_id" in {c.name for c in spec.columns} and "publish_id" not in data.column_names:
        data = data.append_column("publish_id", pa.array([publish_id] * data.num_rows, pa.string()))
    missing = [c.name for c in spec.columns if c.name not in data.column_names]
    if missing:
        raise ValueError(f"cannot publish serving.{spec.name}: data lacks column(s) {', '.join(missing)}")
    return data


def _build(conn: psycopg.Connection, spec: TableSpec, data: pa.Table, publish_id: str,
           connect=None, workers: int = 2) -> tuple[str, float]:
    """COPY ``data`` into a new build table beside the live one, index and analyse it; returns (name, copy seconds).

    With ``connect`` (a factory of new autocommit connections) a large table is COPYed as ``workers``
    slices over that many connections at once: the server parses each COPY in its own process, so
    the load uses every core instead of one.
    """
    drop_leftovers(conn, spec)
    build = f"{spec.name}__new_{publish_id[:12]}"
    with conn.transaction():
        conn.execute(spec.ddl(build))
    t_copy = time.perf_counter()
    if connect is not None and workers > 1 and data.num_rows >= PARALLEL_COPY_MIN_ROWS:
        step = -(-data.num_rows // workers)

        def copy_slice(start: int) -> None:
            with connect() as worker, worker.transaction():
                _copy_arrow(worker, build, spec, data.slice(start, step))

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="copy") as pool:
            list(pool.map(copy_slice, range(0, data.num_rows, step)))
    else:
        with conn.transaction():
            _copy_arrow(conn, build, spec, data)
    copy_seconds = time.perf_counter() - t_copy
    with conn.transaction():
        if spec.primary_key:
            conn.execute(
                f"ALTER TABLE {SCHEMA}.{build} ADD CONSTRAINT {build}_pk PRIMARY KEY ({', '.join(spec.primary_key)})"
            )
        for i, cols in enumerate(spec.indexes):
            conn.execute(f"CREATE INDEX {build}_ix{i} ON {SCHEMA}.{build} ({', '.join(cols)})")
        conn.execute(f"ANALYZE {SCHEMA}.{build}")
    return build, copy_seconds


def _swap(conn: psycopg.Connection, spec: TableSpec, build: str, publish_id: str) -> None:
    """Inside the caller's transaction: put the build table in place of the live one."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.{spec.name}",)).fetchone()[0]
    old = f"{spec.name}__old_{publish_id[:12]}"
    if exists:
        conn.execute(f"LOCK TABLE {SCHEMA}.{spec.name} IN ACCESS EXCLUSIVE MODE")
        conn.execute(f"ALTER TABLE {SCHEMA}.{spec.name} RENAME TO {old}")
        _rename_constraints(conn, old, spec)
    conn.execute(f"ALTER TABLE {SCHEMA}.{build} RENAME TO {spec.name}")
    _rename_constraints(conn, spec.name, spec)
    if exists:
        conn.execute(f"DROP TABLE {SCHEMA}.{old}")
    if spec.description:
        conn.execute(f"COMMENT ON TABLE {SCHEMA}.{spec.name} IS {_quote(spec.description)}")


def _log(conn, publish_id: str, spec: TableSpec, rows: int, run_id: str | None, seconds: float) -> None:
    conn.execute(
        f"INSERT INTO {SCHEMA}.publish_log (publish_id, table_name, row_count, run_id, seconds) VALUES (%s, %s, %s, %s, %s)",
        (publish_id, spec.name, rows, run_id, seconds),
    )


@contextmanager
def publish_lock(conn: psycopg.Connection, names):
    """Session-level PostgreSQL advisory locks on the serving tables being published, taken in name order.

    Two runs publishing the same table (a sensor run and a CLI run) take turns: without it, one run's
    ``drop_leftovers`` could drop the other's half-built table, or the swaps could interleave. A second
    publisher waits for the first (a publish takes seconds) rather than failing.
    """
    keys = sorted(set(names))
    for name in keys:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"devmentor.publish.{name}",))
    try:
        yield
    finally:
        for name in reversed(keys):
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"devmentor.publish.{name}",))


def publish(
    conn: psycopg.Connection,
    spec: TableSpec,
    data: pa.Table,
    run_id: str | None = None,
    publish_id: str | None = None,
    before_swap=None,
    append_to: str | None = None,
    in_swap=None,
    connect=None,
) -> PublishResult:
    """Replace ``serving.<spec.name>`` with ``data`` atomically.

    ``append_to`` names an append-only history table (same columns) that receives the
    new rows in the same transaction as the swap; ``in_swap(conn, build_table)`` runs more
    statements in that transaction (outbox, delivery log, ...), so they commit with the swap
    or not at all. ``before_swap`` is a test hook called after the build and before the swap.
    ``connect`` lets the COPY run over several connections (see _build).
    """
    publish_id = publish_id or run_publish_id(run_id, [spec.name])
    with publish_lock(conn, [spec.name] + ([append_to] if append_to else [])):
        done = _already_published(conn, publish_id, [spec])
        if done is not None:
            return done[0]
        return _publish(conn, spec, data, run_id, publish_id, before_swap, append_to, in_swap, connect)


def run_publish_id(run_id: str | None, names) -> str:
    """A run's publish of these tables always has the same id, so a retry of a publish that had already
    committed (the step failed after the swap) is recognised and not applied twice; without a run, a new id."""
    if not run_id:
        return uuid.uuid4().hex
    return uuid.uuid5(uuid.NAMESPACE_URL, f"devmentor-publish:{run_id}:{','.join(sorted(names))}").hex


def _already_published(conn, publish_id: str, specs) -> list[PublishResult] | None:
    ensure_schema(conn)
    rows = dict(conn.execute(f"SELECT table_name, row_count FROM {SCHEMA}.publish_log WHERE publish_id = %s",
                             (publish_id,)).fetchall())
    if rows and all(spec.name in rows for spec in specs):
        return [PublishResult(spec.name, rows[spec.name], 0.0, 0.0, publish_id) for spec in specs]
    return None


def _publish(conn, spec, data, run_id, publish_id, before_swap, append_to, in_swap, connect) -> PublishResult:
    started = time.perf_counter()
    publish_id = publish_id or uuid.uuid4().hex
    data = _prepare(spec, data, publish_id)
    ensure_schema(conn)
    build, copy_seconds = _build(conn, spec, data, publish_id, connect=connect)
    if before_swap is not None:
        before_swap()
    with conn.transaction():
        if append_to:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{append_to} (LIKE {SCHEMA}.{build} INCLUDING DEFAULTS)")
            for c in spec.columns:  # a history table made by an older version gains the columns added since
                conn.execute(f"ALTER TABLE {SCHEMA}.{append_to} ADD COLUMN IF NOT EXISTS {c.name} {c.pg_type}")
            cols = ", ".join(c.name for c in spec.columns)
            conn.execute(f"INSERT INTO {SCHEMA}.{append_to} ({cols}) SELECT {cols} FROM {SCHEMA}.{build}")
        if in_swap is not None:
            in_swap(conn, f"{SCHEMA}.{build}")
        _swap(conn, spec, build, publish_id)
        _log(conn, publish_id, spec, data.num_rows, run_id, time.perf_counter() - started)
    return PublishResult(spec.name, data.num_rows, time.perf_counter() - started, copy_seconds, publish_id)


def publish_many(
    conn: psycopg.Connection,
    tables: list[tuple[TableSpec, pa.Table]],
    run_id: str | None = None,
    publish_id: str | None = None,
    before_swap=None,
    connect=None,
    workers: int = 2,
) -> list[PublishResult]:
    """Replace several serving tables together: all are built first, then swapped in ONE transaction.

    A reader sees every table's old version or every table's new version, never a mix. With ``connect``
    each large table is COPYed over ``workers`` connections at once (see _build).
    """
    publish_id = publish_id or run_publish_id(run_id, [spec.name for spec, _ in tables])
    with publish_lock(conn, [spec.name for spec, _ in tables]):
        done = _already_published(conn, publish_id, [spec for spec, _ in tables])
        if done is not None:
            return done
        return _publish_many(conn, tables, run_id, publish_id, before_swap, connect, workers)


def _publish_many(conn, tables, run_id, publish_id, before_swap, connect, workers) -> list[PublishResult]:
    started = time.perf_counter()
    publish_id = publish_id or uuid.uuid4().hex
    prepared = [(spec, _prepare(spec, data, publish_id)) for spec, data in tables]
    ensure_schema(conn)
    builds = [(spec, data, *_build(conn, spec, data, publish_id, connect=connect, workers=workers))
              for spec, data in prepared]
    if before_swap is not None:
        before_swap()
    with conn.transaction():
        for spec, data, build, _ in builds:
            _swap(conn, spec, build, publish_id)
            _log(conn, publish_id, spec, data.num_rows, run_id, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    return [PublishResult(spec.name, data.num_rows, seconds, copy_s, publish_id) for spec, data, _, copy_s in builds]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rename_constraints(conn, table: str, spec: TableSpec) -> None:
    """Give the primary key and indexes names derived from the table's current name."""
    rows = conn.execute(
        """
        SELECT c.relname FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = %s AND t.relname = %s
        """,
        (SCHEMA, table),
    ).fetchall()
    for (index_name,) in rows:
        for tail in ("_pk",) + tuple(f"_ix{i}" for i in range(len(spec.indexes))):
            if index_name.endswith(tail):
                target = f"{table}{tail}"
                if index_name != target:
                    conn.execute(f"ALTER INDEX {SCHEMA}.{index_name} RENAME TO {target}")
                break
