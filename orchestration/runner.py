"""Running the pipeline (or a selection of it) in this process on the project's Dagster instance."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

import dagster as dg

from assets.ingest import raw_key, undated_day_range
from devmentor.ingest.contract import ENTITIES
from devmentor.ingest.days import file_day, inbox_day_range
from devmentor.ingest.validate import discover
from devmentor.settings import Settings
from orchestration.instance import project_instance


class RunError(Exception):
    """A run cannot start as asked; the message says what to change."""


def _has_undated_files(settings: Settings) -> bool:
    """Event or chat files without a day in their name (an importer's whole-dataset files)."""
    return any(file_day(p) is None for e in ENTITIES if e.partition_by_date_of for p in discover(settings.inbox, e))


def _sources_without_files(settings: Settings, keys: set) -> set:
    """The day-partitioned raw assets among ``keys`` with no file at all in the inbox: a run over the inbox leaves
    them out, as there is nothing for them to land. Dagster records every partition of a run (planned, then
    materialized: about 25 ms each on its local storage), and an import brings years of days: OULAD has no chat,
    and its 882 empty chat days cost 22 s of a 100 s ingest. Days named explicitly (``days=(first, last)``)
    still run every selected asset."""
    return {raw_key(e.name) for e in ENTITIES
            if e.partition_by_date_of and not discover(settings.inbox, e)} & keys


def inbox_days(settings: Settings, keys: list[str]) -> tuple[str, str] | None:
    """The days a run over the inbox processes: those of its dated files, widened to the days of the events
    inside its undated files (an importer's); undated files whose timestamps cannot be read go to the
    latest partition; None when the inbox has no event or chat file."""
    spans = [s for s in (inbox_day_range(settings.inbox), undated_day_range(settings.inbox)) if s]
    if spans:
        return min(s[0] for s in spans), max(s[1] for s in spans)
    return (keys[-1], keys[-1]) if _has_undated_files(settings) else None


def clip_days(days: tuple[str, str], keys: list[str]) -> tuple[str, str]:
    first, last = days
    if last < keys[0] or first > keys[-1]:
        raise RunError(
            f"days {first}..{last} are outside the event partitions {keys[0]}..{keys[-1]}; "
            "set DEVMENTOR_PARTITIONS_START earlier (YYYY-MM-DD) or check the file dates.")
    return max(first, keys[0]), min(last, keys[-1])


def _selected_keys(graph, select: str | None) -> set:
    keys = set(graph.get_all_asset_keys())
    if select:
        try:
            keys = dg.AssetSelection.from_string(select).resolve(graph)
        except Exception as exc:  # bad selection syntax or unknown key
            raise RunError(f"--select {select!r} is not a valid asset selection: {exc}") from None
        if not keys:
            raise RunError(f"--select {select!r} matches no asset; try `group:ml` or `key:serving/*`.")
    return {k for k in keys if graph.get(k).is_materializable}


@contextmanager
def run_lock(settings: Settings):
    """One pipeline run at a time per data directory (an exclusive lock on ``<home>/run.lock``, released by
    the operating system when the process ends, so it can never go stale). A second run refuses at once."""
    import fcntl

    settings.home.mkdir(parents=True, exist_ok=True)
    path = settings.home / "run.lock"
    fh = open(path, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise RunError(f"another pipeline run is using {settings.home} ({holder}); wait for it to finish, "
                       "or stop it (the lock goes with its process), then run again") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
    fh.flush()
    try:
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def run_pipeline(settings: Settings, select: str | None = None, days: tuple[str, str] | None | str = "inbox",
                 full_refresh: bool = False, tags: dict[str, str] | None = None):
    with run_lock(settings):
        return _run_pipeline(settings, select, days, full_refresh, tags)


def _run_pipeline(settings: Settings, select: str | None, days, full_refresh: bool, tags: dict[str, str] | None):
    """Execute the pipeline job (or a selection of it) on the project's Dagster instance.

    ``days`` is the range of daily event partitions to process: ``"inbox"`` (default) takes the days of
    the dated files in the inbox and of the events inside its undated files (an importer's; see inbox_days),
    a (first, last) tuple names them, None runs no partitioned asset.
    """
    from orchestration.definitions import build_defs

    defs = build_defs(settings)
    graph = defs.resolve_asset_graph()
    keys = _selected_keys(graph, select)
    partitioned = {k for k in keys if graph.get(k).partitions_def is not None}
    run_tags = {"launched_by": "devmentor-cli", **(tags or {})}
    if partitioned:
        partition_keys = graph.get(next(iter(partitioned))).partitions_def.get_partition_keys()
        if days == "inbox":
            days = inbox_days(settings, partition_keys)
            keys -= _sources_without_files(settings, partitioned)
        if days is None:
            keys -= partitioned  # no event files: nothing for the event partitions to ingest
        else:
            first, last = clip_days(days, partition_keys)
            run_tags.update({"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last})
    run_config: dict = {"loggers": {"progress": {}}}
    if full_refresh:
        run_config["ops"] = {"dbt_feature_models": {"config": {"full_refresh": True}}}
    with project_instance(settings) as instance:
        return defs.resolve_job_def("devmentor_pipeline").execute_in_process(
            instance=instance, asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
            run_config=run_config, raise_on_error=False, tags=run_tags)
