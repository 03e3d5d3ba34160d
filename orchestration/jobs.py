"""Jobs and schedules."""

from __future__ import annotations

import dagster as dg

pipeline_job = dg.define_asset_job(
    name="devmentor_pipeline",
    selection=dg.AssetSelection.all(),
    description="The whole pipeline: ingest → dbt features → train → score → publish.",
    tags={"pipeline": "devmentor"},
)

daily_schedule = dg.ScheduleDefinition(
    name="devmentor_daily",
    job=pipeline_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Runs the whole pipeline every day at 02:00 UTC.",
)

def definitions() -> dg.Definitions:
    return dg.Definitions(jobs=[pipeline_job], schedules=[daily_schedule])
