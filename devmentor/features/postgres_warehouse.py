"""The scale-out warehouse: the same dbt project on PostgreSQL (dbt-postgres).

On DuckDB the dbt sources read the lake's Parquet directly. PostgreSQL cannot, so the validated lake
is loaded first into schema ``lake`` of the warehouse database (one table per source, COPY in bulk,
replaced atomically), and ``dbt build --target postgres`` then runs the unchanged project there.
See docs/operator.md ("Scaling out") for when to use it and how.

    devmentor warehouse load-postgres          # lake → PostgreSQL schema lake
    DEVMENTOR_DBT_TARGET=postgres dbt build    # from dbt_project/, with the DEVMENTOR_PG_* variables set
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import duckdb
import psycopg
import pyarrow as pa

from devmentor.ingest.contract import ENTITIES
from devmentor.serving.publish import copy_arrow

SCHEMA = "lake"
# dbt source name → lake folder glob (relative to the lake), as in models/staging/_sources.yml: one per
# contract entity, plus the quarantine.
SOURCES = {
    **{e.name: f"raw/{e.name}/**/*.parquet" for e in ENTITIES},
    "quarantine": "quarantine/*/*.parquet",
}
QUARANTINE_COLUMNS = pa.schema([
    ("entity", pa.string()), ("source_file", pa.string()), ("row_number", pa.int64()), ("field", pa.string()),
    ("reason", pa.string()), ("errors", pa.string()), ("record", pa.string()),
    ("quarantined_at", pa.timestamp("us", tz="UTC")),
])


def pg_type(t: pa.DataType) -> str:
    """The PostgreSQL column type for an Arrow type of the lake."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t) or pa.types.is_int16(t):
        return "smallint"
    if pa.types.is_int32(t):
        return "integer"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_floating(t):
        return "double precision"
    if pa.types.is_decimal(t):
        return f"numeric({t.precision}, {t.scale})"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"{pg_type(t.value_type)}[]"
    raise TypeError(f"no PostgreSQL type for Arrow type {t}")


def read_source(lake: Path, name: str) -> pa.Table | None:
    """A source's rows from the lake (None when it has no file yet)."""
    pattern = lake / SOURCES[name]
    if not any(lake.glob(SOURCES[name])):
        return None
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(f"SELECT * FROM read_parquet('{pattern}', union_by_name=true)").to_arrow_table()
    finally:
        con.close()


def load_lake(lake: Path, conn: psycopg.Connection, schema: str = SCHEMA, progress=print) -> dict[str, int]:
    """Replace ``<schema>.<source>`` with the lake's current rows for every dbt source; returns rows per table.

    Each table is built under a temporary name and swapped in with the others in one transaction, so a
    dbt run never sees a half-loaded lake.
    """
    rows: dict[str, int] = {}
    with conn.transaction():
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    built = []
    for name in SOURCES:
        t = time.perf_counter()
        data = read_source(lake, name)
        if data is None:
            if name != "quarantine":
                raise FileNotFoundError(
                    f"the lake at {lake} has no {SOURCES[name]}; run the ingest first (devmentor run --select group:ingest)")
            data = QUARANTINE_COLUMNS.empty_table()
        cols = ", ".join(f'"{f.name}" {pg_type(f.type)}' for f in data.schema)
        build = f'"{schema}"."{name}__load"'
        with conn.transaction():
            conn.execute(f"DROP TABLE IF EXISTS {build}")
            conn.execute(f"CREATE TABLE {build} ({cols})")
            copy_arrow(conn, build, data)
        built.append(name)
        rows[name] = data.num_rows
        progress(f"  lake.{name}: {data.num_rows:,} rows in {time.perf_counter() - t:.1f}s")
    with conn.transaction():
        for name in built:
            conn.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}" CASCADE')
            conn.execute(f'ALTER TABLE "{schema}"."{name}__load" RENAME TO "{name}"')
            conn.execute(f'ANALYZE "{schema}"."{name}"')
    return rows


def dbt_env(url: str) -> dict[str, str]:
    """The DEVMENTOR_PG_* variables the ``postgres`` target of profiles.yml reads, from a database URL."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    return {
        "DEVMENTOR_DBT_TARGET": "postgres",
        "DEVMENTOR_PG_HOST": host,
        "DEVMENTOR_PG_PORT": str(parts.port or 5432),
        "DEVMENTOR_PG_USER": unquote(parts.username or "postgres"),
        "DEVMENTOR_PG_PASSWORD": unquote(parts.password or ""),
        "DEVMENTOR_PG_DBNAME": parts.path.lstrip("/") or "postgres",
    }
