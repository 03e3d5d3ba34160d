"""The single Dagster entry point: `dagster dev -m orchestration.definitions` (or `devmentor ui`).

Small per-stage definitions are merged here with resources built from the settings
(orchestration/settings.py). ``build_defs(settings)`` builds the same definitions for
other settings (the tests use it with temporary directories).
"""

from __future__ import annotations

import warnings

import dagster as dg

import os

from orchestration.settings import ConfigurationError, Settings, apply_telemetry_off, load_settings

apply_telemetry_off()
# Single-run backfills of the daily event partitions are a beta Dagster API we rely on deliberately.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from assets.features.checks import behavior_mart_expectations  # noqa: E402
from assets.features.dbt import dbt_feature_models  # noqa: E402
from assets.ingest.assets import raw_assets  # noqa: E402
from assets.ingest.checks import raw_events_expectations  # noqa: E402
from assets.learning.assets import learning_assets  # noqa: E402
from assets.serving.assets import serving_learner_decisions  # noqa: E402
from assets.training.assets import learner_decisions_scored, training_assets  # noqa: E402
from orchestration import jobs  # noqa: E402
from orchestration.progress import progress_logger  # noqa: E402
from orchestration.resources import build_resources  # noqa: E402



def stage_definitions() -> list[dg.Definitions]:
    """One small Definitions per stage (built in a function: Dagster allows one Definitions at module scope)."""
    return [
        dg.Definitions(assets=raw_assets, asset_checks=[raw_events_expectations]),  # ingest
        dg.Definitions(assets=[dbt_feature_models], asset_checks=[behavior_mart_expectations]),  # features
        dg.Definitions(assets=[*training_assets, learner_decisions_scored]),  # ml
        dg.Definitions(assets=learning_assets),  # learning engine: mastery model, engine outputs, their publication
        dg.Definitions(assets=[serving_learner_decisions]),  # serving
        jobs.definitions(),
    ]


# DEVMENTOR_EXECUTOR → (module, executor attribute, pip package): the scale-out path by configuration only.
EXECUTORS = {
    "celery": ("dagster_celery", "celery_executor", "dagster-celery"),
    "k8s": ("dagster_k8s", "k8s_job_executor", "dagster-k8s"),
    "celery-k8s": ("dagster_celery_k8s", "celery_k8s_job_executor", "dagster-celery-k8s"),
    "docker": ("dagster_docker", "docker_executor", "dagster-docker"),
}


def executor_from_env(environ=None) -> dg.ExecutorDefinition | None:
    """The executor every job uses: Dagster's default (a process per step) unless DEVMENTOR_EXECUTOR names another.

    Its settings (broker, namespace, image, max_concurrent, ...) go in the run config's ``execution``
    section or the launchpad, as Dagster documents for each executor; docs/operator.md has examples.
    """
    name = ((environ if environ is not None else os.environ).get("DEVMENTOR_EXECUTOR") or "default").strip()
    if name in ("default", "multiprocess"):
        return None
    if name == "in_process":
        return dg.in_process_executor
    if name not in EXECUTORS:
        raise ConfigurationError(
            f"DEVMENTOR_EXECUTOR={name!r} is not known; use default, in_process, {', '.join(EXECUTORS)}.")
    module, attr, package = EXECUTORS[name]
    try:
        return getattr(__import__(module), attr)
    except ImportError:
        raise ConfigurationError(
            f"DEVMENTOR_EXECUTOR={name} needs the {package} package: pip install {package} "
            "(with the version matching dagster's), then restart.") from None


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    return dg.Definitions.merge(
        *stage_definitions(),
        dg.Definitions(
            resources=build_resources(settings),
            loggers={"console": dg.colored_console_logger, "progress": progress_logger},
            executor=executor_from_env(),
        ),
    )


defs = build_defs()
