"""Jobs, schedules and the retraining sensor."""

from __future__ import annotations

import hashlib
import json

import dagster as dg
import duckdb

from assets.training.assets import TRAINING_KEYS, load_learner_features, reference_path
from models.decision_trees import TREE_SPECS
from models.drift import RetrainPolicy, retraining_reasons
from models.features import feature_matrix
from orchestration.resources import LakeResource, WarehouseResource
from orchestration.settings import load_settings

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


def retrain_policy() -> RetrainPolicy:
    settings = load_settings()
    return RetrainPolicy(max_psi=settings.drift_psi, new_data_share=settings.retrain_new_data_share)


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=3600,
    description="Starts retraining when a feature drifts (PSI over DEVMENTOR_DRIFT_PSI, default 0.2) against the "
    "champion's training data, or when new events since training reach DEVMENTOR_RETRAIN_NEW_DATA_SHARE (default 20%).",
)
def retrain_on_drift_or_new_data(context: dg.SensorEvaluationContext, lake: LakeResource, warehouse: WarehouseResource):
    references = {}
    for tree_id in TREE_SPECS:
        path = reference_path(lake, tree_id)
        if path.exists():
            references[tree_id] = json.loads(path.read_text())
    if not references:
        return dg.SkipReason("no champion has been trained yet; run the pipeline once")
    try:
        frame = load_learner_features(warehouse)
    except duckdb.Error as exc:  # e.g. dbt is writing the warehouse right now
        return dg.SkipReason(f"warehouse not readable now ({str(exc).splitlines()[0][:120]}); will look again")
    events_now = int(frame["event_count"].fillna(0).sum())
    policy = retrain_policy()
    reasons: dict[str, list[str]] = {}
    psi_report = {}
    for tree_id, reference in references.items():
        X = feature_matrix(frame, list(reference["features"]))
        why, scores = retraining_reasons(reference, X, events_now, policy)
        psi_report[tree_id] = max(scores.values()) if scores else 0.0
        if why:
            reasons[tree_id] = why
    if not reasons:
        return dg.SkipReason(f"no drift (max PSI {psi_report}) and not enough new data ({events_now:,} events)")
    versions = ":".join(f"{t}=v{r['version']}" for t, r in sorted(references.items()))
    key = hashlib.sha1(f"{versions}|{json.dumps(reasons, sort_keys=True)}".encode()).hexdigest()[:16]
    summary = "; ".join(f"{t}: {', '.join(w)}" for t, w in reasons.items())
    context.log.info(f"retraining requested: {summary}")
    return dg.RunRequest(run_key=f"retrain-{key}", tags={"retrain_reason": summary[:250]})


def _inbox_files(inbox) -> dict[str, str]:
    """Every input file in the inbox with a fingerprint (size and modification time)."""
    from assets.ingest.contract import ENTITIES
    from assets.ingest.validate import discover

    out = {}
    for entity in ENTITIES:
        for path in discover(inbox, entity):
            st = path.stat()
            out[str(path.relative_to(inbox))] = f"{st.st_size}:{st.st_mtime_ns}"
    return out


@dg.sensor(
    job=daily_job,
    minimum_interval_seconds=60,
    description="Starts the daily job when new or changed files land in the inbox (DEVMENTOR_INBOX): "
    "one run per batch of files, over the days of the event and chat files in it; the same file never starts two runs.",
)
def inbox_files(context: dg.SensorEvaluationContext, lake: LakeResource):
    from pathlib import Path

    from assets.ingest.partitions import EVENT_PARTITIONS, file_day, inbox_day_range

    seen = json.loads(context.cursor) if context.cursor else {}
    now = _inbox_files(lake.inbox_path)
    new = {name: fp for name, fp in now.items() if seen.get(name) != fp}
    if not new:
        return dg.SkipReason(f"no new files in {lake.inbox_path} ({len(now)} known)")
    days = sorted(d for name in new if (d := file_day(Path(name))))
    if days:
        first, last = days[0], days[-1]
    else:  # only catalog or profile files changed: rerun the latest day so every asset sees them
        span = inbox_day_range(lake.inbox_path)
        first = last = span[1] if span else None
    tags = {"launched_by": "inbox_files", "new_files": str(len(new))}
    if first is not None:
        keys = EVENT_PARTITIONS.get_partition_keys()
        first, last = max(first, keys[0]), min(last, keys[-1])
        tags.update({"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last})
    run_key = "inbox-" + hashlib.sha1(json.dumps(sorted(new.items())).encode()).hexdigest()[:16]
    context.update_cursor(json.dumps(now))
    context.log.info(f"{len(new)} new file(s) in the inbox, days {first}..{last}: starting {daily_job.name}")
    return dg.RunRequest(run_key=run_key, tags=tags)


def definitions() -> dg.Definitions:
    return dg.Definitions(
        jobs=[pipeline_job, daily_job, retrain_job],
        schedules=[daily_schedule, weekly_retrain_schedule],
        sensors=[retrain_on_drift_or_new_data, inbox_files],
    )
