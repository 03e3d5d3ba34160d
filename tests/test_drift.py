"""PSI and retraining triggers."""

import numpy as np
import pandas as pd

from models.drift import RetrainPolicy, psi, reference_profile, retraining_reasons


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(0, 1, 5000), "y": rng.random(5000)})
    ref = reference_profile(train)
    same = pd.Series(rng.normal(0, 1, 5000))
    shifted = pd.Series(rng.normal(0.8, 1, 5000))
    assert psi(ref["x"], same) < 0.02
    assert psi(ref["x"], shifted) > 0.2
    # Missing values are a bin of their own: a feature going missing is drift too.
    gone = pd.Series([np.nan] * 2500 + list(rng.normal(0, 1, 2500)))
    assert psi(ref["x"], gone) > 0.2


def test_retraining_reasons_for_drift_and_for_new_data():
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"x": rng.normal(0, 1, 3000)})
    reference = {"features": reference_profile(train), "events_at_training": 100_000}
    policy = RetrainPolicy(max_psi=0.2, new_data_share=0.2)
    reasons, scores = retraining_reasons(reference, pd.DataFrame({"x": rng.normal(0, 1, 3000)}), 110_000, policy)
    assert reasons == [] and scores["x"] < 0.05
    reasons, _ = retraining_reasons(reference, pd.DataFrame({"x": rng.normal(1, 1, 3000)}), 110_000, policy)
    assert len(reasons) == 1 and reasons[0].startswith("feature drift: PSI") and "on x" in reasons[0]
    reasons, _ = retraining_reasons(reference, pd.DataFrame({"x": rng.normal(0, 1, 3000)}), 125_000, policy)
    assert reasons == ["new data: 25,000 events since training (25% ≥ 20%)"]
