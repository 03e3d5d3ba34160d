"""Chat search over the warehouse's full-text index (intermediate.int_chat_search_terms), ranked with BM25.

DuckDB's own fts extension cannot be loaded offline for DuckDB 2.0, so the index is a dbt model and the
ranking is the same Okapi BM25 formula the extension uses (k1 = 1.2, b = 0.75).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd

K1 = 1.2
B = 0.75
MACRO_FILE = Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "search_terms.sql"


def _terms_expression() -> str:
    """The dbt macro's tokenizer, so the query is tokenized exactly as the index was."""
    text = MACRO_FILE.read_text()
    match = re.search(r"macro default__search_terms\(text_expr\) -%\}\s*(.*?)\s*\{%- endmacro", text, re.S)
    if not match:
        raise RuntimeError(f"cannot find the search_terms macro in {MACRO_FILE}")
    return match.group(1).replace("{{ text_expr }}", "?")


def search(warehouse: Path, query: str, learner: str | None = None, limit: int = 10) -> pd.DataFrame:
    """Messages ranked by BM25 relevance to ``query`` (optionally one learner's), best first."""
    if not query.strip():
        raise ValueError("the search query is empty")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        terms = con.execute(f"SELECT {_terms_expression()}", [query]).fetchone()[0]
        if not terms:
            return pd.DataFrame(columns=["score", "message_id", "user_id", "sent_at", "message_direction", "message_text"])
        learner_filter = "AND m.user_id = ?" if learner else ""
        params = [terms] + ([learner] if learner else []) + [limit]
        return con.execute(
            f"""
            WITH q AS (SELECT DISTINCT unnest(?::VARCHAR[]) AS term),
            stats AS (SELECT count(*) AS n, avg(doc_len) AS avgdl FROM (SELECT message_id, any_value(doc_len) AS doc_len FROM intermediate.int_chat_search_terms GROUP BY message_id)),
            df AS (SELECT term, count(*) AS df FROM intermediate.int_chat_search_terms WHERE term IN (SELECT term FROM q) GROUP BY term),
            scored AS (
                SELECT t.message_id,
                       sum(ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5)) * (t.tf * ({K1} + 1))
                           / (t.tf + {K1} * (1 - {B} + {B} * t.doc_len / s.avgdl))) AS score
                FROM intermediate.int_chat_search_terms AS t
                JOIN df USING (term)
                CROSS JOIN stats AS s
                GROUP BY t.message_id
            )
            SELECT round(sc.score, 4) AS score, m.message_id, m.user_id, m.sent_at, m.message_direction, m.message_text
            FROM scored AS sc
            JOIN staging.stg_devmentor__chat_messages AS m USING (message_id)
            WHERE true {learner_filter}
            ORDER BY sc.score DESC, m.sent_at DESC, m.message_id
            LIMIT ?
            """,
            params,
        ).df()
    finally:
        con.close()
