"""Reader for the ASSISTments 2009 skill-builder responses (../shared/data/assist2009).

One row per response and skill: a problem tagged with several skills appears once per
skill on adjacent ``seq`` rows. ``response_id`` numbers the distinct responses, so a
multi-skill answer is scored once (counting the copies inflates AUC).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

COLUMNS = ("split", "user_id", "seq", "problem_id", "skill_id", "correct")


def read_assistments(path: Path) -> pd.DataFrame:
    """Responses in each learner's order, with ``response_id`` shared by the rows of one multi-skill answer."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: ASSISTments responses not found (expected ../shared/data/assist2009/responses.csv.gz)")
    con = duckdb.connect()
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_csv('{path}', header=true)").fetchall()]
    missing = [c for c in COLUMNS if c not in cols]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    # A new response starts when the problem changes, or when the same skill repeats within the run of one problem.
    df = con.execute(
        f"""
        with r as (
            select split, cast(user_id as varchar) as user_id, seq, cast(problem_id as varchar) as problem_id,
                   cast(skill_id as varchar) as skill_id, cast(correct as integer) as correct
            from read_csv('{path}', header=true)
            where skill_id is not null
        ), flagged as (
            select *,
                   case when lag(problem_id) over w is distinct from problem_id
                          or lag(correct) over w is distinct from correct
                          or lag(seq) over w <> seq - 1
                        then 1 else 0 end as new_response
            from r window w as (partition by user_id order by seq)
        )
        select split, user_id, seq, problem_id, skill_id, correct,
               sum(new_response) over (partition by user_id order by seq rows unbounded preceding) as response_no
        from flagged order by user_id, seq
        """
    ).df()
    df["response_id"] = df.groupby(["user_id", "response_no"], sort=False).ngroup()
    return df.drop(columns="response_no")
