"""ASSISTments 2009 skill-builder responses (../shared/data/assist2009): the reader and the input-contract mapping.

The file has one row per response and skill: a problem tagged with several skills appears once per
skill on adjacent ``seq`` rows. ``response_id`` numbers the distinct responses, so a multi-skill
answer is scored once (counting the copies inflates AUC), and ``to_contract`` writes it as ONE quiz
attempt whose ``skill_tag`` lists its skills (``7;9``), never as several attempts.

The release has no timestamps, only each learner's order (``seq``). ``to_contract`` synthesises them in
that order: a learner's answer number k (0-based, a multi-skill answer counted once) is placed at
``START + k minutes`` (2009-09-01T00:00Z, the start of the 2009-10 school year). Only the order within a
learner is real; learners are not ordered against each other, and intervals mean nothing (the
spaced-repetition queue and streaks on this data say nothing about real forgetting or habits).

``cut`` (a replay) keeps, of each test-split learner, only the first ``cut`` answers: the rest never
reach the inbox. The catalog (skills, problems and their skill tags) is the question bank and is written
whole, as for OULAD's calendar: it holds no answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from devmentor.sql import literal
from models.mastery_eval import response_ids

COLUMNS = ("split", "user_id", "seq", "problem_id", "skill_id", "correct")
COURSE_ID = "assist2009"
START = datetime(2009, 9, 1, tzinfo=timezone.utc)
SPACING = timedelta(minutes=1)
USER_PREFIX, PROBLEM_PREFIX = "assist-", "assist-p"


def read_assistments(path: Path) -> pd.DataFrame:
    """Responses in each learner's order, with ``response_id`` shared by the rows of one multi-skill answer."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: ASSISTments responses not found (expected ../shared/data/assist2009/responses.csv.gz)")
    con = duckdb.connect()
    src = f"read_csv({literal(path)}, header=true)"
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
    missing = [c for c in COLUMNS if c not in cols]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    # A new response starts when the problem changes, or when the same skill repeats within the run of one problem.
    df = con.execute(
        f"""
        with r as (
            select split, cast(user_id as varchar) as user_id, seq, cast(problem_id as varchar) as problem_id,
                   cast(skill_id as varchar) as skill_id, cast(correct as integer) as correct
            from {src}
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


def _skill_key(skill: pd.Series) -> pd.Series:
    """Sort key of a skill id: numeric ids in numeric order, any other text after them."""
    num = pd.to_numeric(skill, errors="coerce")
    return num.fillna(np.inf).astype(float)


def with_answers(df: pd.DataFrame) -> pd.DataFrame:
    """The rows with ``answer`` (one id per answer, one row per skill of it) and ``answer_no`` (0-based per learner)."""
    out = df.copy()
    out["answer"] = response_ids(out)
    first = out.groupby("answer", sort=False).agg(user_id=("user_id", "first"), seq=("seq", "min"))
    first["answer_no"] = first.sort_values(["user_id", "seq"]).groupby("user_id").cumcount()
    out["answer_no"] = out["answer"].map(first["answer_no"]).astype(np.int64)
    return out


def split_at_cut(df: pd.DataFrame, cut: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept rows, held-out rows): each test-split learner's answers after the first ``cut`` are held out."""
    rows = df if "answer_no" in df.columns else with_answers(df)
    if cut is None:
        return rows, rows.iloc[:0]
    if cut < 1:
        raise ValueError(f"--cut must keep at least one answer per learner, got {cut}")
    held = (rows["split"] == "test") & (rows["answer_no"] >= cut)
    return rows[~held], rows[held]


def answers(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per answer: user, first seq, answer_no, problem, outcome and its skills (';'-joined, numeric order)."""
    r = rows.assign(_k=_skill_key(rows["skill_id"])).sort_values(["answer", "_k", "skill_id"])
    a = r.groupby("answer", sort=False).agg(
        split=("split", "first"), user_id=("user_id", "first"), seq=("seq", "min"), answer_no=("answer_no", "first"),
        problem_id=("problem_id", "first"), correct=("correct", "first"), skills=("skill_id", ";".join),
        first_skill=("skill_id", "first"))
    return a.reset_index().sort_values(["user_id", "answer_no"]).reset_index(drop=True)


def module_of(skill) -> str:
    return f"{COURSE_ID}-skill-{skill}"


def catalog(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Course, one module and one practice item per skill (no prerequisites: the data has none), the question bank.

    A problem's skill tag is the skill set it was answered under most often (19 of 16,481 problems
    appear under two sets); it belongs to the module of its first skill.
    """
    skills = pd.DataFrame({"skill": rows["skill_id"].drop_duplicates()})
    skills = skills.assign(_k=_skill_key(skills["skill"])).sort_values(["_k", "skill"]).reset_index(drop=True)
    a = answers(rows)
    tagged = a.groupby(["problem_id", "skills", "first_skill"]).size().rename("n").reset_index()
    tagged = tagged.sort_values(["problem_id", "n", "skills"], ascending=[True, False, True]).drop_duplicates("problem_id")
    courses = pd.DataFrame({"course_id": [COURSE_ID], "title": ["ASSISTments 2009-2010 skill builders"],
                            "subject": ["mathematics"]})
    modules = pd.DataFrame({"module_id": skills["skill"].map(module_of), "course_id": COURSE_ID,
                            "position": np.arange(1, len(skills) + 1), "title": "Skill " + skills["skill"],
                            "prerequisites": pd.array([None] * len(skills), dtype="string")})
    content = pd.DataFrame({"content_id": f"{COURSE_ID}-practice-" + skills["skill"], "module_id": modules["module_id"],
                            "course_id": COURSE_ID, "kind": "exercise", "format": "text", "topic_id": skills["skill"],
                            "skill_tag": skills["skill"], "position": 1})
    questions = pd.DataFrame({"question_id": PROBLEM_PREFIX + tagged["problem_id"], "module_id": tagged["first_skill"].map(module_of),
                              "course_id": COURSE_ID, "topic_id": tagged["first_skill"], "skill_tag": tagged["skills"],
                              "objective_tag": "skill builder"})
    return {"courses": courses, "modules": modules, "content_items": content, "questions": questions}


def answer_times(answer_no: pd.Series) -> pd.Series:
    """The synthesised timestamp of each answer: START + answer_no minutes (only the order is real)."""
    return pd.Timestamp(START) + pd.to_timedelta(answer_no.astype(np.int64) * int(SPACING.total_seconds()), unit="s")


def events(kept: pd.DataFrame) -> pd.DataFrame:
    """One quiz_attempt per answer, its skills in ``skill_tag`` (';'-separated), in each learner's order."""
    a = answers(kept)
    return pd.DataFrame({
        "event_id": USER_PREFIX + a["user_id"] + "-" + a["seq"].astype(str),
        "user_id": USER_PREFIX + a["user_id"], "event_type": "quiz_attempt",
        "timestamp": answer_times(a["answer_no"]), "session_id": USER_PREFIX + a["user_id"] + "-skill-builder",
        "course_id": COURSE_ID, "module_id": a["first_skill"].map(module_of),
        "question_id": PROBLEM_PREFIX + a["problem_id"], "score": a["correct"].astype(float), "skill_tag": a["skills"],
    })


def as_of_of(kept: pd.DataFrame) -> datetime:
    """The replay's as-of instant: the end of the day of the last kept answer."""
    last = answer_times(pd.Series([int(kept["answer_no"].max())])).iloc[0]
    return (last.normalize() + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)).to_pydatetime()


def to_contract(path: Path, inbox: Path, cut: int | None = None, rows: pd.DataFrame | None = None) -> dict[str, int]:
    """Write the responses at ``path`` as input-contract files under ``inbox``; returns row counts.

    ``cut`` holds back each test-split learner's answers after the first ``cut`` (they never reach the
    inbox); ``rows`` (already read, e.g. altered by a test) replaces reading ``path``.
    """
    rows = with_answers(read_assistments(path) if rows is None else rows)
    kept, _ = split_at_cut(rows, cut)
    users = kept["user_id"].drop_duplicates().sort_values()
    frames = {
        "profiles": pd.DataFrame({"user_id": USER_PREFIX + users, "timezone": "UTC"}),
        **catalog(rows),
        "enrolments": pd.DataFrame({"user_id": USER_PREFIX + users, "course_id": COURSE_ID,
                                    "enrolled_at": pd.Timestamp(START)}),
        "events": events(kept),
    }
    folders = {"courses": "catalog/courses", "modules": "catalog/modules", "content_items": "catalog/content_items",
               "questions": "catalog/questions"}
    counts = {}
    for name, frame in frames.items():
        target = Path(inbox) / folders.get(name, name) / f"assistments_{name}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(target, index=False)
        counts[name] = len(frame)
    return counts
