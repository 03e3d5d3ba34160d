"""Learner shards: a stable split of learners into N parts, so a per-learner stage can run as one step per
shard (spread by Dagster's multiprocess, Celery or Kubernetes executor) and the parts combine into one
output equal to the unsharded one (devmentor/training/scoring.py: ``score_learners(shard=, shards=)`` and
``combine``; the Dagster fan-out: ``assets/training.py::sharded_learner_decisions_scored``, chosen by
``DEVMENTOR_SHARDS``).

The shard of a learner is the first 8 bytes of SHA-256 of its id, as an unsigned integer, modulo the shard
count: the same on every machine, process and Python version (unlike ``hash()``), and independent of which
other learners exist, so a learner stays in its shard as data grows.
"""

from __future__ import annotations

import hashlib

import numpy as np


def shard_of(user_ids, shards: int) -> np.ndarray:
    """The shard (0 .. shards-1) of each learner id."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    ids = [str(u) for u in user_ids]
    if shards == 1:
        return np.zeros(len(ids), dtype=np.int64)
    return np.array([int.from_bytes(hashlib.sha256(u.encode()).digest()[:8], "big") % shards for u in ids],
                    dtype=np.int64)


def in_shard(user_ids, shard: int, shards: int) -> np.ndarray:
    """Boolean mask: which of ``user_ids`` belong to ``shard`` of ``shards``."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    return shard_of(user_ids, shards) == shard


def shard_sql(shard: int, shards: int, column: str = "user_id") -> str:
    """A DuckDB predicate true for the rows whose learner (``column``) is in ``shard`` of ``shards``: the same
    hash as ``shard_of`` (first 8 bytes of SHA-256, modulo the count), so a shard reads only its learners."""
    if shards == 1:
        return "TRUE"
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    return (f"((('0x' || substr(sha256(CAST({column} AS VARCHAR)), 1, 16))::UBIGINT % {int(shards)}) "
            f"= {int(shard)})")


def shard_rows(frame, shard: int, shards: int, column: str = "user_id"):
    """The rows of ``frame`` whose learner (``column``) is in ``shard`` of ``shards``; the frame itself for one
    shard. Hashes each distinct id once, so a frame of millions of rows costs its learners, not its rows."""
    if shards == 1:
        return frame
    ids = frame[column].dropna().unique()
    keep = set(ids[in_shard(ids, shard, shards)].tolist())
    return frame[frame[column].isin(keep)]
