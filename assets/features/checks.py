"""Great Expectations checks on the feature marts; blocking, so a bad mart never reaches training or serving."""

import dagster as dg

from assets.quality import Expect, record_check, validate_frame
from orchestration.resources import LakeResource, WarehouseResource

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


@dg.asset_check(
    asset=dg.AssetKey(["marts", "fct_learner_behavior"]),
    blocking=True,
    description="Great Expectations on the behaviour mart: one row per learner, rates within 0-1, non-negative times, one row per dim_learner row.",
)
def behavior_mart_expectations(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, lake: LakeResource
) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        frame = con.execute(
            "SELECT user_id, avg_score, correct_rate, hint_rate, module_order_deviation_rate, exploratory_behavior_score, "
            "total_time_spent_min, days_since_last_activity, dominant_format FROM marts.fct_learner_behavior"
        ).df()
        learners = con.execute("SELECT count(*) FROM marts.dim_learner").fetchone()[0]
    expectations = BEHAVIOR_EXPECTATIONS + [Expect("ExpectTableRowCountToEqual", {"value": int(learners)})]
    report = validate_frame("fct_learner_behavior", frame, expectations)
    record_check(lake.lake_path, "marts/fct_learner_behavior", "behavior_mart_expectations", report.success,
                 report.metadata(), context.run.run_id)
    return dg.AssetCheckResult(passed=report.success, severity=dg.AssetCheckSeverity.ERROR, metadata=report.metadata())
