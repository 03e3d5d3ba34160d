"""Great Expectations at the asset-check boundary: validate a DataFrame against a list of expectations."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class Expect:
    """One expectation: a GX expectation class name and its arguments."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class QualityReport:
    success: bool
    checked_rows: int
    failures: list[dict]

    def metadata(self) -> dict:
        return {
            "checked_rows": self.checked_rows,
            "failed_expectations": len(self.failures),
            "failures": self.failures,
        }


_CONTEXT = None


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx

        _CONTEXT = gx.get_context(mode="ephemeral")
    return _CONTEXT


def _violation_sql(e: Expect, relation: str) -> str:
    """SQL predicate true for exactly the rows that break the expectation (row-wise kinds, no ``mostly``)."""
    col = f'"{e.kwargs["column"]}"'
    if e.kind == "ExpectColumnValuesToNotBeNull":
        return f"{col} IS NULL"
    if e.kind == "ExpectColumnValuesToBeUnique":
        return f"{col} IN (SELECT {col} FROM {relation} WHERE {col} IS NOT NULL GROUP BY 1 HAVING count(*) > 1)"
    if e.kind == "ExpectColumnValuesToBeInSet":
        values = ", ".join("'" + str(v).replace("'", "''") + "'" for v in e.kwargs["value_set"])
        return f"{col} IS NOT NULL AND {col} NOT IN ({values})"
    if e.kind == "ExpectColumnValuesToBeBetween":
        parts = []
        if e.kwargs.get("min_value") is not None:
            parts.append(f"{col} < {e.kwargs['min_value']}")
        if e.kwargs.get("max_value") is not None:
            parts.append(f"{col} > {e.kwargs['max_value']}")
        return " OR ".join(parts) or "false"
    raise ValueError(f"no row-wise SQL for {e.kind}; validate the whole frame instead")


def evidence_frame(con, relation: str, columns: list[str], expectations: list[Expect], key: str,
                   sample_rows: int = 100_000) -> tuple[pd.DataFrame, int]:
    """The rows Great Expectations needs to reach the same verdicts as on the whole relation: every row
    that breaks an expectation (found by DuckDB in one scan) plus a deterministic sample of about
    ``sample_rows``. For row-wise expectations without ``mostly`` the outcome and the unexpected
    counts equal those on the whole relation, at a fraction of the time. Returns (frame, total rows).
    """
    if any(e.kwargs.get("mostly") is not None for e in expectations):
        raise ValueError("evidence_frame cannot preserve 'mostly' expectations; validate the whole frame")
    total = con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]
    every = max(1, total // sample_rows)
    broken = " OR ".join(f"({_violation_sql(e, relation)})" for e in expectations) or "false"
    cols = ", ".join(f'"{c}"' for c in columns)
    frame = con.execute(
        f"SELECT {cols} FROM {relation} WHERE ({broken}) OR hash(\"{key}\") % {every} = 0").df()
    return frame, total


def validate_frame(name: str, frame: pd.DataFrame, expectations: list[Expect], total_rows: int | None = None) -> QualityReport:
    """Run the expectations on ``frame`` with Great Expectations; failures name the expectation, column and examples."""
    import great_expectations as gx

    ctx = _context()
    source_name = f"devmentor_{name}"
    try:
        source = ctx.data_sources.get(source_name)
    except Exception:  # not registered yet in this process
        source = ctx.data_sources.add_pandas(source_name)
    try:
        asset = source.get_asset(name)
    except Exception:
        asset = source.add_dataframe_asset(name)
    try:
        definition = asset.get_batch_definition("whole")
    except Exception:
        definition = asset.add_batch_definition_whole_dataframe("whole")
    batch = definition.get_batch(batch_parameters={"dataframe": frame})
    suite = gx.ExpectationSuite(name=f"{name}_suite")
    for e in expectations:
        suite.add_expectation(getattr(gx.expectations, e.kind)(**e.kwargs))
    result = batch.validate(suite)
    failures = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        failures.append(
            {
                "expectation": cfg.type,
                "column": cfg.kwargs.get("column"),
                "unexpected_count": r.result.get("unexpected_count"),
                "examples": [str(v) for v in (r.result.get("partial_unexpected_list") or [])[:5]],
                "observed": str(r.result.get("observed_value")) if "observed_value" in r.result else None,
            }
        )
    return QualityReport(success=bool(result.success), checked_rows=total_rows if total_rows is not None else len(frame),
                         failures=failures)


def record_check(lake_path, asset: str, check: str, passed: bool, metadata: dict, run_id: str | None = None) -> None:
    """Append a check result to lake/_quality/checks.jsonl (the dashboard's data-quality page reads it)."""
    import json
    from datetime import datetime, timezone
    from pathlib import Path

    path = Path(lake_path) / "_quality" / "checks.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"at": datetime.now(timezone.utc).isoformat(), "asset": asset, "check": check, "passed": bool(passed),
             "run_id": run_id, "metadata": metadata}
    with path.open("a") as f:
        f.write(json.dumps(entry, default=str) + "\n")


