"""Settings resolution, definitions load, and the command line's handling of bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devmentor.settings import ConfigurationError, load_settings


def test_defaults_live_under_one_data_directory(tmp_path):
    s = load_settings({"DEVMENTOR_HOME": str(tmp_path / "h")})
    assert s.env == "local" and s.embedded_postgres
    for p in (s.inbox, s.lake, s.warehouse_path, s.mlflow_artifact_root, s.dagster_home, s.pg_data_dir):
        assert str(p).startswith(str(tmp_path / "h"))
    assert s.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'h' / 'mlflow' / 'mlflow.db'}"


def test_unknown_environment_is_an_error():
    with pytest.raises(ConfigurationError, match="not a known environment"):
        load_settings({"DEVMENTOR_ENV": "staging"})


def test_production_requires_a_database_url_and_never_echoes_it():
    with pytest.raises(ConfigurationError, match="needs DEVMENTOR_DATABASE_URL"):
        load_settings({"DEVMENTOR_ENV": "production"})
    with pytest.raises(ConfigurationError) as err:
        load_settings({"DEVMENTOR_DATABASE_URL": "mysql://u:topsecret@h/db"})
    assert "topsecret" not in str(err.value)


def test_definitions_load_with_layered_keys_and_groups():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for key in ("raw/events", "raw/profiles", "staging/stg_devmentor__events", "marts/fct_learner_behavior",
                "marts/dim_learner", "ml/primary_classification", "serving/learner_decisions", "ml/mastery_model",
                "ml/learning_engine", "serving/learning_engine", "ml/gamification", "serving/gamification",
                "analytics/agg_course_funnel", "analytics/skill_matrix"):
        assert key in keys
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    assert groups == {"ingest", "features", "ml", "learning", "analytics", "serving"}
    assert graph.get(dg_key("analytics/agg_course_funnel")).group_name == "analytics"
    assert {k.to_user_string() for k in graph.get(dg_key("serving/learner_decisions")).parent_keys} == {"ml/learner_decisions_scored"}
    assert defs.resolve_job_def("devmentor_pipeline") is not None


def dg_key(text):
    import dagster as dg

    return dg.AssetKey(text.split("/"))


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_rejects_bad_arguments_with_a_clear_message(tmp_path):
    r = _cli("generate", "--learners", "zero", "--days", "3", "--out", str(tmp_path))
    assert r.returncode == 2 and "expected a whole number, got 'zero'" in r.stderr and "Traceback" not in r.stderr
    r = _cli("generate", "--learners", "5", "--days", "3", "--out", str(tmp_path), "--end-date", "31/10/2026")
    assert r.returncode == 2 and "expected a date as YYYY-MM-DD" in r.stderr


def test_cli_db_url_prints_the_configured_url_and_bad_env_is_refused(tmp_path):
    import os

    env = {**os.environ, "DEVMENTOR_HOME": str(tmp_path), "DEVMENTOR_DATABASE_URL": "postgresql://u@localhost:5999/x"}
    r = _cli("db", "url", env=env)
    assert r.returncode == 0 and r.stdout.strip() == "postgresql://u@localhost:5999/x"
    r = _cli("db", "url", env={**env, "DEVMENTOR_ENV": "prod"})
    assert r.returncode == 2 and "not a known environment" in r.stderr and "Traceback" not in r.stderr


def test_cli_generate_writes_the_contract_layout(tmp_path):
    out = tmp_path / "gen"
    r = _cli("generate", "--learners", "30", "--days", "3", "--seed", "1", "--out", str(out), "--format", "csv")
    assert r.returncode == 0, r.stderr
    for folder in ("profiles", "catalog/courses", "catalog/modules", "catalog/content_items", "catalog/questions",
                   "enrolments", "labels", "events", "chat"):
        assert any((out / folder).glob("*.csv")), folder


def test_input_contract_doc_is_generated_from_the_code():
    from pathlib import Path

    from devmentor.ingest.contract import render_markdown

    doc = Path(__file__).resolve().parent.parent / "docs" / "input_contract.md"
    assert doc.read_text() == render_markdown(), "run: python -m devmentor.ingest.contract > docs/input_contract.md"


def test_dbt_allowed_values_come_from_the_contract():
    """One list of allowed values: the contract. dbt's in_contract test reads the generated macro, and every
    staging model of an entity with allowed values runs it (no hand-copied accepted_values lists)."""
    from pathlib import Path

    import yaml

    from devmentor.ingest.contract import DBT_MACRO_PATH, ENTITIES, render_dbt_macro

    root = Path(__file__).resolve().parent.parent
    assert (root / DBT_MACRO_PATH).read_text() == render_dbt_macro(), (
        "run: python -m devmentor.ingest.contract --dbt-macro > " + DBT_MACRO_PATH)
    staging = root / "dbt_project" / "models" / "staging"
    for entity in ENTITIES:
        if not any(f.enum for f in entity.fields):
            continue
        spec = yaml.safe_load((staging / f"stg_devmentor__{entity.name}.yml").read_text())["models"][0]
        tests = [t if isinstance(t, str) else next(iter(t)) for t in spec.get("data_tests", [])]
        assert "in_contract" in tests, f"stg_devmentor__{entity.name} must run the in_contract test"
    for path in staging.glob("*.yml"):
        assert "accepted_values" not in path.read_text(), f"{path.name}: use in_contract, not a copied list"


def test_the_dagster_code_server_can_load_the_definitions(tmp_path):
    """Loads the module the way `dagster dev` / `devmentor ui` does (one Definitions at module scope)."""
    import os
    from pathlib import Path

    dagster = Path(sys.executable).parent / "dagster"
    env = {**os.environ, "DEVMENTOR_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    r = subprocess.run([str(dagster), "definitions", "validate", "-m", "orchestration.definitions"],
                       capture_output=True, text=True, env=env, timeout=300, cwd=Path(__file__).parent.parent)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def test_thresholds_resolve_in_settings_and_bad_values_name_the_variable():
    s = load_settings({"DEVMENTOR_MAX_QUARANTINE_SHARE": "0.1", "DEVMENTOR_DRIFT_PSI": "0.3"})
    assert (s.max_quarantine_share, s.drift_psi, s.retrain_new_data_share) == (0.1, 0.3, 0.2)
    with pytest.raises(ConfigurationError, match="DEVMENTOR_MAX_QUARANTINE_SHARE='lots' is not a number"):
        load_settings({"DEVMENTOR_MAX_QUARANTINE_SHARE": "lots"})
    with pytest.raises(ConfigurationError, match="DEVMENTOR_MAX_QUARANTINE_SHARE=1.5 is out of range"):
        load_settings({"DEVMENTOR_MAX_QUARANTINE_SHARE": "1.5"})


def test_executor_is_chosen_by_configuration(monkeypatch):
    """The scale-out path: DEVMENTOR_EXECUTOR swaps the executor of every job the daemon, a sensor or the UI
    launches, without code changes. (The CLI runs its job in its own process whatever it says: docs/operator.md.)"""
    import dagster as dg

    from devmentor.settings import ConfigurationError, load_settings
    from orchestration.definitions import build_defs
    from orchestration.executors import DEFAULT_EXECUTOR, executor_for

    assert executor_for(load_settings({}).executor) is DEFAULT_EXECUTOR
    default_jobs = {job.name: job.executor_def.name for job in build_defs().resolve_all_job_defs()}
    assert set(default_jobs.values()) == {"multiprocess"}  # a process per step
    # ... forked from a server that imported the definitions once, unless the run config says otherwise
    resolve = DEFAULT_EXECUTOR.config_schema.resolve_config
    assert resolve({}).value["config"]["start_method"] == {"forkserver": {"preload_modules": ["orchestration.definitions"]}}
    told = resolve({"config": {"start_method": {"spawn": {}}, "max_concurrent": 3}}).value["config"]
    assert told["start_method"] == {"spawn": {}} and told["max_concurrent"] == 3
    assert not resolve({"config": {"max_concurent": 3}}).success  # a misspelt setting is refused, not ignored
    monkeypatch.setenv("DEVMENTOR_EXECUTOR", "in_process")
    jobs = build_defs().resolve_all_job_defs()
    assert {job.name for job in jobs} == set(default_jobs) and "devmentor_pipeline" in default_jobs
    assert {job.executor_def.name for job in jobs} == {dg.in_process_executor.name}
    with pytest.raises(ConfigurationError, match="pip install dagster-k8s"):
        executor_for(load_settings({"DEVMENTOR_EXECUTOR": "k8s"}).executor)
    with pytest.raises(ConfigurationError, match="not known"):
        load_settings({"DEVMENTOR_EXECUTOR": "spark"})


def test_scoped_environ_sets_and_unsets_for_the_block_only(monkeypatch):
    """A run's as-of and storage URL live in the environment only while the run does (a replay's once leaked)."""
    import os

    from devmentor.settings import scoped_environ

    monkeypatch.setenv("DEVMENTOR_AS_OF", "2014-01-01T00:00:00Z")
    monkeypatch.delenv("DEVMENTOR_DAGSTER_STORAGE_URL", raising=False)
    with pytest.raises(RuntimeError):
        with scoped_environ({"DEVMENTOR_AS_OF": None, "DEVMENTOR_DAGSTER_STORAGE_URL": "postgresql+psycopg2://x/y"}):
            assert "DEVMENTOR_AS_OF" not in os.environ
            assert os.environ["DEVMENTOR_DAGSTER_STORAGE_URL"] == "postgresql+psycopg2://x/y"
            raise RuntimeError("the run failed")
    assert os.environ["DEVMENTOR_AS_OF"] == "2014-01-01T00:00:00Z"  # restored even after a failure
    assert "DEVMENTOR_DAGSTER_STORAGE_URL" not in os.environ
