"""Feature drift (population stability index) and the retraining triggers built on it.

PSI compares the share of learners per bin of a feature between the champion's
training data (the reference, bins at its deciles plus a bin for missing values)
and today's data: sum over bins of (current - reference) × ln(current / reference).
Rule of thumb: under 0.1 stable, 0.1-0.2 moderate, over 0.2 a real shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

EPSILON = 1e-4


def reference_profile(X: pd.DataFrame, n_bins: int = 10) -> dict:
    """Per feature: bin edges at the deciles of the training data and the share of rows per bin."""
    out = {}
    for name in X.columns:
        values = pd.to_numeric(X[name], errors="coerce").astype(float).to_numpy()
        present = values[~np.isnan(values)]
        edges = np.unique(np.quantile(present, np.linspace(0, 1, n_bins + 1)[1:-1])) if len(present) else np.array([])
        out[name] = {"edges": edges.tolist(), "shares": _shares(values, edges).tolist()}
    return out


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    missing = np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1)
    counts = np.append(counts, missing.sum()).astype(float)
    return counts / max(len(values), 1)


def psi(reference: dict, values: pd.Series) -> float:
    edges = np.asarray(reference["edges"], dtype=float)
    ref = np.asarray(reference["shares"], dtype=float)
    cur = _shares(pd.to_numeric(values, errors="coerce").astype(float).to_numpy(), edges)
    ref, cur = np.clip(ref, EPSILON, None), np.clip(cur, EPSILON, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


@dataclass(frozen=True)
class RetrainPolicy:
    max_psi: float = 0.2  # DEVMENTOR_DRIFT_PSI
    new_data_share: float = 0.2  # DEVMENTOR_RETRAIN_NEW_DATA_SHARE: new events since training / events at training


def retraining_reasons(reference: dict, X: pd.DataFrame, events_now: int, policy: RetrainPolicy) -> tuple[list[str], dict]:
    """Why the tree should be retrained (empty: it should not), and the PSI per feature."""
    scores = {f: round(psi(profile, X[f]), 4) for f, profile in reference["features"].items() if f in X.columns}
    reasons = []
    drifted = {f: s for f, s in scores.items() if s > policy.max_psi}
    if drifted:
        worst = max(drifted, key=drifted.get)
        reasons.append(f"feature drift: PSI {drifted[worst]:.3f} on {worst} > {policy.max_psi} ({len(drifted)} feature(s) drifted)")
    base = max(int(reference.get("events_at_training", 0)), 1)
    share = (events_now - base) / base
    if share >= policy.new_data_share:
        reasons.append(f"new data: {events_now - base:,} events since training ({share:.0%} ≥ {policy.new_data_share:.0%})")
    return reasons, scores
