"""The executor every job uses, chosen by configuration only (DEVMENTOR_EXECUTOR): the scale-out path."""

from __future__ import annotations

import dagster as dg

from devmentor.settings import ConfigurationError

# DEVMENTOR_EXECUTOR → (module, executor attribute, pip package)
EXECUTORS = {
    "celery": ("dagster_celery", "celery_executor", "dagster-celery"),
    "k8s": ("dagster_k8s", "k8s_job_executor", "dagster-k8s"),
    "celery-k8s": ("dagster_celery_k8s", "celery_k8s_job_executor", "dagster-celery-k8s"),
    "docker": ("dagster_docker", "docker_executor", "dagster-docker"),
}


def executor_for(name: str) -> dg.ExecutorDefinition | None:
    """Dagster's default (a process per step) unless ``name`` names another.

    Its settings (broker, namespace, image, max_concurrent, ...) go in the run config's ``execution``
    section or the launchpad, as Dagster documents for each executor; docs/operator.md has examples.
    """
    name = (name or "default").strip()
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
