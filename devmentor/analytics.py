"""Cohort analytics computed from the lake's ML outputs (the dbt analytics marts cover the rest)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from devmentor.sql import literal
from devmentor.storage.lake import Lake


def _copy(sql: str, src: Path, out: Path) -> pd.DataFrame:
    """Run ``sql`` over ``src`` (as view ``src``), write the result to ``out`` atomically, return it."""
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TEMP VIEW src AS SELECT * FROM read_parquet({literal(src)})")
        frame = con.execute(sql).df()
    finally:
        con.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
    tmp.replace(out)
    return frame


SKILL_MATRIX_SQL = """
SELECT course_id, skill_id, count(*) AS learners, round(avg(p_known), 4) AS mean_p_known,
       round(avg(mastered::int), 4) AS mastered_share, round(quantile_cont(p_known, 0.25), 4) AS p25_p_known,
       sum(attempts) AS attempts,
       row_number() OVER (PARTITION BY course_id ORDER BY avg(p_known), skill_id) AS weakness_rank
FROM src GROUP BY course_id, skill_id ORDER BY course_id, weakness_rank
"""

PREDICTED_OUTCOMES_SQL = """
SELECT tree_id, decision_label, decision_version, count(*) AS learners,
       round(count(*) / sum(count(*)) OVER (PARTITION BY tree_id), 4) AS share,
       round(avg(confidence), 4) AS mean_confidence
FROM src GROUP BY tree_id, decision_label, decision_version ORDER BY tree_id, learners DESC
"""


def skill_matrix(lake: Lake) -> tuple[Path, pd.DataFrame]:
    """Cohort mastery per course × skill (mean P(known), share mastered, weakest first)."""
    out = lake.lake_path / "analytics" / "skill_matrix.parquet"
    return out, _copy(SKILL_MATRIX_SQL, lake.ml_path("learning/mastery.parquet"), out)


def predicted_outcomes(lake: Lake) -> tuple[Path, pd.DataFrame]:
    """Distribution of the trees' decisions (segments, interventions) with mean confidence."""
    out = lake.lake_path / "analytics" / "predicted_outcomes.parquet"
    return out, _copy(PREDICTED_OUTCOMES_SQL, lake.ml_path("learner_decisions.parquet"), out)
