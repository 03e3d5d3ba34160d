"""MLflow tracking store and model registry (SQLite in the data directory by default)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MlflowStore:
    tracking_uri: str
    artifact_root: Path
    experiment: str = "devmentor"

    def setup(self, experiment: str | None = None):
        """Point MLflow at our store and an experiment (default: the trees'); returns the mlflow module."""
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        import mlflow

        name = experiment or self.experiment
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        if mlflow.get_experiment_by_name(name) is None:
            Path(self.artifact_root).mkdir(parents=True, exist_ok=True)
            mlflow.create_experiment(name, artifact_location=Path(self.artifact_root).as_uri())
        mlflow.set_experiment(name)
        return mlflow
