"""Offline recommendation quality on generated data: the engine beats popularity on held-out next views."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


@pytest.mark.e2e
@pytest.mark.benchmark  # a quality benchmark (about 16 s); `python benchmarks/bench_recommendations.py` prints it too
def test_engine_beats_popularity_on_the_held_out_day(tmp_path):
    from bench_recommendations import offline_evaluation

    r = offline_evaluation(tmp_path, learners=400, days=12)
    assert r["held_out_learners"] > 100
    engine, pop, own = r["engine"], r["popularity_global"], r["popularity_in_own_courses"]
    assert engine["hit_rate@10"] > max(pop["hit_rate@10"], own["hit_rate@10"]) + 0.1, r
    assert engine["ndcg@10"] > max(pop["ndcg@10"], own["ndcg@10"]), r
