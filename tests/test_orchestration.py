"""Dagster wiring: the inbox sensor, the schedules' coverage, and a snapshot of asset keys and groups."""

from __future__ import annotations

import json
import os

import dagster as dg
import pytest

from tests.conftest import PROJECT_ROOT

SNAPSHOT = PROJECT_ROOT / "tests" / "snapshots" / "asset_graph.json"


def _defs(settings_factory):
    from orchestration.definitions import build_defs

    settings = settings_factory()
    return settings, build_defs(settings)


def test_inbox_sensor_starts_one_run_per_new_file_and_never_twice(settings_factory):
    from devmentor.generator import generate

    settings, defs = _defs(settings_factory)
    sensor = defs.resolve_sensor_def("inbox_files")
    lake = defs.resources["lake"]
    with dg.instance_for_test() as instance:
        def tick(cursor):
            ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"lake": lake})
            return sensor(ctx), ctx.cursor

        result, cursor = tick(None)
        assert isinstance(result, dg.SkipReason)  # empty inbox
        generate(settings.inbox, learners=20, days=3, seed=1)
        result, cursor = tick(cursor)
        assert isinstance(result, dg.RunRequest)
        days = sorted(p.stem for p in (settings.inbox / "events").glob("*.parquet"))
        assert result.tags["dagster/asset_partition_range_start"] == days[0]
        assert result.tags["dagster/asset_partition_range_end"] == days[-1]
        first_key = result.run_key
        # the same files again: nothing
        again, cursor = tick(cursor)
        assert isinstance(again, dg.SkipReason)
        # one new day's file: a run for that day only, under a new run key
        new_day = "2026-11-05"
        (settings.inbox / "events" / f"{new_day}.csv").write_text(
            "event_id,user_id,event_type,timestamp,session_id\nx1,u000001,session_start,2026-11-05T10:00:00Z,s1\n")
        result, cursor = tick(cursor)
        assert isinstance(result, dg.RunRequest) and result.run_key != first_key
        assert result.tags["dagster/asset_partition_range_start"] == new_day == result.tags["dagster/asset_partition_range_end"]
        assert isinstance(tick(cursor)[0], dg.SkipReason)
        # a replaced file (same name, new content) counts as new
        path = settings.inbox / "events" / f"{new_day}.csv"
        path.write_text(path.read_text() + "x2,u000001,session_end,2026-11-05T10:30:00Z,s1\n")
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        result, cursor = tick(cursor)
        assert isinstance(result, dg.RunRequest)


def test_schedules_together_cover_every_asset(settings_factory):
    _, defs = _defs(settings_factory)
    graph = defs.resolve_asset_graph()
    every = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    covered = set()
    for schedule in defs.schedules:
        job = defs.resolve_job_def(schedule.job_name)
        covered |= set(job.asset_layer.selected_asset_keys)
    assert covered == every
    daily = defs.resolve_schedule_def("devmentor_daily")
    assert daily.cron_schedule == "0 2 * * *"


def _graph_snapshot(defs) -> dict:
    graph = defs.resolve_asset_graph()
    out = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if node.is_materializable:
            out[key.to_user_string()] = {"group": node.group_name, "partitioned": node.partitions_def is not None}
    return out


def test_asset_keys_and_groups_match_the_snapshot(settings_factory):
    """Renaming, regrouping or dropping an asset is a visible change: update with DEVMENTOR_UPDATE_SNAPSHOTS=1."""
    _, defs = _defs(settings_factory)
    current = _graph_snapshot(defs)
    if os.environ.get("DEVMENTOR_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_asset_has_a_description_kinds_and_an_owner(settings_factory):
    _, defs = _defs(settings_factory)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_materializable:
            continue
        assert node.description, key
        assert node.kinds, key
        assert node.owners, key


def test_a_second_run_on_the_same_data_directory_refuses_with_a_clear_message(settings_factory):
    """Issue 19 #10: two pipelines started together on one data directory: the second refuses at once."""
    import subprocess
    import sys

    from orchestration.runner import RunError, run_lock, run_pipeline

    settings = settings_factory()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from devmentor.settings import load_settings; from orchestration.runner import run_lock\n"
        f"s = load_settings({{'DEVMENTOR_HOME': {str(settings.home)!r}}})\n"
        "with run_lock(s):\n    print('locked', flush=True); time.sleep(30)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunError, match="another pipeline run is using .*pid"):
            run_pipeline(settings, "group:ingest")
    finally:
        holder.kill()
        holder.wait()
    with run_lock(settings):  # the lock went with its process: nothing stale is left behind
        pass
