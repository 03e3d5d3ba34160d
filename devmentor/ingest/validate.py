"""Validate input files against the contract and land them in the Parquet lake.

For each source file:
- it is read as text-like columns (CSV, JSON Lines) or as typed columns (Parquet), with its
  1-based row number;
- every row is checked against the entity's contract (type, required, enum, range,
  not-in-future, conditional requirements, duplicate keys within the file and against the
  lake, unknown referenced ids) in one vectorised DuckDB query;
- good rows are written, typed, to ``lake/raw/<entity>/``; bad rows go to
  ``lake/quarantine/<entity>/`` with source file, row number, field, reason, every error and
  the raw record as JSON; a file that cannot be read at all is quarantined whole with the reason.

Re-ingesting a file replaces what that file produced before (outputs are keyed by the
source path), so reruns never double count.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from devmentor.ingest.contract import ENTITIES, Entity
from devmentor.ingest.lake_paths import lit, log_dir, q, quarantine_dir, raw_dir, source_key
from devmentor.ingest.rules import check_rows, lookups, masked
from devmentor.ingest.swap import apply_journal, recover_interrupted, remove_outputs, write_journal

READABLE_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
META_COLUMNS = (
    ("_source_file", "VARCHAR"),
    ("_source_key", "VARCHAR"),
    ("_source_row", "BIGINT"),
    ("_ingested_at", "TIMESTAMPTZ"),
)
QUARANTINE_COLUMNS = (
    ("entity", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("source_key", "VARCHAR"),
    ("row_number", "BIGINT"),
    ("field", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("errors", "VARCHAR"),
    ("record", "VARCHAR"),
    ("quarantined_at", "TIMESTAMPTZ"),
)


@dataclass
class FileResult:
    entity: str
    source_file: str
    rows_in: int = 0
    rows_good: int = 0
    rows_quarantined: int = 0
    rows_forgotten: int = 0
    file_error: str | None = None
    skipped: bool = False
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class EntityResult:
    entity: str
    files: list[FileResult] = field(default_factory=list)

    @property
    def rows_good(self) -> int:
        return sum(f.rows_good for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def files_ingested(self) -> int:
        return sum(1 for f in self.files if not f.skipped)

    @property
    def files_rejected(self) -> int:
        return sum(1 for f in self.files if f.file_error)

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for k, v in f.reasons.items():
                out[k] = out.get(k, 0) + v
        return out

    def metadata(self) -> dict:
        return {
            "files_seen": len(self.files),
            "files_ingested": self.files_ingested,
            "files_rejected": self.files_rejected,
            "rows_good": self.rows_good,
            "rows_quarantined": self.rows_quarantined,
            "rows_forgotten": sum(f.rows_forgotten for f in self.files),
            "quarantine_reasons": self.reasons(),
        }


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    return con


def typed_columns_sql(entity: Entity) -> str:
    return ", ".join(f"{q(f.name)} {f.type}" for f in entity.fields)


def ensure_schema_files(lake: Path) -> None:
    """Write a zero-row file per entity so downstream readers always find a typed schema.

    Each is written under a name of this process, then renamed into place: ingest steps that run at once (the
    multiprocess executor, on a fresh lake) each write them, and two COPYs to one file collide on its lock."""
    con = connect()
    for entity in ENTITIES:
        cols = [(f.name, f.type) for f in entity.fields] + list(META_COLUMNS)
        if entity.partition_by_date_of:
            cols.append(("event_date", "DATE"))
        for target, columns in ((raw_dir(lake, entity) / "_schema.parquet", cols),
                                (quarantine_dir(lake, entity) / "_schema.parquet", QUARANTINE_COLUMNS)):
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            select = ", ".join(f"CAST(NULL AS {t}) AS {q(n)}" for n, t in columns)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            con.execute(f"COPY (SELECT {select} LIMIT 0) TO {lit(str(tmp))} (FORMAT parquet)")
            os.replace(tmp, target)
    con.close()


def discover(inbox: Path, entity: Entity) -> list[Path]:
    folder = inbox / entity.folder
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in READABLE_SUFFIXES)


def _load_source(con: duckdb.DuckDBPyConnection, path: Path, entity: Entity) -> list[str]:
    """Register the file as view ``src`` with a ``_row`` column; return the column names found."""
    kind = READABLE_SUFFIXES[path.suffix.lower()]
    if kind == "parquet":
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW src AS SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _row "
            f"FROM read_parquet({lit(str(path))}, file_row_number=true)"
        )
    elif kind == "csv":
        with open(path, "rb") as f:
            if b"\x00" in f.readline():
                raise ValueError("the header line contains a NUL byte")
        try:
            frame = pl.read_csv(path, infer_schema=False, row_index_name="_row", row_index_offset=1)
            arrow = frame.to_arrow()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # polars raises Rust panics as BaseException subclasses
            raise ValueError(f"not readable as CSV: {_first_line(exc)}") from None
        con.register("src_frame", arrow)
        con.execute("CREATE OR REPLACE TEMP VIEW src AS SELECT * FROM src_frame")
    else:
        text = path.read_bytes().decode("utf-8", errors="strict")
        lines = text.splitlines()
        frame = pl.DataFrame({"_row": list(range(1, len(lines) + 1)), "_line": lines}, schema={"_row": pl.Int64, "_line": pl.String})
        frame = frame.filter(pl.col("_line").str.strip_chars() != "")
        con.register("src_lines", frame.to_arrow())
        # Every JSON function below only ever sees valid JSON: invalid lines become 'null' first.
        con.execute(
            "CREATE OR REPLACE TEMP VIEW src_docs AS SELECT _row, _line, "
            "CASE WHEN json_valid(_line) THEN _line ELSE 'null' END AS _doc, json_valid(_line) AS _valid FROM src_lines"
        )
        con.execute(
            "CREATE OR REPLACE TEMP VIEW src_objs AS SELECT *, json_type(_doc) AS _kind, "
            "CASE WHEN json_type(_doc) = 'OBJECT' THEN _doc ELSE '{}' END AS _obj FROM src_docs"
        )
        extracts = ", ".join(f"json_extract_string(_obj, {lit('$.' + f.name)}) AS {q(f.name)}" for f in entity.fields)
        con.execute(
            "CREATE OR REPLACE TEMP VIEW src AS SELECT _row, "
            "CASE WHEN NOT _valid THEN 'line is not valid JSON' "
            "WHEN _kind <> 'OBJECT' THEN 'line is not a JSON object' END AS _json_error, "
            f"_line AS _raw_line, {extracts} FROM src_objs"
        )
    return [r[0] for r in con.execute("DESCRIBE src").fetchall()]


def _reject_whole_file(con, entity: Entity, path: Path, skey: str, lake: Path, result: FileResult,
                       error: str, reason: str, rows: int, started: float, reason_count: int | None = None) -> FileResult:
    """A file that cannot be read, or lacks a required column, is quarantined whole with the reason."""
    result.file_error = error
    _write_file_rejection(con, entity, path, skey, quarantine_dir(lake, entity), error)
    remove_outputs(raw_dir(lake, entity), skey)
    result.rows_in = result.rows_quarantined = rows
    result.reasons = {reason: rows if reason_count is None else reason_count}
    result.seconds = time.perf_counter() - started
    _write_log(lake, entity, path, skey, result)
    return result


def _write_good(con, entity: Entity, path: Path, skey: str, lake: Path, tmp_tag: str, rows_good: int) -> None:
    """The good rows, typed (free text masked), into the lake: staged beside it, then moved in."""
    raw_out = raw_dir(lake, entity)
    typed = ", ".join(
        f"{masked(f'TRY_CAST({q(f.name)} AS {f.type})') if f.free_text else f'TRY_CAST({q(f.name)} AS {f.type})'} AS {q(f.name)}"
        for f in entity.fields)
    meta = f"{lit(str(path))} AS _source_file, {lit(skey)} AS _source_key, _row AS _source_row, now() AS _ingested_at"
    date_col = day = ""
    if entity.partition_by_date_of:
        day = f"CAST(timezone('UTC', TRY_CAST({q(entity.partition_by_date_of)} AS TIMESTAMPTZ)) AS DATE)"
        date_col = f", {day} AS event_date"
    good_sql = f"SELECT {typed}, {meta}{date_col} FROM checked WHERE len(_errors) = 0"
    stage = lake / "_staging" / f"{entity.name}-{skey}-{tmp_tag}"
    days = _few_days(con, day) if rows_good and entity.partition_by_date_of else None
    if days:
        # A daily file holds a day or two: a plain COPY per day writes the files the PARTITION_BY below writes
        # (same folders, names and rows; the rows in the file's order, which the partitioned writer does not
        # keep), in 0.6 s instead of 1.0 s per 700k events.
        for value in days:
            folder = stage / f"event_date={value.isoformat()}"
            folder.mkdir(parents=True)
            con.execute(f"COPY ({good_sql} AND {day} = DATE {lit(value.isoformat())}) "
                        f"TO {lit(str(folder / f'part__{skey}__{tmp_tag}_0.parquet'))} (FORMAT parquet)")
    elif rows_good and entity.partition_by_date_of:
        con.execute(
            f"COPY ({good_sql}) TO {lit(str(stage))} (FORMAT parquet, PARTITION_BY (event_date), "
            f"FILENAME_PATTERN {lit('part__' + skey + '__' + tmp_tag + '_{i}')}, WRITE_PARTITION_COLUMNS true)"
        )
    elif rows_good:
        stage.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({good_sql}) TO {lit(str(stage / f'part__{skey}__{tmp_tag}.parquet'))} (FORMAT parquet)")
    moves = [(str(f), str(raw_out / f.relative_to(stage))) for f in stage.rglob("*.parquet")] if rows_good else []
    # The swap is journalled first: a crash part-way (SIGKILL, power) is rolled forward by the next ingest
    # (recover_interrupted), so a source's rows are never left half old, half new.
    journal = write_journal(lake, {"raw_out": str(raw_out), "skey": skey, "tag": tmp_tag, "moves": moves,
                                   "stage": str(stage)})
    apply_journal(journal)


PER_DAY_COPIES = 4


def _few_days(con, day: str) -> list | None:
    """The good rows' days when there are at most PER_DAY_COPIES of them and none is missing, else None (an
    importer's whole-history file spans hundreds of days: one partitioned COPY then)."""
    found = [r[0] for r in con.execute(
        f"SELECT DISTINCT {day} FROM checked WHERE len(_errors) = 0 LIMIT {PER_DAY_COPIES + 1}").fetchall()]
    return sorted(found) if len(found) <= PER_DAY_COPIES and None not in found else None


