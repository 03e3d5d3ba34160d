"""Jobs and schedules."""

from __future__ import annotations

import dagster as dg

from assets.training import TRAINING_KEYS

pipeline_job = dg.define_asset_job(
    name="devmentor_pipeline",
    selection=dg.AssetSelection.all(),
    description="Everything: ingest → dbt features → train both trees → decide → publish.",
    tags={"pipeline": "devmentor"},
)

# Models refitted only by the retraining job; the daily job scores with the current ones.
MODEL_KEYS = [*TRAINING_KEYS, dg.AssetKey(["ml", "mastery_model"])]

daily_job = dg.define_asset_job(
    name="devmentor_daily",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*MODEL_KEYS),
    description="The day's data: ingest → dbt features (incremental) → decide with the current champions → publish.",
    tags={"pipeline": "devmentor"},
)

retrain_job = dg.define_asset_job(
    name="retrain_trees",
    selection=dg.AssetSelection.assets(*MODEL_KEYS)
    | dg.AssetSelection.assets(*MODEL_KEYS).downstream(include_self=False),
    description="Retrain both trees (champion gate) and the mastery model, then decide, run the learning engine and publish.",
    tags={"pipeline": "devmentor", "purpose": "retraining"},
)

daily_schedule = dg.ScheduleDefinition(
    name="devmentor_daily",
    job=daily_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Every day at 02:00 UTC: the day's data through features, decisions and publication.",
)

weekly_retrain_schedule = dg.ScheduleDefinition(
    name="weekly_retrain",
    job=retrain_job,
    cron_schedule="0 3 * * 0",
    execution_timezone="UTC",
    description="Every Sunday at 03:00 UTC: retrain both trees behind the champion gate.",
)


def definitions() -> dg.Definitions:
    return dg.Definitions(jobs=[pipeline_job, daily_job, retrain_job],
                          schedules=[daily_schedule, weekly_retrain_schedule])
