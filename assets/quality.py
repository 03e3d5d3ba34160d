"""Great Expectations at the asset-check boundary: validate a DataFrame against a list of expectations."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Expect:
    """One expectation: a GX expectation class name and its arguments."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class QualityReport:
    success: bool
    checked_rows: int
    failures: list[dict]

    def metadata(self) -> dict:
        return {
            "checked_rows": self.checked_rows,
            "failed_expectations": len(self.failures),
            "failures": self.failures,
        }


_CONTEXT = None


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx

        _CONTEXT = gx.get_context(mode="ephemeral")
    return _CONTEXT


def validate_frame(name: str, frame: pd.DataFrame, expectations: list[Expect]) -> QualityReport:
    """Run the expectations on ``frame`` with Great Expectations; failures name the expectation, column and examples."""
    import great_expectations as gx

    ctx = _context()
    source_name = f"devmentor_{name}"
    try:
        source = ctx.data_sources.get(source_name)
    except Exception:  # not registered yet in this process
        source = ctx.data_sources.add_pandas(source_name)
    try:
        asset = source.get_asset(name)
    except Exception:
        asset = source.add_dataframe_asset(name)
    try:
        definition = asset.get_batch_definition("whole")
    except Exception:
        definition = asset.add_batch_definition_whole_dataframe("whole")
    batch = definition.get_batch(batch_parameters={"dataframe": frame})
    suite = gx.ExpectationSuite(name=f"{name}_suite")
    for e in expectations:
        suite.add_expectation(getattr(gx.expectations, e.kind)(**e.kwargs))
    result = batch.validate(suite)
    failures = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        failures.append(
            {
                "expectation": cfg.type,
                "column": cfg.kwargs.get("column"),
                "unexpected_count": r.result.get("unexpected_count"),
                "examples": [str(v) for v in (r.result.get("partial_unexpected_list") or [])[:5]],
                "observed": str(r.result.get("observed_value")) if "observed_value" in r.result else None,
            }
        )
    return QualityReport(success=bool(result.success), checked_rows=len(frame), failures=failures)


def record_check(lake_path, asset: str, check: str, passed: bool, metadata: dict, run_id: str | None = None) -> None:
    """Append a check result to lake/_quality/checks.jsonl (the dashboard's data-quality page reads it)."""
    import json
    from datetime import datetime, timezone
    from pathlib import Path

    path = Path(lake_path) / "_quality" / "checks.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"at": datetime.now(timezone.utc).isoformat(), "asset": asset, "check": check, "passed": bool(passed),
             "run_id": run_id, "metadata": metadata}
    with path.open("a") as f:
        f.write(json.dumps(entry, default=str) + "\n")
