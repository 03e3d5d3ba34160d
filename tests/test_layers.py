"""The layout's rules, checked on the source: layers import downward only, and no import cycle (issue 20).

    models/         learning code            imports nothing of ours but models/
    devmentor/      the platform, no Dagster imports models/ and devmentor/
    assets/         Dagster assets, thin     imports devmentor/, models/, assets/
    orchestration/  Dagster wiring           anything but dashboards/
    dashboards/     the instructor UI        devmentor/, models/, dashboards/
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("models", "devmentor", "assets", "orchestration", "dashboards")
ALLOWED = {
    "models": {"models"},
    "devmentor": {"models", "devmentor"},
    "assets": {"models", "devmentor", "assets"},
    "orchestration": {"models", "devmentor", "assets", "orchestration"},
    "dashboards": {"models", "devmentor", "dashboards"},
}
NO_DAGSTER = ("models", "devmentor", "dashboards")


def _modules():
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            yield package, name, path


def _imports(path: Path, top_level_only: bool):
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("package", OURS)
def test_each_layer_imports_only_downward(package):
    wrong = [(name, imp) for pkg, name, path in _modules() if pkg == package
             for imp in _imports(path, top_level_only=False)
             if imp.split(".")[0] in OURS and imp.split(".")[0] not in ALLOWED[package]]
    assert not wrong, f"{package}/ imports a layer above it: {wrong}"


@pytest.mark.parametrize("package", NO_DAGSTER)
def test_learning_code_platform_and_dashboards_know_nothing_of_dagster(package):
    wrong = [(name, imp) for pkg, name, path in _modules() if pkg == package
             for imp in _imports(path, top_level_only=False) if imp.split(".")[0] in ("dagster", "dagster_dbt")]
    assert not wrong, wrong


def test_no_import_cycle_between_modules():
    modules = {name: path for _, name, path in _modules()}
    graph = {name: {imp for imp in _imports(path, top_level_only=True) if imp in modules and imp != name}
             for name, path in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str):
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " → ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_every_module_under_assets_defines_assets_or_checks():
    for path in sorted((ROOT / "assets").glob("*.py")):
        if path.name == "__init__.py":
            continue
        text = path.read_text()
        assert any(d in text for d in ("@dg.asset", "@dbt_assets", "@dg.asset_check", "@dg.multi_asset", "dg.graph_asset(")), path.name


# The code that computes what a model or a decision uses: it reads dbt marts (dbt_project/models/marts/), never the
# staging or intermediate layers, so each feature and input is defined once, in dbt.
MART_READERS = ("models", "devmentor/learning", "devmentor/training", "devmentor/serving")


@pytest.mark.parametrize("package", MART_READERS)
def test_learning_and_training_code_reads_marts_not_staging_or_intermediate(package):
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\b(staging|intermediate)\.(stg|int)_\w+", line)]
    assert not offenders, "read a mart instead (add one under dbt_project/models/marts/):\n" + "\n".join(offenders)
