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


# The default executor's step processes fork from a server that imported the definitions once, instead of each
# starting Python and importing them again (7-8 s a step, 13 s when two start together on two cores; a run has
# 30 steps). Dagster's multiprocess executor offers this ("forkserver"); nothing the definitions import starts
# a thread, so forking from it is safe. A run config's own ``start_method: {spawn: {}}`` still wins.
PRELOAD_MODULES = ["orchestration.definitions"]


def _forkserver_unless_told(config: dict | None) -> dict:
    return {"start_method": {"forkserver": {"preload_modules": PRELOAD_MODULES}}, **(config or {})}


DEFAULT_EXECUTOR = dg.multiprocess_executor.configured(_forkserver_unless_told, name="multiprocess",
                                                       config_schema=dg.Permissive())


def executor_for(name: str) -> dg.ExecutorDefinition:
    """A process per step (the multiprocess executor, forking from a preloaded server) unless ``name`` names another.

    Its settings (broker, namespace, image, max_concurrent, ...) go in the run config's ``execution``
    section or the launchpad, as Dagster documents for each executor; docs/operator.md has examples.
    """
    name = (name or "default").strip()
    if name in ("default", "multiprocess"):
        return DEFAULT_EXECUTOR
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
