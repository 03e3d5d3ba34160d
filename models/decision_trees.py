"""The Decision Tree Manager's trees: what each predicts, from which features, with which labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from models.interventions import INTERVENTION_FEATURES, rule_based_intervention
from models.segments import SEGMENT_FEATURES, choose_labels


@dataclass(frozen=True)
class TreeSpec:
    tree_id: str
    description: str
    features: tuple[str, ...]
    # (learner frame, instructor annotations or None) -> (labels aligned to the frame, label source)
    labels: Callable[[pd.DataFrame, pd.DataFrame | None], tuple[pd.Series, str]]
    max_depth: int = 5
    min_samples_leaf: int = 10


def _intervention_labels(frame: pd.DataFrame, _annotations: pd.DataFrame | None) -> tuple[pd.Series, str]:
    return rule_based_intervention(frame), "policy_rules"


# The trees' ids: everyone (training, scoring, API, dashboard, replay) reads these names from here.
SEGMENT_TREE = "primary_classification"
INTERVENTION_TREE = "intervention_strategy"

PRIMARY = TreeSpec(
    tree_id=SEGMENT_TREE,
    description="Learner segment: Struggling Novice, Fast Tracker, Steady Progressor, Disengaging, Format Mismatch (models/segments.py).",
    features=tuple(SEGMENT_FEATURES),
    labels=choose_labels,
)
INTERVENTION = TreeSpec(
    tree_id=INTERVENTION_TREE,
    description="Next intervention: Escalate to Tutor, Re-engagement Nudge, Switch Format, Remedial Review, Raise Challenge, Continue Path (models/interventions.py).",
    features=tuple(INTERVENTION_FEATURES),
    labels=_intervention_labels,
    max_depth=5,
)
TREE_SPECS: dict[str, TreeSpec] = {t.tree_id: t for t in (PRIMARY, INTERVENTION)}
