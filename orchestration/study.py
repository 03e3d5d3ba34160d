"""Build the OULAD early-warning study's warehouse: the release through the real ingest, then the dbt
early-warning mart for the study days (used by benchmarks/bench_oulad.py, notebook 03 and the tests)."""

from __future__ import annotations

import os
from pathlib import Path

from devmentor.importers.oulad import to_contract
from devmentor.settings import load_settings
from devmentor.storage.warehouse import Warehouse
from devmentor.studies.oulad import STUDY_DAYS

FAR_FUTURE = "2100-01-01T00:00:00+00:00"  # every presentation has ended: the study knows every outcome


def build_oulad_study(root: Path, home: Path, progress=print) -> Warehouse:
    """Ingest ``root`` into a lake under ``home`` (once; reused while it holds outcomes) and build
    marts.fct_enrolment_snapshots with DEVMENTOR_SNAPSHOT_DAYS=30,60,90,120,end (role 'study')."""
    from assets.features import run_dbt
    from orchestration.cli import ingest_through_pipeline

    home = Path(home).resolve()
    env = {**os.environ, "DEVMENTOR_HOME": str(home)}
    env.pop("DEVMENTOR_AS_OF", None)
    settings = load_settings(env)
    settings.ensure_dirs()
    if not any(settings.lake.glob("raw/outcomes/*")):
        progress(f"ingesting {root} into {settings.lake} (first run only)")
        to_contract(Path(root), settings.inbox)
        ingest_through_pipeline(settings)
    progress("dbt: the early-warning mart for days " + ",".join(STUDY_DAYS))
    dbt_env = {**settings.dbt_env(), "DEVMENTOR_AS_OF": FAR_FUTURE, "DEVMENTOR_SNAPSHOT_DAYS": ",".join(STUDY_DAYS)}
    invocation = run_dbt(["build", "--select", "+fct_enrolment_snapshots +fct_enrolment_outcomes",
                          "--exclude", "test_type:data"], dbt_env, home / "dbt-target-study")
    if not invocation.is_successful():
        raise RuntimeError(f"dbt build of the early-warning mart failed: {invocation.get_error()}")
    return settings.warehouse()
