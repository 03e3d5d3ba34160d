"""Frame helpers the per-learner stages share.

``sort_rows`` is ``DataFrame.sort_values`` (same order, ties kept in their order, missing values last) computed by
Arrow's multi-column sort. pandas sorts on several keys by turning each string key into a Categorical first, and
on Arrow-backed strings that factorizing was most of a sort's time: 9 of 13 s of sorting in gamification at
100,000 learners (cProfile, benchmarks/bench_pipeline.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def sort_order(frame: pd.DataFrame, by: Sequence[str] | str, ascending: Sequence[bool] | bool = True) -> np.ndarray:
    """Row positions of ``frame`` in the order ``frame.sort_values(by, ascending=ascending, kind="stable")`` gives."""
    by = [by] if isinstance(by, str) else list(by)
    ascending = [ascending] * len(by) if isinstance(ascending, bool) else list(ascending)
    if len(ascending) != len(by):
        raise ValueError(f"sort_order: {len(by)} keys but {len(ascending)} directions")
    if not len(frame):
        return np.zeros(0, dtype=np.int64)
    # from_pandas: NaN and NaT are nulls, and nulls go last in every key (pandas' na_position="last")
    table = pa.table({f"k{i}": pa.array(frame[c], from_pandas=True) for i, c in enumerate(by)})
    keys = [(f"k{i}", "ascending" if a else "descending", "at_end") for i, a in enumerate(ascending)]
    return pc.sort_indices(table, sort_keys=keys).to_numpy()


def sort_rows(frame: pd.DataFrame, by: Sequence[str] | str, ascending: Sequence[bool] | bool = True) -> pd.DataFrame:
    """``frame`` sorted like ``frame.sort_values(by, ascending=ascending, kind="stable")``, index kept."""
    return one_chunk(frame).take(sort_order(frame, by, ascending))


def one_chunk(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every Arrow-backed column in one buffer. A concat, or a Parquet file's row groups, leave a
    string column in many chunks, and taking rows from one (every sort and join does) was ~4x slower than from one
    buffer: 2.3 million reward-log strings in 18 chunks, 0.63 s against 0.14 s, where joining them costs 0.09 s."""
    chunked = {}
    for col in frame.columns:
        array = frame[col].array
        if isinstance(array, pd.arrays.ArrowStringArray):
            arrow = pa.array(array)
            if isinstance(arrow, pa.ChunkedArray) and arrow.num_chunks > 1:
                chunked[col] = pd.array(arrow.combine_chunks(), dtype=frame[col].dtype)
    if not chunked:
        return frame
    out = frame.copy(deep=False)
    for col, array in chunked.items():
        out[col] = pd.Series(array, index=frame.index)
    return out


class IdCodes:
    """Integer codes for string id columns, shared by every frame of a computation.

    Joining, grouping and sorting millions of rows on Arrow-backed strings re-takes and re-hashes the strings at each
    step (in the recommender, 8 of 19 s were pyarrow ``take``). Encoded, the same steps move integers. Each kind of
    id (``kinds`` maps a column name to its kind: module_id and from_module are both modules) gets one vocabulary,
    sorted, so codes compare and sort exactly as the strings do, and equal strings in two frames get equal codes.
    A missing value gets a code above every real one, so it sorts last, as ``sort_rows`` puts missing values; the
    columns named in ``own_missing`` each get a code of their own, so that two columns' missing values never compare
    equal, as NaN never equals NaN.
    """

    MISSING = 2**62

    def __init__(self, frames: Sequence[pd.DataFrame], kinds: dict[str, str]):
        self.kinds = kinds
        values: dict[str, list[pd.Series]] = {}
        self.dtypes: dict[str, object] = {}
        for frame in frames:
            for col in frame.columns.intersection(list(kinds)):
                values.setdefault(kinds[col], []).append(frame[col].dropna().drop_duplicates())
                self.dtypes.setdefault(col, frame[col].dtype)
        self.vocab = {kind: pd.Index(pd.concat(v, ignore_index=True).unique()).sort_values()
                      for kind, v in values.items()}

    def encode(self, frame: pd.DataFrame, own_missing: Sequence[str] = ()) -> pd.DataFrame:
        """``frame`` with each id column replaced by its codes (int64)."""
        out = frame.copy(deep=False)
        for col in frame.columns.intersection(list(self.kinds)):
            codes = self.vocab[self.kinds[col]].get_indexer(frame[col]).astype(np.int64)
            own = list(own_missing).index(col) + 1 if col in own_missing else 0
            codes[codes == -1] = self.MISSING + own
            out[col] = codes
        return out

    @classmethod
    def run(cls, compute, frames: dict[str, pd.DataFrame | None], kinds: dict[str, str], own_missing=(), **kwargs):
        """``compute(codes, **coded frames, **kwargs)`` on ``frames`` encoded (None stays None), its result's id
        columns decoded back to strings."""
        codes = cls([f for f in frames.values() if f is not None], kinds)
        out = compute(codes, **{name: None if f is None else codes.encode(f, own_missing) for name, f in frames.items()},
                      **kwargs)
        return codes.decode(out, [c for c in out.columns if c in kinds])

    def decode(self, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """``frame`` with the id columns (or ``columns``) back as strings of their first frame's dtype."""
        out = frame.copy(deep=False)
        for col in columns if columns is not None else frame.columns.intersection(list(self.kinds)):
            vocab = self.vocab.get(self.kinds[col], pd.Index([], dtype=object))
            codes = frame[col].to_numpy()
            if not len(vocab):  # no value of this kind anywhere: every row is missing
                vocab = pd.Index([""])
                codes = np.full(len(frame), len(vocab))
            known = codes < len(vocab)
            text = pd.Series(vocab.take(np.where(known, codes, 0)), index=frame.index)
            out[col] = text.where(known).astype(self.dtypes.get(col, text.dtype))
        return out


def codes_within_groups(group: np.ndarray, values: pd.Series) -> np.ndarray:
    """``pd.factorize(values)[0]`` within each group (codes 0, 1, ... in order of first appearance in the group,
    -1 for a missing value), for rows whose ``group`` ids come in contiguous runs, without a Python call per
    group (20,000 learners: 4.1 s): pairs of (group, value) coded in order of first appearance run in group order,
    so a group's codes are consecutive from its first pair's."""
    value, _ = pd.factorize(values)
    valid = value >= 0
    out = np.full(len(value), -1, dtype=np.int64)
    if valid.any():
        g = np.asarray(group, dtype=np.int64)[valid]
        pair, _ = pd.factorize(g * (int(value.max()) + 1) + value[valid])
        groups, first = np.unique(g, return_index=True)
        base = np.zeros(int(groups.max()) + 1, dtype=np.int64)
        base[groups] = pair[first]
        out[valid] = pair - base[g]
    return out
