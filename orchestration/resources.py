"""Dagster resources, all built from orchestration.settings."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import dagster as dg
import duckdb
import psycopg

from orchestration import postgres
from orchestration.settings import Settings


# Publishing steps retry transient failures (a database restart, a lock timeout): each retry starts a fresh
# build-beside-and-swap, so a retried publish is as atomic as the first try.
PUBLISH_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)


class LakeResource(dg.ConfigurableResource):
    """The inbox (input files) and the Parquet lake (validated raw data, quarantine, ML outputs)."""

    inbox: str
    lake: str

    @property
    def inbox_path(self) -> Path:
        return Path(self.inbox)

    @property
    def lake_path(self) -> Path:
        return Path(self.lake)

    def ml_path(self, name: str) -> Path:
        path = self.lake_path / "ml" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write_ml_table(self, name: str, table) -> Path:
        """Write ``lake/ml/<name>`` atomically (beside, then rename): readers never see half a file."""
        import pyarrow.parquet as pq

        path = self.ml_path(name)
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)
        return path


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse that dbt builds (staging, intermediate, marts)."""

    path: str

    @contextmanager
    def connect(self, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(self.path, read_only=read_only)
        try:
            con.execute("SET TimeZone='UTC'")
            yield con
        finally:
            con.close()


class ServingDatabaseResource(dg.ConfigurableResource):
    """The serving PostgreSQL (URL from the environment, or the embedded server), the optional NATS
    relay of its decision outbox, and where publish metrics are written."""

    database_url: Optional[str] = None
    pg_data_dir: str
    nats_url: Optional[str] = None
    metrics_dir: str

    def url(self) -> str:
        if self.database_url:
            return self.database_url
        return postgres.embedded_url(Path(self.pg_data_dir))

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        conn = postgres.connect(self.url(), autocommit=True)
        try:
            yield conn
        finally:
            conn.close()


class DecisionPolicyResource(dg.ConfigurableResource):
    """Where the instructors' threshold overrides live (a versioned YAML file)."""

    threshold_overrides: str


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking store and model registry (SQLite in the data directory by default)."""

    tracking_uri: str
    artifact_root: str
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


class LearningPolicyResource(dg.ConfigurableResource):
    """Knobs of the learning engine (from the settings: DEVMENTOR_REVIEW_DAILY_LIMIT, DEVMENTOR_QUIZ_SIZE, ...)."""

    review_daily_limit: int = 20
    quiz_size: int = 5
    quiz_no_repeat_days: int = 7
    recommendations: int = 10


def dbt_executable() -> str:
    """dbt from this interpreter's environment, so an un-activated virtualenv works."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def build_resources(settings: Settings) -> dict:
    from dagster_dbt import DbtCliResource

    from assets.features.dbt import DBT_PROJECT

    settings.ensure_dirs()
    return {
        "lake": LakeResource(inbox=str(settings.inbox), lake=str(settings.lake)),
        "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
        "serving_db": ServingDatabaseResource(
            database_url=settings.database_url,
            pg_data_dir=str(settings.pg_data_dir),
            nats_url=settings.nats_url,
            metrics_dir=str(settings.metrics_dir),
        ),
        "learning_policy": LearningPolicyResource(
            review_daily_limit=settings.review_daily_limit,
            quiz_size=settings.quiz_size,
            quiz_no_repeat_days=settings.quiz_no_repeat_days,
            recommendations=settings.recommendations,
        ),
        "decision_policy": DecisionPolicyResource(threshold_overrides=str(settings.threshold_overrides)),
        "mlflow": MlflowResource(
            tracking_uri=settings.mlflow_tracking_uri, artifact_root=str(settings.mlflow_artifact_root)
        ),
        "dbt": DbtCliResource(
            project_dir=DBT_PROJECT,
            profiles_dir=str(DBT_PROJECT.profiles_dir),
            dbt_executable=dbt_executable(),
        ),
    }
