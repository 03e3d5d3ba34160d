"""ruff (pyflakes, import order, complexity ≤ 15) on every Python file, and sqlfluff (core rules, .sqlfluff) on every
dbt model, as CI runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_passes():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    result = subprocess.run([ruff, "check", "--output-format", "concise", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_sqlfluff_passes_on_every_dbt_model():
    sqlfluff = shutil.which("sqlfluff") or str(Path(sys.executable).with_name("sqlfluff"))
    # One process: sqlfluff's worker pool (--processes 2) deadlocked in a clean-clone CI run when a worker died.
    result = subprocess.run([sqlfluff, "lint", "dbt_project/models", "--processes", "1", "--disable-progress-bar"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
