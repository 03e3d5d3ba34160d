"""The resources every asset receives, all built from one Settings (resolved once, at the entry point).

They are the platform's own plain objects (devmentor.storage, devmentor.training); Dagster passes them
to assets as ``ResourceParam``s. None of them carries a secret as configuration, so the Dagster UI
never displays a database password.
"""

from __future__ import annotations

from devmentor.settings import Settings


def build_resources(settings: Settings) -> dict:
    settings.ensure_dirs()
    return {
        "settings": settings,
        "lake": settings.lake_store(),
        "warehouse": settings.warehouse(),
        "serving_db": settings.serving_db(),
        "mlflow": settings.mlflow_store(),
    }
