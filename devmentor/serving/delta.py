"""Publishing only the rows that changed: what the last publish put in each serving table, kept as a
fingerprint per row, and the difference a new version makes against it.

The fingerprint of a table (``<dir>/<table>.parquet``: the primary key and a 64-bit hash of every other
column but ``publish_id``, with ``<table>.json`` naming the publish it describes) is written after that
publish committed. A later publish trusts it only when it still describes the live table:

- the table's ``serving.publish_log`` rows are as many as when the fingerprint was saved, and the newest is its
  publish (nobody published the table since, from this machine or another; the count holds if the server's clock
  steps back);
- ``devmentor forget`` has not run since (the log counts its ``forget`` rows; forget also deletes the
  fingerprints on this machine);
- the table's columns, primary key and DuckDB version (which defines the hash) are the same.

Otherwise the publish is a whole-table swap, which writes a fresh fingerprint.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

HASH = "_row_hash"
ROW = "_row_number"


def _spec_signature(spec) -> str:
    return json.dumps({"columns": [[c.name, c.pg_type, c.nullable] for c in spec.columns],
                       "primary_key": list(spec.primary_key), "hash": f"duckdb-{duckdb.__version__}"})


def _content_columns(spec) -> list[str]:
    return [c.name for c in spec.columns if c.name != "publish_id"]


def _row_hash(spec) -> str:
    """The SQL of a row's fingerprint hash: every column of the spec but publish_id."""
    return f"hash({_quoted(_content_columns(spec))}) AS {HASH}"


def _quoted(names) -> str:
    return ", ".join(f'"{n}"' for n in names)


@dataclass(frozen=True)
class Change:
    """What a new version of a table changes against the published one."""

    upserts: pa.Table  # rows new or changed (every column of the spec but publish_id)
    gone: pa.Table  # primary keys to delete first: rows changed or no longer there
    fingerprint: pa.Table  # the new version's fingerprint, saved once it is published
    changed: int = 0  # keys in both (a changed row: deleted, then inserted)

    def share(self, rows: int) -> float:
        """The share of the table's keys this change touches (a changed row counted once)."""
        return (self.upserts.num_rows + self.gone.num_rows - self.changed) / max(rows, 1)


def fingerprint(spec, data: pa.Table) -> pa.Table:
    """The primary key and a hash of the content of every row of ``data``."""
    con = _connect()
    try:
        con.register("data", data)
        return con.sql(f"SELECT {_quoted(spec.primary_key)}, {_row_hash(spec)} "
                       "FROM data").to_arrow_table()
    finally:
        con.close()


def difference(spec, published: pa.Table, data: pa.Table) -> Change:
    """Rows of ``data`` whose key is new or whose content differs from the fingerprint ``published``, and the
    published keys to delete (changed or gone). Only keys and hashes are joined; the changed rows are then
    taken from ``data`` by position."""
    con = _connect()
    keys = _quoted(spec.primary_key)
    try:
        con.register("data", data.append_column(ROW, pa.array(np.arange(data.num_rows, dtype=np.int64))))
        con.register("published", published)
        con.execute(f"CREATE TEMP TABLE fresh AS SELECT {keys}, {_row_hash(spec)}, "
                    f"{ROW} FROM data")
        twice = con.execute(f"SELECT {keys} FROM fresh GROUP BY ALL HAVING count(*) > 1 LIMIT 1").fetchall()
        if twice:  # a whole swap fails on its primary key here; so must a delta
            raise ValueError(f"cannot publish serving.{spec.name}: primary key ({', '.join(spec.primary_key)}) "
                             f"= {twice[0]} occurs more than once in the new version")
        con.execute(f"CREATE TEMP TABLE upsert AS SELECT {keys}, {ROW} FROM fresh "
                    f"ANTI JOIN published USING ({keys}, {HASH})")
        con.execute(f"CREATE TEMP TABLE gone AS SELECT {keys} FROM published ANTI JOIN fresh USING ({keys}, {HASH})")
        rows = con.sql(f"SELECT {ROW} FROM upsert ORDER BY {ROW}").to_arrow_table().column(ROW)
        gone = con.sql("SELECT * FROM gone").to_arrow_table()
        changed = con.execute(f"SELECT count(*) FROM upsert JOIN gone USING ({keys})").fetchall()[0][0]
        new_fingerprint = con.sql(f"SELECT {keys}, {HASH} FROM fresh").to_arrow_table()
    finally:
        con.close()
    return Change(data.select(_content_columns(spec)).take(rows), gone, new_fingerprint, changed)


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


@dataclass(frozen=True)
class Fingerprints:
    """Where the fingerprints of the published tables live (one directory per lake)."""

    directory: Path

    def _paths(self, name: str) -> tuple[Path, Path]:
        return self.directory / f"{name}.parquet", self.directory / f"{name}.json"

    def load(self, spec) -> tuple[dict, pa.Table] | None:
        """(what the fingerprint says about itself, the fingerprint), or None when there is none usable."""
        data_path, meta_path = self._paths(spec.name)
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("signature") != _spec_signature(spec):
                return None
            table = pq.read_table(data_path)
        except (OSError, ValueError, pa.ArrowException):
            return None
        written_for = (table.schema.metadata or {}).get(b"devmentor_publish_id", b"").decode()
        if meta.get("rows") != table.num_rows or written_for != meta.get("publish_id"):
            return None  # the two files are not of one save (a crash, a power loss between them)
        return meta, table

    def save_or_drop(self, spec, table: pa.Table, publish_id: str, forgets: int, publishes: int) -> None:
        """save(); if that fails (a full disk), the fingerprint is dropped: the publish has committed, and the next
        one, finding none, swaps the table whole."""
        try:
            self.save(spec, table, publish_id, forgets, publishes)
        except OSError as exc:
            log.warning("could not save the fingerprint of serving.%s (%s); its next publish is a whole one",
                        spec.name, exc)
            try:
                self.drop(spec)
            except OSError:
                pass

    def save(self, spec, table: pa.Table, publish_id: str, forgets: int, publishes: int) -> None:
        """Record ``table`` as the fingerprint of publish ``publish_id`` (call after it committed). The JSON,
        which names the publish, is written last: a crash in between leaves it naming the older publish,
        which the log no longer shows as the newest, so the next publish swaps the whole table."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data_path, meta_path = self._paths(spec.name)
        meta_path.unlink(missing_ok=True)
        tmp = data_path.with_name(data_path.name + ".tmp")
        pq.write_table(table.replace_schema_metadata({"devmentor_publish_id": publish_id}), tmp)
        os.replace(tmp, data_path)
        meta = {"publish_id": publish_id, "publishes": publishes, "forgets": forgets, "rows": table.num_rows,
                "signature": _spec_signature(spec)}
        tmp = meta_path.with_name(meta_path.name + ".tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, meta_path)

    def drop(self, spec) -> None:
        for path in self._paths(spec.name):
            path.unlink(missing_ok=True)
