"""Great Expectations checks on the landed raw events (what passed validation must hold the contract)."""

import dagster as dg
import duckdb

from assets.ingest.contract import EVENT_TYPES
from assets.quality import Expect, evidence_frame, record_check, validate_frame
from orchestration.resources import LakeResource

RAW_EVENT_EXPECTATIONS = [
    Expect("ExpectColumnValuesToNotBeNull", {"column": "event_id"}),
    Expect("ExpectColumnValuesToBeUnique", {"column": "event_id"}),
    Expect("ExpectColumnValuesToNotBeNull", {"column": "user_id"}),
    Expect("ExpectColumnValuesToBeInSet", {"column": "event_type", "value_set": list(EVENT_TYPES)}),
    Expect("ExpectColumnValuesToBeBetween", {"column": "score", "min_value": 0, "max_value": 1}),
    Expect("ExpectColumnValuesToBeBetween", {"column": "confidence", "min_value": 0, "max_value": 1}),
    Expect("ExpectColumnValuesToBeBetween", {"column": "duration_s", "min_value": 0, "max_value": 86400}),
]


@dg.asset_check(
    asset=dg.AssetKey(["raw", "events"]),
    blocking=True,
    description="Great Expectations on the events landed for this run's days: ids unique and present, known event types, scores/confidence in 0-1.",
)
def raw_events_expectations(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
    from assets.features.dbt import dbt_window_vars, run_day_range

    days = run_day_range(context.run.tags)
    where = ""
    if days:
        w = dbt_window_vars(*days)
        where = f"WHERE event_date >= DATE '{w['window_start']}' AND event_date < DATE '{w['window_end']}'"
    con = duckdb.connect()
    con.execute(
        f"CREATE TEMP VIEW landed AS SELECT event_id, user_id, event_type, score, confidence, duration_s "
        f"FROM read_parquet('{lake.lake_path}/raw/events/**/*.parquet', union_by_name=true) {where}")
    # GE validates every breaking row DuckDB finds plus a sample: the same verdicts as on all rows.
    frame, total = evidence_frame(con, "landed", ["event_id", "user_id", "event_type", "score", "confidence", "duration_s"],
                                  RAW_EVENT_EXPECTATIONS, key="event_id")
    con.close()
    report = validate_frame("raw_events", frame, RAW_EVENT_EXPECTATIONS, total_rows=total)
    record_check(lake.lake_path, "raw/events", "raw_events_expectations", report.success, report.metadata(), context.run.run_id)
    return dg.AssetCheckResult(passed=report.success, severity=dg.AssetCheckSeverity.ERROR, metadata=report.metadata())
