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
    return frame.take(sort_order(frame, by, ascending))