def _write_quarantine(con, entity: Entity, path: Path, skey: str, lake: Path, columns: list[str],
                      present: set[str], result: FileResult) -> None:
    """One row per bad input row: first error in field/reason, all errors as JSON, and the record with its
    free text masked like a good row's (an e-mail in a rejected message is not kept either)."""
    q_out = quarantine_dir(lake, entity)
    free_text = {f.name for f in entity.fields if f.free_text}
    known = {f.name for f in entity.fields}
    record_cols = [c for c in columns if c not in ("_row", "_json_error", "_raw_line") and c in known]
    if "_raw_line" in present:
        record_expr = masked("_raw_line")
    else:
        record_expr = "to_json({" + ", ".join(
            f"{lit(c)}: {masked(f'CAST({q(c)} AS VARCHAR)') if c in free_text else f'CAST({q(c)} AS VARCHAR)'}"
            for c in record_cols) + "})"
    for old in q_out.glob(f"part__{skey}*.parquet"):
        old.unlink()
    if not result.rows_quarantined:
        return
    con.execute(
        f"""COPY (
            SELECT {lit(entity.name)} AS entity, {lit(str(path))} AS source_file, {lit(skey)} AS source_key,
                   _row AS row_number, _errors[1].field AS field, _errors[1].reason AS reason,
                   to_json(_errors) AS errors, {record_expr} AS record, now() AS quarantined_at
            FROM checked WHERE len(_errors) > 0 ORDER BY _row
        ) TO {lit(str(q_out / f"part__{skey}.parquet"))} (FORMAT parquet)"""
    )
    result.reasons = dict(
        con.execute(
            "SELECT _errors[1].field || ': ' || regexp_replace(_errors[1].reason, '[:(].*$', '') AS r, count(*) "
            "FROM checked WHERE len(_errors) > 0 GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    )


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    path: Path,
    inbox: Path,
    lake: Path,
) -> FileResult:
    """Validate one inbox file: good rows to the lake, bad rows to the quarantine with their reasons."""
    started = time.perf_counter()
    result = FileResult(entity=entity.name, source_file=str(path))
    skey = source_key(inbox, path)
    raw_dir(lake, entity).mkdir(parents=True, exist_ok=True)
    quarantine_dir(lake, entity).mkdir(parents=True, exist_ok=True)
    tmp_tag = uuid.uuid4().hex[:8]
    try:
        columns = _load_source(con, path, entity)
    except Exception as exc:  # unreadable/corrupt/truncated file: quarantine it whole
        error = f"file could not be read as {path.suffix.lstrip('.')}: {_first_line(exc)}"
        return _reject_whole_file(con, entity, path, skey, lake, result, error, "file could not be read", 0, started,
                                  reason_count=1)

    present = set(columns)
    missing_required = [f.name for f in entity.fields if f.required and f.name not in present]
    if missing_required:
        rows = con.execute("SELECT count(*) FROM src").fetchone()[0]
        return _reject_whole_file(con, entity, path, skey, lake, result,
                                  f"missing required column(s): {', '.join(missing_required)}",
                                  "missing required column", rows, started)

    # Columns the file does not have are NULL.
    select_cols = [q(f.name) if f.name in present else f"NULL AS {q(f.name)}" for f in entity.fields]
    extra = ["_json_error", "_raw_line"] if "_json_error" in present else []
    con.execute(f"CREATE OR REPLACE TEMP VIEW src_full AS SELECT _row, {', '.join(extra + select_cols)} FROM src")
    existing_keys_sql, fk_sql = lookups(entity, lake, skey)
    check_rows(con, entity, present, existing_keys_sql, fk_sql)
    result.rows_forgotten = _drop_forgotten(con, entity, lake)
    counts = con.execute("SELECT count(*), count(*) FILTER (WHERE len(_errors) = 0) FROM checked").fetchone()
    result.rows_in, result.rows_good = counts[0] + result.rows_forgotten, counts[1]
    result.rows_quarantined = counts[0] - counts[1]
    _write_good(con, entity, path, skey, lake, tmp_tag, result.rows_good)
    _write_quarantine(con, entity, path, skey, lake, columns, present, result)
    result.seconds = time.perf_counter() - started
    _write_log(lake, entity, path, skey, result)
    con.execute("DROP TABLE IF EXISTS checked")
    return result


def _drop_forgotten(con: duckdb.DuckDBPyConnection, entity: Entity, lake: Path) -> int:
    """Rows of learners who were forgotten (`devmentor forget`) never reach the lake, nor the quarantine."""
    from devmentor.privacy import privacy_key, tombstone_filter_sql, tombstone_path

    if "user_id" not in {f.name for f in entity.fields} or not tombstone_path(lake).exists():
        return 0
    condition = tombstone_filter_sql(lake, privacy_key(Path(lake).parent))
    return con.execute(f"DELETE FROM checked WHERE {condition}").fetchone()[0]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _write_file_rejection(con, entity: Entity, path: Path, skey: str, q_out: Path, reason: str) -> None:
    for old in q_out.glob(f"part__{skey}*.parquet"):
        old.unlink()
    con.execute(
        f"""COPY (SELECT {lit(entity.name)} AS entity, {lit(str(path))} AS source_file, {lit(skey)} AS source_key,
                   CAST(NULL AS BIGINT) AS row_number, '(file)' AS field, {lit(reason)} AS reason,
                   to_json([{{'field': '(file)', 'reason': {lit(reason)}}}]) AS errors,
                   CAST(NULL AS VARCHAR) AS record, now() AS quarantined_at)
           TO {lit(str(q_out / f'part__{skey}.parquet'))} (FORMAT parquet)"""
    )


def _fingerprint(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_log(lake: Path, entity: Entity, path: Path, skey: str, result: FileResult) -> None:
    d = log_dir(lake, entity)
    d.mkdir(parents=True, exist_ok=True)
    payload = {**asdict(result), "source_key": skey, "fingerprint": _fingerprint(path), "ingested_at": time.time()}
    tmp = d / f".{skey}.json.tmp"
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, d / f"{skey}.json")


def _already_ingested(lake: Path, entity: Entity, path: Path, skey: str) -> bool:
    log = log_dir(lake, entity) / f"{skey}.json"
    if not log.exists():
        return False
    try:
        return json.loads(log.read_text()).get("fingerprint") == _fingerprint(path)
    except (OSError, ValueError):
        return False


def ingest_entity(entity: Entity, inbox: Path, lake: Path, force: bool = False, files: list[Path] | None = None) -> EntityResult:
    """Ingest every new or changed file of ``entity`` found in ``inbox`` (or the given ``files``)."""
    ensure_schema_files(lake)
    recover_interrupted(lake)
    out = EntityResult(entity.name)
    con = connect()
    try:
        for path in files if files is not None else discover(inbox, entity):
            skey = source_key(inbox, path)
            if not force and _already_ingested(lake, entity, path, skey):
                out.files.append(FileResult(entity.name, str(path), skipped=True))
                continue
            out.files.append(ingest_file(con, entity, path, inbox, lake))
    finally:
        con.close()
    return out
