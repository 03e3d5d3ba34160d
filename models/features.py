"""The numeric feature matrix the trees use (no scikit-learn import: the dashboard's drift view uses it too)."""

from __future__ import annotations

import pandas as pd

from models.segments import SEGMENT_FEATURES

LEVEL_ORDINAL = {"basic": 0, "intermediate": 1, "advanced": 2}


def feature_matrix(frame: pd.DataFrame, features: list[str] | None = None) -> pd.DataFrame:
    """Numeric feature matrix in a fixed column order; unknown categories and gaps become NaN."""
    features = features or SEGMENT_FEATURES
    out = pd.DataFrame(index=frame.index)
    for name in features:
        if name == "learner_level_ordinal":
            out[name] = frame["learner_level"].map(LEVEL_ORDINAL).astype(float)
        elif name == "format_performance_mismatch":
            out[name] = frame[name].astype(float)
        elif name not in frame.columns:  # e.g. the early-warning inputs for a learner in no course with a calendar
            out[name] = float("nan")
        else:
            out[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    return out
