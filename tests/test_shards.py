"""Learner shards: a stable split of learners, and per-shard scoring whose combined result
equals the unsharded one (real DuckDB marts and real MLflow champions of the shared pipeline run)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from devmentor.shards import in_shard, shard_of, shard_sql


def test_the_shard_of_a_learner_is_stable_and_the_shards_are_balanced():
    # SHA-256 of the id, first 8 bytes, modulo the count: the same on every machine, process and run
    import hashlib

    expected = [int.from_bytes(hashlib.sha256(u.encode()).digest()[:8], "big") % 4 for u in ("u000000", "learner-42")]
    assert shard_of(["u000000", "learner-42"], 4).tolist() == expected
    ids = [f"u{i:06d}" for i in range(20_000)]
    counts = np.bincount(shard_of(ids, 4), minlength=4)
    assert counts.min() > 0.95 * len(ids) / 4 and counts.max() < 1.05 * len(ids) / 4, counts
    # a learner's shard does not depend on which other learners exist
    assert shard_of(ids[:10], 4).tolist() == shard_of(ids, 4)[:10].tolist()
    masks = [in_shard(ids, s, 4) for s in range(4)]
    assert (np.sum(masks, axis=0) == 1).all()  # every learner in exactly one shard
    assert (shard_of(ids, 1) == 0).all()
    with pytest.raises(ValueError, match="shard 4 is not in 0..3"):
        in_shard(ids, 4, 4)
    # the warehouse reads a shard's rows with the same hash, in SQL
    import duckdb

    con = duckdb.connect()
    for shards in (4, 7):
        got = con.execute(f"SELECT list(id ORDER BY id) FROM unnest(?) AS t(id) WHERE {shard_sql(2, shards, 'id')}",
                          [ids]).fetchone()[0]
        assert got == sorted(np.array(ids)[shard_of(ids, shards) == 2].tolist()) and len(got) > 0
    assert shard_sql(0, 1) == "TRUE"


def test_four_scored_shards_combine_into_the_unsharded_decisions(pipeline_run):
    from devmentor.training.scoring import combine, score_learners

    settings = pipeline_run[0]
    lake, warehouse, mlflow = settings.lake_store(), settings.warehouse(), settings.mlflow_store()
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    whole = score_learners(warehouse, mlflow, settings.threshold_overrides, lake, decided_at=at)
    parts = [score_learners(warehouse, mlflow, settings.threshold_overrides, lake, shard=s, shards=4, decided_at=at)
             for s in range(4)]
    assert all(p.learners > 0 for p in parts) and sum(p.learners for p in parts) == whole.learners
    joined = combine(parts)
    random = ["trace_id"]  # a fresh id per decision row, by design
    key = ["tree_id", "user_id"]
    a = whole.table.drop(random).to_pandas().sort_values(key).reset_index(drop=True)
    b = joined.table.drop(random).to_pandas().sort_values(key).reset_index(drop=True)
    assert len(a) == len(b) > 0
    assert a.equals(b)
    assert (joined.learners, joined.not_decided, joined.versions, joined.label_counts) == (
        whole.learners, whole.not_decided, whole.versions, whole.label_counts)
    assert joined.snapshots == whole.snapshots


# Columns that order a learner's rows in each per-learner table (the sharded and unsharded outputs are compared
# in this order; a table's rows within a learner keep their order).
ORDER = ("user_id", "course_id", "module_id", "skill_id", "rank", "position", "priority", "content_id", "badge_id",
         "challenge_id", "scope", "period", "event_id", "rule", "awarded_at")


def _ordered(frame):
    cols = [c for c in ORDER if c in frame.columns]
    return frame.sort_values(cols, kind="stable").reset_index(drop=True)


def test_four_engine_and_gamification_shards_combine_into_the_unsharded_outputs(pipeline_run, tmp_path):
    """Mastery, review queue, paths, recommendations, quizzes, XP, badges, streaks, challenges and the
    leaderboards (ranked over every shard) of 4 shards equal one run over everyone, table by table."""
    import pandas as pd

    from devmentor.learning.engine import combine_engine, run_engine
    from devmentor.learning.gamification import combine_gamification, run_gamification
    from devmentor.learning.mastery_model import load_params

    settings = pipeline_run[0]
    params, version = load_params(settings.lake_store())
    with settings.warehouse().connect() as con:
        whole = run_engine(con, params, version, tmp_path / "state", as_of=settings.as_of)
        parts = [run_engine(con, params, version, tmp_path / "state", as_of=settings.as_of, shard=s, shards=4)
                 for s in range(4)]
        joined = combine_engine(parts)
        mastery = whole.mastery[["user_id", "skill_id", "mastered"]]
        game_whole = run_gamification(con, mastery, tmp_path / "one" / "ledger.parquet", as_of=settings.as_of)
        game_parts = [run_gamification(con, mastery, tmp_path / "four" / "ledger.parquet", as_of=settings.as_of,
                                       shard=s, shards=4) for s in range(4)]
    # each shard keeps its own mastery state beside the unsharded one
    assert {p.name for p in tmp_path.glob("state-*") if not p.name.endswith(".sets")} == {
        f"state-shard_{s}_of_4" for s in range(4)}
    assert not (tmp_path / "four" / "ledger.parquet").exists()  # only the combine step writes the ledger
    game_joined = combine_gamification(game_parts, tmp_path / "four" / "ledger.parquet")
    for name, table in whole.tables().items():
        assert len(table) > 0, name
        assert all(len(getattr(p, name)) < len(table) for p in parts), name  # each shard has only its learners
        pd.testing.assert_frame_equal(_ordered(joined.tables()[name]), _ordered(table), obj=name)
    for name, table in game_whole.tables().items():
        assert len(table) > 0, name
        pd.testing.assert_frame_equal(_ordered(game_joined.tables()[name]), _ordered(table), obj=name)
    # a leaderboard ranks over everyone: its positions run 1..n on each board, not per shard
    boards = game_joined.leaderboards.groupby(["scope", "period"])["position"]
    assert (boards.max() == boards.size()).all() and boards.size().max() > max(
        len(p.leaderboards.query("scope == 'overall' and period == 'all_time'")) for p in game_parts)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "four" / "ledger.parquet").pipe(_ordered),
                                  pd.read_parquet(tmp_path / "one" / "ledger.parquet").pipe(_ordered))
