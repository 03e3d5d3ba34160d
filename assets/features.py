"""Features stage: the dbt project (staging → intermediate → marts, analytics) as Dagster assets, and the one
way the project runs dbt (dagster-dbt's DbtCliResource), for the assets, the PostgreSQL scale-out build and tests."""


import fcntl
import os
import shutil
import sys
from functools import cached_property
from itertools import dropwhile
from pathlib import Path
from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from devmentor.ingest.days import run_day_range, window_for_days
from devmentor.quality import record_check, validate_behavior_mart
from devmentor.settings import DBT_PROJECT_DIR, Settings, scoped_environ
from devmentor.storage.lake import Lake
from devmentor.storage.warehouse import Warehouse

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """dbt from this interpreter's environment, so an un-activated virtualenv works."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


class ProjectDbtCli(DbtCliResource):
    """dagster-dbt's DbtCliResource without two costs this project never uses, measured at 9 s a dbt command:

    - it ran ``dbt --version`` (a second dbt start, and a request to PyPI for the latest release: 4.8 s, and a
      wait on a machine without internet) only to tell dbt Core from the Fusion engine; the dbt here is the
      dbt-core installed beside dagster-dbt (``dbt_executable``), whose version is known without a process;
    - it opened a dbt adapter in-process (4.4 s) that only ``fetch_row_counts``/``fetch_column_metadata`` use,
      which no asset here calls.
    Both override private methods of dagster-dbt (pinned in constraints.txt); tests/test_features.py fails if an
    upgrade brings either cost back."""

    @cached_property
    def _cli_version(self):
        from dagster_dbt.compat import DBT_PYTHON_VERSION

        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource(target: str | None = None) -> DbtCliResource:
    return ProjectDbtCli(project_dir=DBT_PROJECT, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable(),
                         target=target)


def prepare_manifest() -> Path:
    """``dbt parse`` (through DbtCliResource) when the manifest is missing or older than a model file.

    Held under an exclusive lock on ``target/.parse.lock``: processes that load the definitions at once (pytest
    workers, the multiprocess executor's step processes, a webserver and a daemon starting together) would
    otherwise parse concurrently and interleave their writes of one manifest.json."""
    manifest = Path(DBT_PROJECT.manifest_path)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.parent / ".parse.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if _manifest_is_current(manifest):
            return manifest
        invocation = dbt_resource().cli(["parse", "--quiet"], target_path=Path(DBT_PROJECT.target_path),
                                        raise_on_error=False)
        if not invocation.wait().is_successful() or not manifest.exists():
            raise RuntimeError(f"dbt parse failed; fix the dbt project and retry: {invocation.get_error()}")
    return manifest


def _manifest_is_current(manifest: Path) -> bool:
    if not manifest.exists():
        return False
    return manifest.stat().st_mtime >= _newest_source_mtime(DBT_PROJECT_DIR)


def _newest_source_mtime(root: Path) -> float:
    """The newest mtime of the project's .sql/.yml files and folders (moving or deleting a model changes its
    folder's mtime, not a file's). dbt's own output folders are not walked at all: target/ gains a folder per
    invocation, and walking it made every process that loads the definitions slower with each run (36,713
    paths, 1.9 s per step process after one test session)."""
    newest = 0.0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in {"target", "logs", "dbt_packages"}]
        if folder != str(root):  # the root's own mtime moves when dbt creates target/ or logs/
            newest = max(newest, os.stat(folder).st_mtime)
        for name in files:
            if name.endswith((".sql", ".yml", ".yaml")):
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime)
    return newest


def run_dbt(args: list[str], env: Mapping[str, str], target_path: Path, target: str | None = None):
    """A dbt command outside an asset run (the PostgreSQL scale-out build, tests); returns the finished invocation."""
    with scoped_environ(env):
        invocation = dbt_resource(target).cli(args, target_path=target_path, raise_on_error=False)
    return invocation.wait()


def build_summary(invocation) -> dict[str, int]:
    """Counts by status (pass, warn, error, skip, success, ...) of a finished dbt command's models and tests."""
    counts: dict[str, int] = {}
    for result in invocation.get_artifact("run_results.json")["results"]:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return counts


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

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        """The model's YAML description, else the opening comment of its SQL, never dagster-dbt's default
        (a "#### Raw SQL" dump); the SQL itself stays one click away in the asset's code metadata."""
        return dbt_description(dbt_resource_props)


def dbt_description(props: Mapping[str, Any]) -> str:
    text = (props.get("description") or "").strip()
    if text:
        return text
    comment = []
    lines = [line.strip() for line in (props.get("raw_code") or props.get("raw_sql") or "").splitlines()]
    for line in dropwhile(lambda line: not line, lines):  # the comment block the SQL opens with
        if not line.startswith("--"):
            break
        text = line.lstrip("-").strip()
        if text and not text.startswith("depends_on:"):
            comment.append(text)
    if comment:
        return " ".join(comment)
    if props.get("resource_type") == "source":
        return f"Lake table {props.get('source_name', 'lake')}.{props['name']} as dbt reads it (Parquet under lake/)."
    return f"dbt {props.get('resource_type', 'model')} {props['name']}."


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False


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


@dbt_assets(manifest=prepare_manifest(), project=DBT_PROJECT, dagster_dbt_translator=LayeredTranslator())
def dbt_feature_models(context: dg.AssetExecutionContext, config: DbtBuildConfig, dbt: DbtCliResource,
                       settings: dg.ResourceParam[Settings]):
    """dbt build of the feature tables on DuckDB (models and their data tests).

    In a run of daily event partitions the incremental models rebuild exactly those days (with a day of
    slack each side); otherwise they pick up what is new since their last build.
    """
    days = run_day_range(context.run.tags)
    # The window goes through the environment, not --vars: changed vars force dbt to re-parse the whole
    # project (4-5 s a run), environment variables read in macros do not.
    window = window_for_days(*days) if days and not config.full_refresh else {"window_start": "", "window_end": ""}
    env = {**settings.dbt_env(), "DEVMENTOR_DBT_WINDOW_START": window["window_start"],
           "DEVMENTOR_DBT_WINDOW_END": window["window_end"]}
    args = ["build", "--full-refresh"] if config.full_refresh else ["build"]
    if days and not config.full_refresh:
        context.log.info(f"incremental window for days {days[0]}..{days[1]}: {window}")
    with scoped_environ(env):
        invocation = dbt.cli(args, context=context)
    yield from invocation.stream()
    keep_partial_parse(Path(invocation.target_path))


@dg.asset_check(
    asset=dg.AssetKey(["marts", "fct_learner_behavior"]),
    blocking=True,
    description="Great Expectations on the behaviour mart: one row per learner, rates within 0-1, non-negative "
                "times, one row per dim_learner row.",
)
def behavior_mart_expectations(context: dg.AssetCheckExecutionContext, warehouse: dg.ResourceParam[Warehouse],
                               lake: dg.ResourceParam[Lake]) -> dg.AssetCheckResult:
    report = validate_behavior_mart(warehouse)
    record_check(lake.lake_path, "marts/fct_learner_behavior", "behavior_mart_expectations", report.success,
                 report.metadata(), context.run.run_id)
    return dg.AssetCheckResult(passed=report.success, severity=dg.AssetCheckSeverity.ERROR, metadata=report.metadata())


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[dbt_feature_models], asset_checks=[behavior_mart_expectations],
                          resources={"dbt": dbt_resource()})
