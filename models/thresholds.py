"""Instructor threshold overrides for the trees' rule tables.

An override file (YAML, versioned in the repository) changes the threshold of
named splits of a tree without retraining it:

    version: 3
    overrides:
      primary_classification:
        - feature: correct_rate          # the split's feature ...
          threshold: 0.52                # ... and its trained threshold (to find the split),
          new_threshold: 0.55            # or rule_id: R4L instead of feature/threshold
          reason: "Program wants earlier support"
          author: "j.doe"

A split is addressed by ``rule_id`` (R<node>L/R, both sides of a node share the
threshold) or by ``feature`` with the trained ``threshold`` (nearest match within
0.001), so an override survives a retraining only when the same split still
exists; otherwise it is reported as not applied, never applied to a different
split silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

MATCH_TOLERANCE = 1e-3


class OverrideError(ValueError):
    """The override file is malformed; the message names the file, entry and field."""


@dataclass
class ThresholdOverride:
    tree_id: str
    new_threshold: float
    rule_id: str | None = None
    feature: str | None = None
    threshold: float | None = None
    reason: str = ""
    author: str = ""


@dataclass
class OverrideFile:
    version: str
    overrides: list[ThresholdOverride] = field(default_factory=list)

    def for_tree(self, tree_id: str) -> list[ThresholdOverride]:
        return [o for o in self.overrides if o.tree_id == tree_id]


def load_overrides(path: Path) -> OverrideFile:
    """Parse and validate the override file; a missing file means no overrides."""
    path = Path(path)
    if not path.exists():
        return OverrideFile(version="none")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise OverrideError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise OverrideError(f"{path}: expected a mapping with 'version' and 'overrides'")
    version = str(doc.get("version", "")).strip()
    if not version:
        raise OverrideError(f"{path}: field 'version' is required (bump it with every change)")
    out = OverrideFile(version=version)
    trees = doc.get("overrides") or {}
    if not isinstance(trees, dict):
        raise OverrideError(f"{path}: 'overrides' must map a tree id to a list of overrides")
    for tree_id, entries in trees.items():
        if not isinstance(entries, list):
            raise OverrideError(f"{path}: overrides.{tree_id} must be a list")
        for i, entry in enumerate(entries):
            where = f"{path}: overrides.{tree_id}[{i}]"
            if not isinstance(entry, dict):
                raise OverrideError(f"{where}: expected a mapping")
            if "new_threshold" not in entry:
                raise OverrideError(f"{where}: field 'new_threshold' is required")
            try:
                new = float(entry["new_threshold"])
                thr = float(entry["threshold"]) if entry.get("threshold") is not None else None
            except (TypeError, ValueError):
                raise OverrideError(f"{where}: 'new_threshold' and 'threshold' must be numbers") from None
            if not entry.get("rule_id") and not (entry.get("feature") and thr is not None):
                raise OverrideError(f"{where}: give either 'rule_id' or both 'feature' and 'threshold'")
            out.overrides.append(
                ThresholdOverride(
                    tree_id=str(tree_id),
                    new_threshold=new,
                    rule_id=str(entry["rule_id"]) if entry.get("rule_id") else None,
                    feature=entry.get("feature"),
                    threshold=thr,
                    reason=str(entry.get("reason", "")),
                    author=str(entry.get("author", "")),
                )
            )
    return out


def apply_overrides(rules: pd.DataFrame, overrides: list[ThresholdOverride]) -> tuple[pd.DataFrame, list[dict]]:
    """Rule table with overridden thresholds, and a record per override (applied or why not)."""
    table = rules.copy()
    table["trained_threshold"] = table["threshold"]
    table["overridden"] = False
    table["override_reason"] = ""
    applied: list[dict] = []
    for o in overrides:
        if o.rule_id:
            nodes = table.loc[table["rule_id"] == o.rule_id, "node_id"].unique()
        else:
            near = (table["feature"] == o.feature) & ((table["trained_threshold"] - float(o.threshold)).abs() <= MATCH_TOLERANCE)
            nodes = table.loc[near, "node_id"].unique()
        record = {"rule_id": o.rule_id, "feature": o.feature, "threshold": o.threshold,
                  "new_threshold": o.new_threshold, "reason": o.reason, "author": o.author}
        if len(nodes) != 1:
            record["applied"] = False
            record["why_not"] = "no such split in this tree version" if len(nodes) == 0 else "matches more than one split; use rule_id"
        else:
            mask = table["node_id"] == nodes[0]
            table.loc[mask, "threshold"] = o.new_threshold
            table.loc[mask, "overridden"] = True
            table.loc[mask, "override_reason"] = o.reason
            record.update(applied=True, node_id=int(nodes[0]), feature=str(table.loc[mask, "feature"].iloc[0]),
                          trained_threshold=float(table.loc[mask, "trained_threshold"].iloc[0]))
        applied.append(record)
    return table, applied
