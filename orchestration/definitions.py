"""The single Dagster entry point: `dagster dev -m orchestration.definitions` (or `devmentor ui`).

Settings are resolved once here (devmentor/settings.py) and passed down: each stage's small
Definitions (assets/<stage>.py) is built from them, merged with the resources, jobs, schedules and
sensors. ``build_defs(settings)`` builds the same definitions for other settings (the CLI and the
tests use it with their own data directories).
"""

from __future__ import annotations

import warnings

import dagster as dg

from devmentor.settings import Settings, apply_telemetry_off, load_settings
from orchestration.instance import quiet_known_notices

apply_telemetry_off()
quiet_known_notices()  # also when `dagster dev -m orchestration.definitions` is started directly
# Single-run backfills of the daily event partitions are a beta Dagster API we rely on deliberately.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from assets import (  # noqa: E402
    analytics,
    features,
    ingest,
    learning,
    serving,
    training,
)
from orchestration import jobs, sensors  # noqa: E402
from orchestration.executors import executor_for  # noqa: E402
from orchestration.progress import progress_logger  # noqa: E402
from orchestration.resources import build_resources  # noqa: E402

STAGES = (ingest, features, training, learning, serving, analytics)


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    # The daily event partitions start at the first day of data (or DEVMENTOR_PARTITIONS_START), resolved once
    # here: reload the code location (or rerun the CLI) after importing older history.
    partitions = ingest.event_partitions(settings)
    return dg.Definitions.merge(
        ingest.definitions(settings, partitions),
        *(stage.definitions(settings) for stage in STAGES if stage is not ingest),
        jobs.definitions(),
        sensors.definitions(partitions),
        dg.Definitions(
            resources=build_resources(settings),
            loggers={"console": dg.colored_console_logger, "progress": progress_logger},
            executor=executor_for(settings.executor),
        ),
    )


defs = build_defs()
