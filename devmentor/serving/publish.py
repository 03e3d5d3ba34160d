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

import numpy as np
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
    mode text,
    rows_written bigint,
    rows_deleted bigint,
    PRIMARY KEY (publish_id, table_name)
)
"""
# Columns added to the log since it was first created: an older database gains them on the next publish.
PUBLISH_LOG_ADDED = ("mode text", "rows_written bigint", "rows_deleted bigint")


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
    mode: str = "swap"  # "swap": the whole table rebuilt and swapped in; "delta": only changed rows written
    rows_written: int | None = None  # rows COPYed (every row for a swap, new or changed ones for a delta)
    rows_deleted: int = 0  # rows a delta deleted (changed or gone)

    def __post_init__(self):
        if self.rows_written is None:
            self.rows_written = self.rows

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.copy_seconds if self.copy_seconds > 0 else 0.0


READER_ROLE = "devmentor_reader"


def ensure_schema(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(PUBLISH_LOG_DDL)
        have = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                           "WHERE table_schema = %s AND table_name = 'publish_log'", (SCHEMA,))}
        for column in PUBLISH_LOG_ADDED:  # only when missing: ALTER TABLE locks out the log's readers (the API)
            if column.split()[0] not in have:
                conn.execute(f"ALTER TABLE {SCHEMA}.publish_log ADD COLUMN IF NOT EXISTS {column}")
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
        ids = pa.array([publish_id], pa.string()).take(np.zeros(data.num_rows, dtype=np.int32))
        data = data.append_column("publish_id", ids)
    missing = [c.name for c in spec.columns if c.name not in data.column_names]
    if missing:
        raise ValueError(f"cannot publish serving.{spec.name}: data lacks column(s) {', '.join(missing)}")
    return data


def _copy_rows(conn, table_name: str, spec: TableSpec, data: pa.Table, connect, workers: int) -> None:
    """COPY ``data`` into ``serving.<table_name>``: a large table as ``workers`` slices over that many new
    connections from ``connect`` at once (the server parses each COPY in its own process), else on ``conn``."""
    if connect is not None and workers > 1 and data.num_rows >= PARALLEL_COPY_MIN_ROWS:
        step = -(-data.num_rows // workers)

        def copy_slice(start: int) -> None:
            with connect() as worker, worker.transaction():
                _copy_arrow(worker, table_name, spec, data.slice(start, step))

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="copy") as pool:
            list(pool.map(copy_slice, range(0, data.num_rows, step)))
    else:
        with conn.transaction():
            _copy_arrow(conn, table_name, spec, data)


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
    _copy_rows(conn, build, spec, data, connect, workers)
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


def _log(conn, publish_id: str, spec: TableSpec, rows: int, run_id: str | None, seconds: float,
         mode: str = "swap", written: int | None = None, deleted: int = 0) -> None:
    conn.execute(
        f"INSERT INTO {SCHEMA}.publish_log (publish_id, table_name, row_count, run_id, seconds, mode, rows_written, "
        "rows_deleted) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (publish_id, spec.name, rows, run_id, seconds, mode, rows if written is None else written, deleted),
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
    rows = {r[0]: r[1:] for r in conn.execute(
        f"SELECT table_name, row_count, coalesce(mode, 'swap'), rows_written, coalesce(rows_deleted, 0) "
        f"FROM {SCHEMA}.publish_log WHERE publish_id = %s", (publish_id,)).fetchall()}
    if rows and all(spec.name in rows for spec in specs):
        return [PublishResult(spec.name, rows[spec.name][0], 0.0, 0.0, publish_id, *rows[spec.name][1:])
                for spec in specs]
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
    fingerprints=None,
    max_change_share: float = 0.5,
) -> list[PublishResult]:
    """Replace several serving tables together: all are built first, then swapped in ONE transaction.

    A reader sees every table's old version or every table's new version, never a mix. With ``connect``
    each large table is COPYed over ``workers`` connections at once (see _build).

    With ``fingerprints`` (a ``delta.Fingerprints``) a table whose last publish left a fingerprint that
    still describes it is not rebuilt: only its new and changed rows are COPYed, and in the same one
    transaction the changed and vanished rows are deleted and those rows inserted (``mode`` "delta" in
    the result and the log). Where more than ``max_change_share`` of the rows changed, a whole-table
    swap is cheaper and is done instead. Unchanged rows keep the ``publish_id`` of the publish that
    wrote them.
    """
    publish_id = publish_id or run_publish_id(run_id, [spec.name for spec, _ in tables])
    with publish_lock(conn, [spec.name for spec, _ in tables]):
        done = _already_published(conn, publish_id, [spec for spec, _ in tables])
        if done is not None:
            return done
        return _publish_many(conn, tables, run_id, publish_id, before_swap, connect, workers, fingerprints,
                             max_change_share)


@dataclass
class _Plan:
    spec: TableSpec
    data: pa.Table
    change: object | None  # a delta.Change when only the changed rows are written
    fingerprint: pa.Table | None
    build: str = ""
    copy_seconds: float = 0.0
    publishes: int = 0  # the table's rows in publish_log once this publish is logged


def _forget_count(conn) -> int:
    return conn.execute(f"SELECT count(*) FROM {SCHEMA}.publish_log WHERE table_name = 'forget'").fetchone()[0]


def _log_state(conn, name: str) -> tuple[str | None, int]:
    """The table's newest publish and how many publishes the log holds for it (append-only, so the count tells a
    later publish apart even if the server's clock stepped back)."""
    count = conn.execute(f"SELECT count(*) FROM {SCHEMA}.publish_log WHERE table_name = %s", (name,)).fetchone()[0]
    row = conn.execute(f"SELECT publish_id FROM {SCHEMA}.publish_log WHERE table_name = %s "
                       "ORDER BY published_at DESC LIMIT 1", (name,)).fetchone()
    return (row[0] if row else None), count


