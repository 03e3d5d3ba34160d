"""The contract's row rules as SQL: one vectorised DuckDB query marks every error of every row of a file
(type, required, allowed values, range, not in the future, conditional requirements, duplicate keys within
the file and against the lake, unknown referenced ids). Free text is masked before it lands anywhere."""

from __future__ import annotations

from pathlib import Path

from devmentor.ingest.contract import BY_NAME, Entity
from devmentor.ingest.lake_paths import lit, q, raw_dir

FUTURE_TOLERANCE = "INTERVAL 1 HOUR"


EMAIL_RE = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
PHONE_RE = r"\+?[0-9][0-9 ().-]{7,}[0-9]"


def masked(expr: str) -> str:
    """Direct identifiers inside free text (e-mail addresses, phone numbers) are masked before landing."""
    return (f"regexp_replace(regexp_replace({expr}, '{EMAIL_RE}', '[email]', 'g'), '{PHONE_RE}', '[phone]', 'g')")


def _checks(entity: Entity, present: set[str], check_lake_duplicates: bool, fk_sql: dict[str, str]) -> list[tuple[str, str, str]]:
    """(field, condition, reason expression) triples; a true condition means the row fails on that field."""
    checks: list[tuple[str, str, str]] = []
    if "_json_error" in present:
        checks.append(("(record)", "_json_error IS NOT NULL", "_json_error"))
    for f in entity.fields:
        col = q(f.name)
        typed = f"TRY_CAST({col} AS {f.type})"
        if f.required:
            checks.append((f.name, f"{col} IS NULL OR trim(CAST({col} AS VARCHAR)) = ''", lit("required field is missing")))
        checks.append(
            (
                f.name,
                f"{col} IS NOT NULL AND trim(CAST({col} AS VARCHAR)) <> '' AND {typed} IS NULL",
                f"'not a valid {f.type.lower()}: ' || left(CAST({col} AS VARCHAR), 80)",
            )
        )
        if f.enum:
            allowed = ", ".join(lit(v) for v in f.enum)
            checks.append(
                (
                    f.name,
                    f"{typed} IS NOT NULL AND CAST({typed} AS VARCHAR) NOT IN ({allowed})",
                    f"'unknown value ''' || left(CAST({col} AS VARCHAR), 80) || ''' (expected one of {', '.join(f.enum)})'",
                )
            )
        if f.min is not None or f.max is not None:
            cond = []
            if f.min is not None:
                cond.append(f"{typed} < {f.min}")
            if f.max is not None:
                cond.append(f"{typed} > {f.max}")
            checks.append(
                (
                    f.name,
                    f"{typed} IS NOT NULL AND ({' OR '.join(cond)})",
                    f"'out of range [{f.min:g}, {f.max:g}]: ' || CAST({typed} AS VARCHAR)",
                )
            )
    for name in entity.not_in_future:
        typed = f"TRY_CAST({q(name)} AS TIMESTAMPTZ)"
        checks.append((name, f"{typed} > now() + {FUTURE_TOLERANCE}", f"'timestamp in the future: ' || CAST({typed} AS VARCHAR)"))
    for disc, value, fields in entity.required_when:
        for name in fields:
            checks.append(
                (
                    name,
                    f"CAST({q(disc)} AS VARCHAR) = {lit(value)} AND ({q(name)} IS NULL OR trim(CAST({q(name)} AS VARCHAR)) = '')",
                    lit(f"required when {disc} = {value}"),
                )
            )
    key_label = "+".join(entity.key)
    checks.append(
        (
            key_label,
            "_dup_first IS NOT NULL AND _row > _dup_first",
            f"'duplicate {key_label} (first seen at row ' || CAST(_dup_first AS VARCHAR) || ')'",
        )
    )
    if check_lake_duplicates:
        checks.append((key_label, "_already IS NOT NULL", f"'duplicate {key_label}: already ingested from ' || _already"))
    for fk in entity.foreign_keys:
        if fk.field in fk_sql:
            col = q(fk.field)
            checks.append(
                (
                    fk.field,
                    f"{col} IS NOT NULL AND trim(CAST({col} AS VARCHAR)) <> '' AND _fk_{fk.field} IS NULL",
                    f"'unknown {fk.field} ''' || left(CAST({col} AS VARCHAR), 80) || ''' (not in {fk.entity})'",
                )
            )
    return checks


