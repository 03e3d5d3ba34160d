"""The Dagster instance in the data directory: local storage, or dagster-postgres when a database URL is set."""

from __future__ import annotations

from pathlib import Path

import yaml

from devmentor.settings import Settings


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