def _plan(conn, spec: TableSpec, data: pa.Table, fingerprints, forgets: int, max_change_share: float) -> _Plan:
    """Whether ``data`` can be published as the difference from the table's live version, and that difference."""
    from devmentor.serving import delta

    if fingerprints is None or not spec.primary_key:
        return _Plan(spec, data, None, None)
    loaded = fingerprints.load(spec)
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.{spec.name}",)).fetchone()[0]
    if (loaded is None or not exists or [loaded[0]["publish_id"], loaded[0].get("publishes")] != list(_log_state(conn, spec.name))
            or loaded[0]["forgets"] != forgets):
        return _Plan(spec, data, None, delta.fingerprint(spec, data))
    change = delta.difference(spec, loaded[1], data)
    if change.share(data.num_rows) > max_change_share:
        return _Plan(spec, data, None, change.fingerprint)
    return _Plan(spec, data, change, change.fingerprint)


def _build_delta(conn, plan: _Plan, publish_id: str, connect, workers: int) -> None:
    """COPY the changed rows and the keys to delete into two build tables beside the live one."""
    spec, change = plan.spec, plan.change
    drop_leftovers(conn, spec)
    plan.build = f"{spec.name}__new_{publish_id[:12]}"
    key_columns = tuple(c for c in spec.columns if c.name in spec.primary_key)
    with conn.transaction():
        conn.execute(spec.ddl(plan.build))
        conn.execute(TableSpec(spec.name, key_columns).ddl(f"{plan.build}_gone"))
    started = time.perf_counter()
    _copy_rows(conn, plan.build, spec, _prepare(spec, change.upserts, publish_id), connect, workers)
    with conn.transaction():
        copy_arrow(conn, f"{SCHEMA}.{plan.build}_gone", change.gone.select(list(spec.primary_key)))
        conn.execute(f"ANALYZE {SCHEMA}.{plan.build}_gone")
    plan.copy_seconds = time.perf_counter() - started


def _apply_delta(conn, plan: _Plan) -> None:
    """Inside the caller's transaction: delete the changed and vanished rows, insert the new and changed ones."""
    spec, live = plan.spec, f"{SCHEMA}.{plan.spec.name}"
    match = " AND ".join(f"t.{k} = g.{k}" for k in spec.primary_key)
    cols = ", ".join(c.name for c in spec.columns)
    conn.execute(f"DELETE FROM {live} t USING {SCHEMA}.{plan.build}_gone g WHERE {match}")
    conn.execute(f"INSERT INTO {live} ({cols}) SELECT {cols} FROM {SCHEMA}.{plan.build}")
    conn.execute(f"DROP TABLE {SCHEMA}.{plan.build}, {SCHEMA}.{plan.build}_gone")


def _publish_many(conn, tables, run_id, publish_id, before_swap, connect, workers, fingerprints=None,
                  max_change_share: float = 0.5) -> list[PublishResult]:
    started = time.perf_counter()
    publish_id = publish_id or uuid.uuid4().hex
    prepared = [(spec, _prepare(spec, data, publish_id)) for spec, data in tables]
    ensure_schema(conn)
    forgets = _forget_count(conn)
    plans = [_plan(conn, spec, data, fingerprints, forgets, max_change_share) for spec, data in prepared]
    for plan in plans:
        if plan.change is not None:
            _build_delta(conn, plan, publish_id, connect, workers)
        else:
            plan.build, plan.copy_seconds = _build(conn, plan.spec, plan.data, publish_id, connect=connect,
                                                   workers=workers)
    if before_swap is not None:
        before_swap()
    with conn.transaction():
        for plan in plans:
            if plan.change is not None:
                _apply_delta(conn, plan)
                _log(conn, publish_id, plan.spec, plan.data.num_rows, run_id, time.perf_counter() - started,
                     "delta", plan.change.upserts.num_rows, plan.change.gone.num_rows)
            else:
                _swap(conn, plan.spec, plan.build, publish_id)
                _log(conn, publish_id, plan.spec, plan.data.num_rows, run_id, time.perf_counter() - started)
            if fingerprints is not None and plan.fingerprint is not None:
                plan.publishes = _log_state(conn, plan.spec.name)[1]  # this publish's own row included
    if fingerprints is not None:  # only now that the publish committed
        for plan in plans:
            if plan.fingerprint is not None:
                fingerprints.save_or_drop(plan.spec, plan.fingerprint, publish_id, forgets, plan.publishes)
    seconds = time.perf_counter() - started
    return [PublishResult(p.spec.name, p.data.num_rows, seconds, p.copy_seconds, publish_id,
                          *(("delta", p.change.upserts.num_rows, p.change.gone.num_rows) if p.change is not None
                            else ("swap", p.data.num_rows, 0)))
            for p in plans]


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
