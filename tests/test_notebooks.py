"""Every notebook runs top to bottom (nbclient) against a small real pipeline run."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import PROJECT_ROOT, requires_shared

pytestmark = pytest.mark.e2e
NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["01_explore_features.ipynb", "02_train_compare_trees.ipynb", "03_oulad_early_warning.ipynb"]


# The OULAD notebook ingests the whole release (about a minute): benchmark-style, run with `pytest -m benchmark`.
PARAMS = [pytest.param(p, marks=pytest.mark.benchmark) if "oulad" in p.name else p for p in NOTEBOOKS]


@pytest.mark.parametrize("path", PARAMS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, pipeline_run, monkeypatch):
    if "oulad" in path.name:
        requires_shared("oulad", "studentInfo.csv")
    settings, url, _, _ = pipeline_run
    monkeypatch.setenv("DEVMENTOR_HOME", str(settings.home))
    monkeypatch.setenv("DEVMENTOR_DATABASE_URL", url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    monkeypatch.setenv("DEVMENTOR_MLFLOW_ARTIFACTS", str(settings.mlflow_artifact_root))
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert sum(1 for c in nb.cells if c.cell_type == "code" and c.outputs) >= 2