# ------------------------------------------------------------------------------------ suites from the contract
def contract_expectations(entity) -> list[Expect]:
    """The expectation suite of a contract entity, derived from the contract (its one source of truth):
    required fields present, the key unique, enum fields within their values, numeric fields within range."""
    out = [Expect("ExpectColumnValuesToNotBeNull", {"column": f.name}) for f in entity.fields if f.required]
    if len(entity.key) == 1:
        out.append(Expect("ExpectColumnValuesToBeUnique", {"column": entity.key[0]}))
    for f in entity.fields:
        if f.enum:
            out.append(Expect("ExpectColumnValuesToBeInSet", {"column": f.name, "value_set": list(f.enum)}))
        if f.min is not None or f.max is not None:
            out.append(Expect("ExpectColumnValuesToBeBetween", {"column": f.name, "min_value": f.min, "max_value": f.max}))
    return out


def validate_landed(lake_path, entity, window: dict[str, str] | None = None) -> QualityReport:
    """Great Expectations on what landed in ``lake/raw/<entity>`` (within the date window, when given).

    GE validates every breaking row DuckDB finds plus a sample: the same verdicts and unexpected counts as
    on all rows (see evidence_frame), at a fraction of the time.
    """
    import duckdb

    expectations = contract_expectations(entity)
    columns = sorted({e.kwargs["column"] for e in expectations})
    from devmentor.sql import ident, literal

    where = ""
    if window and entity.partition_by_date_of:
        where = (f"WHERE event_date >= CAST({literal(window['window_start'])} AS DATE) "
                 f"AND event_date < CAST({literal(window['window_end'])} AS DATE)")
    pattern = Path(lake_path) / "raw" / entity.name / "**" / "*.parquet"
    con = duckdb.connect()
    try:
        select = ", ".join(ident(c) for c in columns)
        con.execute(f"CREATE TEMP TABLE landed AS SELECT {select} FROM read_parquet({literal(pattern)}, union_by_name=true) {where}")
        frame, total = evidence_frame(con, "landed", columns, expectations, key=entity.key[0])
    finally:
        con.close()
    return validate_frame(f"raw_{entity.name}", frame, expectations, total_rows=total)


BEHAVIOR_EXPECTATIONS = [
    Expect("ExpectColumnValuesToNotBeNull", {"column": "user_id"}),
    Expect("ExpectColumnValuesToBeUnique", {"column": "user_id"}),
    Expect("ExpectColumnValuesToBeBetween", {"column": "avg_score", "min_value": 0, "max_value": 1}),
    Expect("ExpectColumnValuesToBeBetween", {"column": "correct_rate", "min_value": 0, "max_value": 1}),
    Expect("ExpectColumnValuesToBeBetween", {"column": "hint_rate", "min_value": 0, "max_value": 1}),
    Expect("ExpectColumnValuesToBeBetween", {"column": "module_order_deviation_rate", "min_value": 0, "max_value": 1}),
    Expect("ExpectColumnValuesToBeBetween", {"column": "exploratory_behavior_score", "min_value": 0, "max_value": 1}),
    Expect("ExpectColumnValuesToBeBetween", {"column": "total_time_spent_min", "min_value": 0}),
    Expect("ExpectColumnValuesToBeBetween", {"column": "days_since_last_activity", "min_value": 0}),
    Expect("ExpectColumnValuesToBeInSet", {"column": "dominant_format", "value_set": ["text", "image", "video"]}),
]


def validate_behavior_mart(warehouse) -> QualityReport:
    """The behaviour mart: one row per learner (as many as dim_learner), rates within 0-1, non-negative times."""
    columns = sorted({e.kwargs["column"] for e in BEHAVIOR_EXPECTATIONS})
    with warehouse.connect() as con:
        frame = con.execute(f"SELECT {', '.join(columns)} FROM marts.fct_learner_behavior").df()
        learners = con.execute("SELECT count(*) FROM marts.dim_learner").fetchone()[0]
    expectations = BEHAVIOR_EXPECTATIONS + [Expect("ExpectTableRowCountToEqual", {"value": int(learners)})]
    return validate_frame("fct_learner_behavior", frame, expectations)
