"""Jobs, schedules and the retraining sensor."""

from __future__ import annotations

import hashlib
import json

import dagster as dg
import duckdb

from assets.training.assets import TRAINING_KEYS, load_learner_features, reference_path
from models.decision_trees import TREE_SPECS
from models.drift import RetrainPolicy, retraining_reasons
from models.trees import feature_matrix
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


def definitions() -> dg.Definitions:
    return dg.Definitions(
        jobs=[pipeline_job, daily_job, retrain_job],
        schedules=[daily_schedule, weekly_retrain_schedule],
        sensors=[retrain_on_drift_or_new_data],
    )
