"""Shared fixtures: a real PostgreSQL (embedded pgserver, or DEVMENTOR_TEST_DATABASE_URL), isolated settings."""

from __future__ import annotations

import functools
import os
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

# Anything imported at collection time (orchestration.definitions builds resources) must not
# touch the developer's ./.devmentor: point the defaults at a throwaway directory first.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="devmentor-tests-"))
os.environ["DEVMENTOR_HOME"] = str(_SESSION_HOME / "home")
os.environ.pop("DEVMENTOR_DATABASE_URL", None)
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("DAGSTER_HOME", None)
os.environ.setdefault("DEVMENTOR_ENV", "test")
for key, value in {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DAGSTER_DISABLE_TELEMETRY": "true",
    "XDG_RUNTIME_DIR": str(_SESSION_HOME),
}.items():
    os.environ.setdefault(key, value)


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def pg_server_url():
    """URL of a PostgreSQL server for the whole session (its maintenance database)."""
    external = os.environ.get("DEVMENTOR_TEST_DATABASE_URL")
    if external:
        yield external
        return
    import pgserver

    pgdata = _SESSION_HOME / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pgdata / "data"), cleanup_mode="stop")
    yield server.get_uri("postgres")
    server.cleanup()


@pytest.fixture
def pg_url(pg_server_url):
    """A fresh, empty database on the session's server; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield _with_database(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def settings_factory(tmp_path):
    """Settings for an isolated data directory under tmp_path, optionally with a database URL."""
    from devmentor.settings import load_settings

    def make(database_url: str | None = None, name: str = "home"):
        home = tmp_path / name
        env = {"DEVMENTOR_HOME": str(home), "DEVMENTOR_ENV": "test"}
        if database_url:
            env["DEVMENTOR_DATABASE_URL"] = database_url
        settings = load_settings(env)
        settings.ensure_dirs()
        return settings

    return make


def requires_shared(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test with the reason when the data is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not present at {path} (CI has it; a fresh clone may not)")
    return path


E2E_LEARNERS = 400


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory, pg_server_url):
    """One full pipeline run on generated data, shared by the end-to-end, API and dashboard tests.

    The read-only tests (API, dashboards) run before test_e2e.py, which then changes the data
    (a daily run, a bad partition, reruns).
    """
    from devmentor.generator import generate
    from devmentor.settings import load_settings
    from orchestration.runner import run_pipeline

    db = f"e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")
    url = _with_database(pg_server_url, db)
    home = tmp_path_factory.mktemp("e2e") / "home"
    settings = load_settings({"DEVMENTOR_HOME": str(home), "DEVMENTOR_DATABASE_URL": url, "DEVMENTOR_ENV": "test"})
    settings.ensure_dirs()
    summary = generate(settings.inbox, learners=E2E_LEARNERS, days=21, seed=11)
    days = sorted(p.stem for p in (settings.inbox / "events").glob("*.parquet"))
    # Everything but the last day first; the last day arrives later as a daily run (test below).
    result = run_pipeline(settings, days=(days[0], days[-2]))
    yield settings, url, result, summary
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")




@functools.cache
def _shares_the_pipeline_run(test_file: str) -> bool:
    path = PROJECT_ROOT / test_file
    return path.is_file() and "pipeline_run" in path.read_text()


def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist (`-n`): each test file runs whole on one worker (its module fixtures are built once),
    and every file that uses `pipeline_run` goes, whole and in collection order, to the same worker (the
    read-only API and dashboard tests before test_e2e.py changes the data), so the shared run is built once.
    (xdist's own `--dist loadgroup` markers do not take effect with pytest 9: the group rides on the node id.)"""
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            test_file = nodeid.split("::")[0]
            return "pipeline_run" if _shares_the_pipeline_run(test_file) else test_file

    return SharedRunScheduling(config, log)