def lookups(entity: Entity, lake: Path, skey: str) -> tuple[str | None, dict[str, str]]:
    """SQL for the keys already in the lake from other sources (that also occur in this file), and for the
    values each foreign key may take; None / missing entries when there is nothing to look up."""
    raw_out = raw_dir(lake, entity)
    existing_keys_sql = None
    key_expr = " || '\x1f' || ".join(f"CAST({q(k)} AS VARCHAR)" for k in entity.key)
    if any(p for p in raw_out.rglob("*.parquet") if f"__{skey}__" not in p.name):
        # Only the lake keys that also occur in this file: a semi-join whose hash table holds the file's
        # keys, so memory and time do not grow with the lake (a GROUP BY over every key did).
        existing_keys_sql = (
            f"SELECT {key_expr} AS _k, any_value(_source_file) AS _src FROM read_parquet({lit(str(raw_out) + '/**/*.parquet')}, union_by_name=true) "
            f"WHERE _source_key <> {lit(skey)} AND {key_expr} IN (SELECT {key_expr} FROM src_full) GROUP BY 1"
        )
    fk_sql: dict[str, str] = {}
    for fk in entity.foreign_keys:
        target_dir = raw_dir(lake, BY_NAME[fk.entity])
        if target_dir.exists() and any(target_dir.rglob("*.parquet")):
            fk_sql[fk.field] = (
                f"SELECT DISTINCT CAST({q(fk.target_field)} AS VARCHAR) AS _v FROM read_parquet({lit(str(target_dir) + '/**/*.parquet')}, union_by_name=true)"
            )
    return existing_keys_sql, fk_sql


def check_rows(con, entity: Entity, present: set[str], existing_keys_sql: str | None, fk_sql: dict[str, str]) -> None:
    """TEMP TABLE checked: every row of src_full with its list of errors (``_errors``, empty when good)."""
    joins, join_cols = [], []
    if existing_keys_sql is not None:
        key_expr_s = " || '\x1f' || ".join(f"CAST(s.{q(k)} AS VARCHAR)" for k in entity.key)
        joins.append(f"LEFT JOIN ({existing_keys_sql}) ek ON ek._k = {key_expr_s}")
        join_cols.append("ek._src AS _already")
    for fld, sql in fk_sql.items():
        alias = f"fk_{fld}"
        joins.append(f"LEFT JOIN ({sql}) {alias} ON {alias}._v = CAST(s.{q(fld)} AS VARCHAR)")
        join_cols.append(f"{alias}._v AS _fk_{fld}")
    key_cols = ", ".join(f"CAST({q(k)} AS VARCHAR)" for k in entity.key)
    dup_match = " AND ".join(f"CAST(s.{q(k)} AS VARCHAR) = d._k{i}" for i, k in enumerate(entity.key))
    error_items = ", ".join(
        f"CASE WHEN {cond} THEN {{'field': {lit(fld)}, 'reason': {reason}}} END"
        for fld, cond, reason in _checks(entity, present, existing_keys_sql is not None, fk_sql)
    )
    # A duplicate is a later row with the key of an earlier one. Keys seen more than once are found by a GROUP BY
    # (a window partitioned by key sorted every row of the file, most of the check's time); a row whose key has a
    # null part matches no group, so rows with null keys are not duplicates of each other.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        WITH dup_keys AS (
            SELECT {", ".join(f"CAST({q(k)} AS VARCHAR) AS _k{i}" for i, k in enumerate(entity.key))}, min(_row) AS _first
            FROM src_full GROUP BY {key_cols} HAVING count(*) > 1
        ),
        base AS (
            SELECT s.*, d._first AS _dup_first
                   {(', ' + ', '.join(join_cols)) if join_cols else ''}
            FROM src_full s
            LEFT JOIN dup_keys d ON {dup_match}
            {' '.join(joins)}
        )
        SELECT *, list_filter([{error_items}], lambda x: x IS NOT NULL) AS _errors
        FROM base
        """
    )
