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


# ----------------------------------------------------------------------------------------- issue 21 #5


def test_event_partitions_start_at_the_first_day_of_data(settings_factory):
    """Not a fixed 2025-01-01: the first day in the inbox (dated files by name, an importer's undated files by
    their timestamps) or the lake; DEVMENTOR_PARTITIONS_START still overrides. The sensor and the CLI runner
    pick the days of an undated file from its events."""
    import dataclasses

    from assets.ingest import FALLBACK_PARTITIONS_START, event_partitions
    from devmentor.generator import generate
    from orchestration.runner import inbox_days

    settings = settings_factory()
    assert event_partitions(settings).get_first_partition_key() == FALLBACK_PARTITIONS_START  # no data at all
    generate(settings.inbox, learners=20, days=3, seed=1)
    days = sorted(p.stem for p in (settings.inbox / "events").glob("*.parquet"))
    assert event_partitions(settings).get_first_partition_key() == days[0]
    # an importer's whole-history file (OULAD: one per presentation, no day in its name)
    (settings.inbox / "events" / "oulad-AAA_2013J.csv").write_text(
        "event_id,user_id,event_type,timestamp,session_id\n"
        "o1,u000001,content_view,2013-10-05T12:00:00Z,s1\no2,u000001,content_view,2014-05-20T12:00:00Z,s1\n")
    partitions = event_partitions(settings)
    keys = partitions.get_partition_keys()
    assert keys[0] == "2013-10-05" and keys[-1] >= days[-1]
    assert inbox_days(settings, keys) == ("2013-10-05", days[-1])
    # what the lake already holds counts too
    (settings.lake / "raw" / "events" / "event_date=2012-03-01").mkdir(parents=True)
    assert event_partitions(settings).get_first_partition_key() == "2012-03-01"
    assert event_partitions(dataclasses.replace(settings, partitions_start="2026-10-30")).get_first_partition_key() == "2026-10-30"

    from orchestration.definitions import build_defs

    defs = build_defs(settings)
    assert defs.resolve_assets_def(dg.AssetKey(["raw", "events"])).partitions_def.get_first_partition_key() == "2012-03-01"
    sensor = defs.resolve_sensor_def("inbox_files")
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"lake": defs.resources["lake"]})
        request = sensor(ctx)
    assert request.tags["dagster/asset_partition_range_start"] == "2013-10-05"
    assert request.tags["dagster/asset_partition_range_end"] == days[-1]


def test_asset_descriptions_are_human_and_every_node_has_one(settings_factory):
    _, defs = _defs(settings_factory)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        text = graph.get(key).description or ""
        assert len(text) >= 20, key
        assert "#### Raw SQL" not in text and "```" not in text and not text.startswith("dbt model"), (key, text[:80])


def test_ml_asset_checks_report_balance_sanity_and_circular_labels(pipeline_run):
    """On the generated run: the intervention tree learns our policy rules (circular: a warning), the segment tree
    the instructors' annotations; the early-warning model is not trained (no course calendar) and says so."""
    import mlflow

    settings, _, result, _ = pipeline_run
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    for tree in ("primary_classification", "intervention_strategy"):
        run_id = result.asset_materializations_for_node(f"ml__{tree}")[0].metadata["mlflow_run_id"].value
        source = mlflow.get_run(run_id).data.tags["label_source"]
        circular = evaluations[(f"ml/{tree}", "labels_not_from_our_rules")]
        assert circular.passed == (source not in ("rule_based", "policy_rules")), (tree, source)
        assert circular.severity == dg.AssetCheckSeverity.WARN
        if not circular.passed:
            assert "agreement with the rules" in circular.description
        balance = evaluations[(f"ml/{tree}", "label_balance")]
        counts = mlflow.artifacts.load_dict(f"runs:/{run_id}/label_counts.json")
        share = max(counts.values()) / sum(counts.values())
        assert balance.metadata["largest_share"].value == pytest.approx(share, abs=1e-4)
        assert balance.passed == (len(counts) >= 2 and share <= 0.9)
        sanity = evaluations[(f"ml/{tree}", "holdout_metric_sanity")]
        assert sanity.passed and sanity.metadata["holdout_macro_f1"].value > sanity.metadata["chance_macro_f1"].value
    assert evaluations[("ml/intervention_strategy", "labels_not_from_our_rules")].passed is False  # policy rules
    ew = evaluations[("ml/early_warning", "holdout_metric_sanity")]
    assert ew.passed and ew.metadata["trained"].value is False and "not evaluated" in ew.description
    bkt = evaluations[("ml/mastery_model", "holdout_metric_sanity")]
    auc = result.asset_materializations_for_node("ml__mastery_model")[0].metadata["holdout_auc"].value
    assert bkt.passed == (0.5 < auc < 0.99) and bkt.metadata["holdout_auc"].value == auc


def test_commands_print_no_runtime_dir_or_dg_dev_notice_but_real_warnings_stay(tmp_path):
    """The CLI names the notices it filters; a misconfigured XDG_RUNTIME_DIR still warns."""
    import subprocess
    import sys

    from orchestration.instance import dagster_dev_env

    code = "from orchestration.instance import quiet_known_notices; quiet_known_notices(); import pgserver"
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "PYTHONWARNINGS")}
    quiet = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert quiet.returncode == 0 and "RuntimeDirWarning" not in quiet.stderr, quiet.stderr
    bad = tmp_path / "run"
    bad.mkdir(mode=0o755)
    bad.chmod(0o755)
    loud = subprocess.run([sys.executable, "-c", code], env={**env, "XDG_RUNTIME_DIR": str(bad)}, capture_output=True,
                          text=True, cwd=PROJECT_ROOT)
    assert "RuntimeDirWarning" in loud.stderr and "mode" in loud.stderr
    child = dagster_dev_env({"PYTHONWARNINGS": "error::ResourceWarning"})
    assert child["PYTHONWARNINGS"] == "error::ResourceWarning,ignore:Function `dev_command` is superseded"
