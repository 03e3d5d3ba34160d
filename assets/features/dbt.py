"""dbt feature tables (staging → intermediate → marts) as Dagster assets."""


import os
from datetime import date, timedelta
import shutil
import subprocess
from pathlib import Path
from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.resources import LakeResource, WarehouseResource
from orchestration.settings import DBT_PROJECT_DIR, TELEMETRY_ENV

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than a model file."""
    manifest = Path(DBT_PROJECT.manifest_path)
    sources = [p for p in DBT_PROJECT_DIR.rglob("*") if p.suffix in {".sql", ".yml", ".yaml"} and "target" not in p.parts]
    newest = max((p.stat().st_mtime for p in sources), default=0)
    if manifest.exists() and manifest.stat().st_mtime >= newest:
        return manifest
    env = {**os.environ, **TELEMETRY_ENV}
    from orchestration.resources import dbt_executable

    proc = subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not manifest.exists():
        raise RuntimeError(f"dbt parse failed; fix the dbt project and retry:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return manifest


def dbt_window_vars(first_day: str, last_day: str) -> dict[str, str]:
    """dbt vars for the daily partitions first_day..last_day (inclusive).

    A day's file can hold events whose UTC date is the day before or after (learners in other time
    zones), so the window reaches one day further on each side; replacing a window is exact and
    idempotent, so the extra days are recomputed to the same values.
    """
    start = date.fromisoformat(first_day) - timedelta(days=1)
    end = date.fromisoformat(last_day) + timedelta(days=2)
    return {"window_start": start.isoformat(), "window_end": end.isoformat()}


class LayeredTranslator(DagsterDbtTranslator):
    """Asset keys name the layer: sources are raw/<table>, models are <schema>/<model>."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or "marts"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return ["team:analytics-engineering"]

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        schema = dbt_resource_props.get("config", {}).get("schema")
        return "analytics" if schema == "analytics" else "features"


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False


PARTITION_RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def run_day_range(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """The days of event partitions this run processes, from its tags (None for an unpartitioned run)."""
    if tags.get(PARTITION_RANGE_TAGS[0]) and tags.get(PARTITION_RANGE_TAGS[1]):
        return tags[PARTITION_RANGE_TAGS[0]], tags[PARTITION_RANGE_TAGS[1]]
    if tags.get("dagster/partition"):
        return tags["dagster/partition"], tags["dagster/partition"]
    return None


@dbt_assets(
    manifest=ensure_manifest(),
    project=DBT_PROJECT,
    dagster_dbt_translator=LayeredTranslator(),
)
def dbt_feature_models(
    context: dg.AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: DbtCliResource,
    lake: LakeResource,
    warehouse: WarehouseResource,
):
    """dbt build of the feature tables on DuckDB (models and their data tests).

    In a run of daily event partitions the incremental models rebuild exactly those days (with a day of
    slack each side); otherwise they pick up what is new since their last build.
    """
    # profiles.yml and the sources read these; they come from this run's resources, not from whatever
    # the process happened to inherit.
    os.environ["DEVMENTOR_LAKE"] = lake.lake
    os.environ["DEVMENTOR_WAREHOUSE"] = warehouse.path
    os.environ.update(TELEMETRY_ENV)
    args = ["build"]
    days = run_day_range(context.run.tags)
    # The window goes through the environment, not --vars: changed vars force dbt to re-parse the whole
    # project (4-5 s a run), environment variables read in macros do not.
    window = dbt_window_vars(*days) if days and not config.full_refresh else {"window_start": "", "window_end": ""}
    os.environ["DEVMENTOR_DBT_WINDOW_START"] = window["window_start"]
    os.environ["DEVMENTOR_DBT_WINDOW_END"] = window["window_end"]
    if config.full_refresh:
        args.append("--full-refresh")
    elif days:
        context.log.info(f"incremental window for days {days[0]}..{days[1]}: {window}")
    invocation = dbt.cli(args, context=context)
    yield from invocation.stream()
    keep_partial_parse(Path(invocation.target_path))


def keep_partial_parse(run_target: Path) -> None:
    """Carry this run's parse cache over to the next run (dagster-dbt gives each run its own target
    directory and seeds it from the project's): without it every run re-parses the whole project."""
    fresh = run_target / "partial_parse.msgpack"
    if fresh.exists():
        project = Path(DBT_PROJECT.project_dir) / "target"
        project.mkdir(exist_ok=True)
        tmp = project / f"partial_parse.msgpack.{os.getpid()}"
        shutil.copyfile(fresh, tmp)
        os.replace(tmp, project / "partial_parse.msgpack")
