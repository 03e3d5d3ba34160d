"""Sensors: retrain on drift or new data; run the daily job when files land in the inbox."""


import hashlib
import json
from pathlib import Path

import dagster as dg
import duckdb

from assets.ingest import undated_day_range
from devmentor.ingest.contract import ENTITIES
from devmentor.ingest.days import file_day, inbox_day_range
from devmentor.ingest.validate import discover
from devmentor.settings import Settings
from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse
from devmentor.training.features import load_decision_frame
from devmentor.training.trees import read_references
from models.decision_trees import TREE_SPECS
from models.drift import RetrainPolicy, retraining_reasons
from models.features import feature_matrix
from orchestration.jobs import daily_job, retrain_job


def _drift_report(references: dict, frame, policy: RetrainPolicy) -> tuple[dict, dict]:
    events_now = int(frame["event_count"].fillna(0).sum())
    reasons: dict[str, list[str]] = {}
    psi_report = {}
    for tree_id, reference in references.items():
        why, scores = retraining_reasons(reference, feature_matrix(frame, list(reference["features"])), events_now, policy)
        psi_report[tree_id] = max(scores.values()) if scores else 0.0
        if why:
            reasons[tree_id] = why
    return reasons, psi_report


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=3600,
    description="Starts retraining when a feature drifts (PSI over DEVMENTOR_DRIFT_PSI, default 0.2) against the "
    "champion's training data, or when new events since training reach DEVMENTOR_RETRAIN_NEW_DATA_SHARE (default 20%).",
)
def retrain_on_drift_or_new_data(context: dg.SensorEvaluationContext, lake: dg.ResourceParam[Lake],
                                 warehouse: dg.ResourceParam[Warehouse], settings: dg.ResourceParam[Settings]):
    references = read_references(lake, TREE_SPECS)
    if not references:
        return dg.SkipReason("no champion has been trained yet; run the pipeline once")
    try:
        frame = load_decision_frame(warehouse, lake)
    except duckdb.Error as exc:  # e.g. dbt is writing the warehouse right now
        return dg.SkipReason(f"warehouse not readable now ({str(exc).splitlines()[0][:120]}); will look again")
    policy = RetrainPolicy(max_psi=settings.drift_psi, new_data_share=settings.retrain_new_data_share)
    reasons, psi_report = _drift_report(references, frame, policy)
    if not reasons:
        events_now = int(frame["event_count"].fillna(0).sum())
        return dg.SkipReason(f"no drift (max PSI {psi_report}) and not enough new data ({events_now:,} events)")
    versions = ":".join(f"{t}=v{r['version']}" for t, r in sorted(references.items()))
    key = hashlib.sha1(f"{versions}|{json.dumps(reasons, sort_keys=True)}".encode()).hexdigest()[:16]
    summary = "; ".join(f"{t}: {', '.join(w)}" for t, w in reasons.items())
    context.log.info(f"retraining requested: {summary}")
    return dg.RunRequest(run_key=f"retrain-{key}", tags={"retrain_reason": summary[:250]})


def _inbox_files(inbox: Path) -> dict[str, str]:
    """Every input file in the inbox with a fingerprint (size and modification time)."""
    out = {}
    for entity in ENTITIES:
        for path in discover(inbox, entity):
            st = path.stat()
            out[str(path.relative_to(inbox))] = f"{st.st_size}:{st.st_mtime_ns}"
    return out


def inbox_sensor(partitions: dg.PartitionsDefinition) -> dg.SensorDefinition:
    @dg.sensor(
        name="inbox_files",
        job=daily_job,
        minimum_interval_seconds=60,
        description="Starts the daily job when new or changed files land in the inbox (DEVMENTOR_INBOX): one run per "
        "batch of files, over the days of the event and chat files in it; the same file never starts two runs.",
    )
    def _inbox_files_sensor(context: dg.SensorEvaluationContext, lake: dg.ResourceParam[Lake]):
        return _inbox_tick(context, lake, partitions)

    return _inbox_files_sensor


def _inbox_tick(context: dg.SensorEvaluationContext, lake: Lake, partitions: dg.PartitionsDefinition):
    seen = json.loads(context.cursor) if context.cursor else {}
    now = _inbox_files(lake.inbox_path)
    new = {name: fp for name, fp in now.items() if seen.get(name) != fp}
    if not new:
        return dg.SkipReason(f"no new files in {lake.inbox_path} ({len(now)} known)")
    days = sorted(d for name in new if (d := file_day(Path(name))))
    # undated event or chat files (an importer's): the days of the events inside them
    undated = undated_day_range(lake.inbox_path, only={name for name in new if file_day(Path(name)) is None})
    days = sorted(days + list(undated or ()))
    if days:
        first, last = days[0], days[-1]
    else:  # only catalog or profile files changed: rerun the latest day so every asset sees them
        span = inbox_day_range(lake.inbox_path) or undated_day_range(lake.inbox_path)
        first = last = span[1] if span else None
    tags = {"launched_by": "inbox_files", "new_files": str(len(new))}
    if first is not None:
        keys = partitions.get_partition_keys()
        if last < keys[0] or first > keys[-1]:
            context.log.warning(f"files for days {first}..{last} lie outside the partitions {keys[0]}..{keys[-1]} these "
                                "definitions were loaded with: reload the code location so the partitions cover them")
        first, last = min(max(first, keys[0]), keys[-1]), max(min(last, keys[-1]), keys[0])
        tags.update({"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last})
    run_key = "inbox-" + hashlib.sha1(json.dumps(sorted(new.items())).encode()).hexdigest()[:16]
    context.update_cursor(json.dumps(now))
    context.log.info(f"{len(new)} new file(s) in the inbox, days {first}..{last}: starting {daily_job.name}")
    return dg.RunRequest(run_key=run_key, tags=tags)


def definitions(partitions: dg.PartitionsDefinition) -> dg.Definitions:
    return dg.Definitions(sensors=[retrain_on_drift_or_new_data, inbox_sensor(partitions)])
