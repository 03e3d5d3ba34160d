"""The one place where configuration is resolved from the environment.

Every setting has a working local default, secrets come only from the
environment, and an unknown ``DEVMENTOR_ENV`` is an error rather than a silent
fallback.

| variable | default | meaning |
|---|---|---|
| ``DEVMENTOR_ENV`` | ``local`` | ``local``, ``test`` or ``production``; production requires ``DEVMENTOR_DATABASE_URL`` |
| ``DEVMENTOR_HOME`` | ``./.devmentor`` | data directory: lake, DuckDB warehouse, MLflow, Dagster instance, embedded PostgreSQL |
| ``DEVMENTOR_INBOX`` | ``$DEVMENTOR_HOME/inbox`` | where input files land (see docs/input_contract.md) |
| ``DEVMENTOR_DATABASE_URL`` | unset: embedded PostgreSQL (pgserver) in ``$DEVMENTOR_HOME/pg`` | libpq URL of the serving PostgreSQL |
| ``MLFLOW_TRACKING_URI`` | ``sqlite:///$DEVMENTOR_HOME/mlflow/mlflow.db`` | MLflow tracking store and model registry |
| ``DEVMENTOR_MLFLOW_ARTIFACTS`` | ``$DEVMENTOR_HOME/mlflow/artifacts`` | MLflow artifact root for new experiments |
| ``DAGSTER_HOME`` | ``$DEVMENTOR_HOME/dagster`` | Dagster instance directory |
| ``DEVMENTOR_PARTITIONS_START`` | unset: the first day of event or chat data in the inbox or lake | first day of the daily partitions of event data |
| ``DEVMENTOR_MAX_QUARANTINE_SHARE`` | ``0.05`` | share of an input's rows that may be quarantined before a run stops |
| ``DEVMENTOR_DRIFT_PSI`` | ``0.2`` | population stability index above which the sensor retrains |
| ``DEVMENTOR_RETRAIN_NEW_DATA_SHARE`` | ``0.2`` | new events since training (share) at which the sensor retrains |
| ``DEVMENTOR_NATS_URL`` | unset | when set, decisions are also published to NATS JetStream (from the outbox) |
| ``DEVMENTOR_READER_PASSWORD`` | unset | password of the read-only role ``devmentor_reader`` (secret; environment only) |
| ``DEVMENTOR_READER_URL`` | the serving URL with user ``devmentor_reader`` | where the read API connects |
| ``DEVMENTOR_REVIEW_DAILY_LIMIT`` | ``20`` | most spaced-repetition reviews in a learner's daily queue |
| ``DEVMENTOR_QUIZ_SIZE`` | ``5`` | questions in each learner's next quiz |
| ``DEVMENTOR_QUIZ_NO_REPEAT_DAYS`` | ``7`` | a question attempted this many days before is not asked again |
| ``DEVMENTOR_RECOMMENDATIONS`` | ``10`` | recommendations per learner |
| ``DEVMENTOR_EXECUTOR`` | ``default`` (a process per step) | ``in_process``, or a distributed executor: ``celery``, ``k8s``, ``celery-k8s``, ``docker`` (docs/operator.md) |
| ``DEVMENTOR_DBT_TARGET`` | ``duckdb`` | dbt target; ``postgres`` builds the features on PostgreSQL (``devmentor warehouse postgres``) |
| ``DEVMENTOR_PRIVACY_KEY`` | unset: generated once into ``$DEVMENTOR_HOME/.privacy_key`` | key of the keyed hashes (tombstones, pseudonyms; secret) |
| ``DEVMENTOR_THRESHOLD_OVERRIDES`` | ``devmentor/threshold_overrides.yml`` | instructors' threshold overrides (versioned YAML) |
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator, Mapping

ENVIRONMENTS = ("local", "test", "production")
EXECUTOR_NAMES = ("default", "multiprocess", "in_process", "celery", "k8s", "celery-k8s", "docker")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


class ConfigurationError(RuntimeError):
    """A setting is missing or invalid; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    env: str
    home: Path
    inbox: Path
    database_url: str | None
    mlflow_tracking_uri: str
    mlflow_artifact_root: Path
    dagster_home: Path
    # None: the daily partitions start at the first day of data (assets/ingest.py resolves it when definitions load).
    partitions_start: str | None = None
    threshold_overrides: Path = PROJECT_ROOT / "devmentor" / "threshold_overrides.yml"
    nats_url: str | None = None
    max_quarantine_share: float = 0.05
    drift_psi: float = 0.2
    retrain_new_data_share: float = 0.2
    review_daily_limit: int = 20
    quiz_size: int = 5
    quiz_no_repeat_days: int = 7
    recommendations: int = 10
    executor: str = "default"
    # Learner shards of the per-learner stages: scoring, learning engine, gamification (DEVMENTOR_SHARDS): with
    # more than one, each shard is its own step, so the multiprocess, Celery or Kubernetes executor spreads them
    # (devmentor/shards.py, assets/shards.py).
    shards: int = 1
    # The run's as-of instant (DEVMENTOR_AS_OF): every time-dependent value is computed at it. Unset, it is
    # the latest recorded event (a replay sets it to the replay day; never the wall clock).
    as_of: datetime | None = None
    reader_url: str | None = field(default=None, repr=False)
    reader_password: str | None = field(default=None, repr=False)
    privacy_key: str | None = field(default=None, repr=False)

    # Derived locations inside the data directory (not separately configurable).
    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def metrics_dir(self) -> Path:
        return self.home / "metrics"

    @property
    def pg_data_dir(self) -> Path:
        return self.home / "pg" / "data"

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

    def ensure_dirs(self) -> None:
        for path in (self.home, self.inbox, self.lake, self.mlflow_artifact_root, self.dagster_home):
            path.mkdir(parents=True, exist_ok=True)

    def clear_data(self) -> None:
        """Remove this data directory's inbox, lake and warehouse (a fresh demo or replay); MLflow and Dagster stay."""
        import shutil

        for path in (self.inbox, self.lake, self.warehouse_path):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        self.ensure_dirs()

    def child_env(self) -> dict[str, str]:
        """Environment for subprocesses (dbt, Dagster UI, Streamlit) so they see the same settings."""
        env = dict(os.environ)
        env.update(
            DEVMENTOR_ENV=self.env,
            DEVMENTOR_HOME=str(self.home),
            DEVMENTOR_INBOX=str(self.inbox),
            DEVMENTOR_LAKE=str(self.lake),
            DEVMENTOR_WAREHOUSE=str(self.warehouse_path),
            MLFLOW_TRACKING_URI=self.mlflow_tracking_uri,
            DEVMENTOR_MLFLOW_ARTIFACTS=str(self.mlflow_artifact_root),
            DAGSTER_HOME=str(self.dagster_home),
        )
        if self.as_of:
            env["DEVMENTOR_AS_OF"] = self.as_of.isoformat()
        if self.database_url:
            env["DEVMENTOR_DATABASE_URL"] = self.database_url
            env["DEVMENTOR_DAGSTER_STORAGE_URL"] = self.dagster_storage_url
        env.update(TELEMETRY_ENV)
        return env

    def dbt_env(self) -> dict[str, str]:
        """What profiles.yml and the dbt sources read: the warehouse file and the lake of these settings."""
        return {"DEVMENTOR_LAKE": str(self.lake), "DEVMENTOR_WAREHOUSE": str(self.warehouse_path),
                "DEVMENTOR_AS_OF": self.as_of.isoformat() if self.as_of else "", **TELEMETRY_ENV}

    # The platform's stores, built from these settings (plain objects; Dagster passes them to assets as resources).
    def lake_store(self):
        from devmentor.storage.lake import Lake

        return Lake(inbox_path=self.inbox, lake_path=self.lake)

    def warehouse(self):
        from devmentor.storage.warehouse import Warehouse

        return Warehouse(path=self.warehouse_path)

    def serving_db(self):
        """The serving database; an embedded server is started only when its URL is first asked for."""
        from devmentor.storage.serving import ServingDatabase

        return ServingDatabase(database_url=self.database_url, pg_data_dir=self.pg_data_dir,
                               metrics_dir=self.metrics_dir, nats_url=self.nats_url,
                               reader_url_override=self.reader_url, reader_password=self.reader_password)

    def mlflow_store(self, experiment: str = "devmentor"):
        from devmentor.training.mlflow_store import MlflowStore

        return MlflowStore(tracking_uri=self.mlflow_tracking_uri, artifact_root=self.mlflow_artifact_root,
                           experiment=experiment)

    @property
    def dagster_storage_url(self) -> str | None:
        """SQLAlchemy URL for dagster-postgres (psycopg2 driver: Dagster's NOTIFY needs client-side binding)."""
        if not self.database_url:
            return None
        return "postgresql+psycopg2://" + self.database_url.split("://", 1)[1]


