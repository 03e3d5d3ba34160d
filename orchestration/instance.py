"""The Dagster instance in the data directory: local storage, or dagster-postgres when a database URL is set."""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import yaml

from devmentor.settings import Settings, scoped_environ


def write_instance_yaml(settings: Settings) -> Path:
    """Write $DAGSTER_HOME/dagster.yaml for these settings (idempotent)."""
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    config: dict = {
        "telemetry": {"enabled": False},
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            # Runs of the pipeline's jobs (tag pipeline=devmentor) one at a time: two at once would race on the
            # lake's ML outputs and the mastery state (serving publishes also take PostgreSQL advisory locks).
            "config": {"max_concurrent_runs": 2,
                       "tag_concurrency_limits": [{"key": "pipeline", "value": "devmentor", "limit": 1}]},
        },
    }
    if settings.database_url:
        # The URL comes from the environment at load time; it is never written to disk.
        config["storage"] = {"postgres": {"postgres_url": {"env": "DEVMENTOR_DAGSTER_STORAGE_URL"}}}
    path = settings.dagster_home / "dagster.yaml"
    text = yaml.safe_dump(config, sort_keys=False)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def run_environ(settings: Settings) -> dict[str, str | None]:
    """What a run of these settings reads from the environment: dagster.yaml the storage URL, and a step that
    the executor starts in another process the settings it rebuilds (the run's as-of: unset, the latest event)."""
    return {"DEVMENTOR_DAGSTER_STORAGE_URL": settings.dagster_storage_url,
            "DEVMENTOR_AS_OF": settings.as_of.isoformat() if settings.as_of else None}


@contextmanager
def project_instance(settings: Settings, environ: Mapping[str, str | None] | None = None) -> Iterator:
    """The project's Dagster instance, with ``run_environ`` (and ``environ``) in the environment only while it
    is open: a replay's as-of never outlives its run in this process (it once leaked into a later run's steps)."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    write_instance_yaml(settings)
    with scoped_environ({**run_environ(settings), **(environ or {})}):
        instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(settings.dagster_home)))
        try:
            yield instance
        finally:
            instance.dispose()


# `dagster dev` warns on every start that it is superseded by `dg dev` (from the dagster-dg-cli package, which
# this project does not install); the filter names that one message only, so any other warning still shows.
DAGSTER_DEV_NOTICE = "ignore:Function `dev_command` is superseded"


RUNTIME_DIR_UNSET = "XDG_RUNTIME_DIR is not set"


def quiet_known_notices() -> None:
    """Filter platformdirs' "XDG_RUNTIME_DIR is not set" RuntimeDirWarning, here and in child processes.

    pgserver asks platformdirs for a runtime directory at import; with XDG_RUNTIME_DIR unset (containers,
    cron, ssh without a login session) platformdirs warns on every command and falls back to a private
    directory, which is fine. Only that message is filtered: a set but unusable XDG_RUNTIME_DIR (wrong
    owner or mode) still warns, as does everything else.
    """
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    warnings.filterwarnings("ignore", message=RUNTIME_DIR_UNSET)
    rule = f"ignore:{RUNTIME_DIR_UNSET}"
    current = os.environ.get("PYTHONWARNINGS", "")
    if rule not in current.split(","):
        os.environ["PYTHONWARNINGS"] = ",".join(f for f in (current, rule) if f)


def dagster_dev_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for the `dagster dev` child, with its superseded-command notice filtered (see DAGSTER_DEV_NOTICE)."""
    filters = [f for f in (env.get("PYTHONWARNINGS"), DAGSTER_DEV_NOTICE) if f]
    return {**env, "PYTHONWARNINGS": ",".join(filters)}
