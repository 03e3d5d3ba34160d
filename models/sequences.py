"""Packed sequences: many ordered sequences stepped through together, one time step at a time.

Knowledge tracing and spaced repetition are recurrences along each learner × skill
sequence. Instead of a Python loop per sequence, the sequences are sorted by length
(longest first) and laid out time-major: at step ``k`` the active sequences are the
first ``n_k`` ones, so every step is a handful of NumPy operations on contiguous
slices. The loop runs over the longest sequence's length, not over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Packed:
    """Layout of ``n_rows`` rows grouped into ``n_groups`` ordered sequences."""

    perm: np.ndarray  # row index (in the caller's order) for each packed position
    offsets: np.ndarray  # start of step k in packed order, length max_len + 1
    active: np.ndarray  # number of active sequences at step k
    group_of_rank: np.ndarray  # caller's group id of the sequence at each rank (longest first)
    lengths: np.ndarray  # length of the sequence at each rank

    @property
    def n_groups(self) -> int:
        return len(self.group_of_rank)

    @property
    def max_len(self) -> int:
        return len(self.active)

    def step(self, k: int) -> tuple[slice, int]:
        """The packed slice of step ``k`` and the number of sequences active in it."""
        return slice(int(self.offsets[k]), int(self.offsets[k + 1])), int(self.active[k])

    def to_packed(self, values: np.ndarray) -> np.ndarray:
        return values[self.perm]

    def to_rows(self, packed_values: np.ndarray) -> np.ndarray:
        out = np.empty_like(packed_values)
        out[self.perm] = packed_values
        return out


def pack(group: np.ndarray, order: np.ndarray | None = None) -> Packed:
    """Pack rows by ``group`` (integer ids 0..G-1), ordered within each group by ``order``.

    Rows with equal order keep their input order (a stable sort).
    """
    group = np.asarray(group, dtype=np.int64)
    n = len(group)
    if n == 0:
        return Packed(np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64),
                      np.zeros(0, np.int64), np.zeros(0, np.int64))
    keys = (np.asarray(order), group) if order is not None else (group,)
    by_group = np.lexsort(keys)  # rows sorted by group, then order
    sorted_group = group[by_group]
    uniq, starts, counts = np.unique(sorted_group, return_index=True, return_counts=True)
    position = np.arange(n) - np.repeat(starts, counts)  # step of each sorted row within its group
    rank_order = np.argsort(-counts, kind="stable")  # longest first
    rank_of_group_idx = np.empty_like(rank_order)
    rank_of_group_idx[rank_order] = np.arange(len(rank_order))
    row_rank = np.repeat(rank_of_group_idx, counts)
    lengths = counts[rank_order]
    max_len = int(lengths[0])
    # active[k] = number of sequences longer than k
    active = len(lengths) - np.searchsorted(lengths[::-1], np.arange(max_len), side="right")
    offsets = np.concatenate([[0], np.cumsum(active)])
    packed_index = offsets[position] + row_rank
    perm = np.empty(n, dtype=np.int64)
    perm[packed_index] = by_group
    return Packed(perm, offsets, active.astype(np.int64), uniq[rank_order], lengths)