# Nothing in this project may wait on the network for telemetry.
TELEMETRY_ENV = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DAGSTER_DISABLE_TELEMETRY": "true",
}


@contextmanager
def scoped_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """``values`` in this process's environment for the block only (None: unset inside it), restored afterwards:
    for what reads the environment at its start (a dbt invocation, an executor's step process rebuilding the
    settings), without leaking a run's as-of or URLs into whatever this process does next."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        _put_environ(values)
        yield
    finally:
        _put_environ(saved)


def _put_environ(values: Mapping[str, str | None]) -> None:
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def apply_telemetry_off() -> None:
    for key, value in TELEMETRY_ENV.items():
        os.environ.setdefault(key, value)


def _shown(value: str) -> str:
    """A bad value, quoted for an error message, with anything that looks like a password masked."""
    return repr(re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", str(value)))


def _fraction(env_vars, name: str, default: float, lower: float | None = 0.0, upper: float | None = 1.0) -> float:
    text = env_vars.get(name)
    if text is None or not str(text).strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigurationError(f"{name}={_shown(text)} is not a number.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigurationError(f"{name}={_shown(text)} is not a finite number.")
    if (lower is not None and value < lower) or (upper is not None and value > upper):
        raise ConfigurationError(f"{name}={value} is out of range [{lower}, {upper}].")
    return value


def _count(env_vars, name: str, default: int, lower: int = 1, upper: int = 1000) -> int:
    text = env_vars.get(name)
    if text is None or not str(text).strip():
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigurationError(f"{name}={_shown(text)} is not a whole number.") from None
    if not lower <= value <= upper:
        raise ConfigurationError(f"{name}={value} is out of range [{lower}, {upper}].")
    return value


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Resolve settings from ``environ`` (default: the process environment)."""
    env_vars = os.environ if environ is None else environ
    env = env_vars.get("DEVMENTOR_ENV", "local").strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigurationError(
            f"DEVMENTOR_ENV={_shown(env)} is not a known environment; use one of {', '.join(ENVIRONMENTS)}."
        )
    home = Path(env_vars.get("DEVMENTOR_HOME") or ".devmentor").expanduser().resolve()
    inbox = Path(env_vars.get("DEVMENTOR_INBOX") or home / "inbox").expanduser().resolve()
    database_url = (env_vars.get("DEVMENTOR_DATABASE_URL") or "").strip() or None
    if env == "production" and database_url is None:
        raise ConfigurationError(
            "DEVMENTOR_ENV=production needs DEVMENTOR_DATABASE_URL (a libpq URL such as "
            "postgresql://user@host:5432/devmentor); the embedded PostgreSQL is for local use only."
        )
    if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
        raise ConfigurationError(
            "DEVMENTOR_DATABASE_URL must be a libpq URL starting with postgresql:// "
            "(the value is not shown because it may hold a password)."
        )
    artifacts = Path(
        env_vars.get("DEVMENTOR_MLFLOW_ARTIFACTS") or home / "mlflow" / "artifacts"
    ).expanduser().resolve()
    tracking = env_vars.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    dagster_home = Path(env_vars.get("DAGSTER_HOME") or home / "dagster").expanduser().resolve()
    partitions_start = (env_vars.get("DEVMENTOR_PARTITIONS_START") or "").strip() or None
    try:
        if partitions_start is not None:
            partitions_start = date.fromisoformat(partitions_start).isoformat()
    except ValueError:
        raise ConfigurationError(
            f"DEVMENTOR_PARTITIONS_START={_shown(partitions_start)} is not a date; use YYYY-MM-DD."
        ) from None
    executor = (env_vars.get("DEVMENTOR_EXECUTOR") or "default").strip()
    if executor not in EXECUTOR_NAMES:
        raise ConfigurationError(
            f"DEVMENTOR_EXECUTOR={_shown(executor)} is not known; use one of {', '.join(EXECUTOR_NAMES)}.")
    as_of = (env_vars.get("DEVMENTOR_AS_OF") or "").strip() or None
    if as_of is not None:
        try:
            as_of = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigurationError(
                f"DEVMENTOR_AS_OF={_shown(as_of)} is not an ISO 8601 instant; use e.g. 2014-12-01T23:59:59Z.") from None
        as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=timezone.utc)
    return Settings(
        as_of=as_of,
        executor=executor,
        reader_url=(env_vars.get("DEVMENTOR_READER_URL") or "").strip() or None,
        reader_password=env_vars.get("DEVMENTOR_READER_PASSWORD") or None,
        privacy_key=env_vars.get("DEVMENTOR_PRIVACY_KEY") or None,
        env=env,
        home=home,
        inbox=inbox,
        database_url=database_url,
        mlflow_tracking_uri=tracking,
        mlflow_artifact_root=artifacts,
        dagster_home=dagster_home,
        partitions_start=partitions_start,
        nats_url=(env_vars.get("DEVMENTOR_NATS_URL") or "").strip() or None,
        max_quarantine_share=_fraction(env_vars, "DEVMENTOR_MAX_QUARANTINE_SHARE", 0.05),
        drift_psi=_fraction(env_vars, "DEVMENTOR_DRIFT_PSI", 0.2, upper=None),
        retrain_new_data_share=_fraction(env_vars, "DEVMENTOR_RETRAIN_NEW_DATA_SHARE", 0.2, lower=None, upper=None),
        review_daily_limit=_count(env_vars, "DEVMENTOR_REVIEW_DAILY_LIMIT", 20),
        quiz_size=_count(env_vars, "DEVMENTOR_QUIZ_SIZE", 5, upper=100),
        quiz_no_repeat_days=_count(env_vars, "DEVMENTOR_QUIZ_NO_REPEAT_DAYS", 7, lower=0, upper=365),
        recommendations=_count(env_vars, "DEVMENTOR_RECOMMENDATIONS", 10, upper=100),
        shards=_count(env_vars, "DEVMENTOR_SHARDS", 1, upper=256),
        threshold_overrides=Path(
            env_vars.get("DEVMENTOR_THRESHOLD_OVERRIDES") or PROJECT_ROOT / "devmentor" / "threshold_overrides.yml"
        ).expanduser().resolve(),
    )
