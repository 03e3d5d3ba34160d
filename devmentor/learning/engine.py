"""The learning engine's data plumbing: load attempts and catalog from the warehouse, run the models, keep state.

Plain functions (no Dagster) so benchmarks and notebooks call the same code as the assets.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from devmentor.shards import shard_sql
from devmentor.storage.lake import replace_directory
from devmentor.storage.warehouse import query_frame
from models import calibration, learning_path, mastery, quiz, recommender, spaced_repetition

# The learner-time and learning-feature logic lives in dbt (models/marts/learning/): time zones are resolved
# once in staging, local days are computed there; Python only selects, at the run's as-of.
LEARNER_CLOCK_SQL = "SELECT user_id, timezone, excluded FROM marts.dim_learner_clock"

ATTEMPT_COLUMNS = ("user_id, event_id, event_at, question_id, skill_id, topic_id, module_id, course_id, is_correct, "
                   "hint_used, retries, confidence")


def load_attempts(con: duckdb.DuckDBPyConnection, local_dates: bool = False, learners: str = "TRUE") -> pd.DataFrame:
    """Every usable quiz attempt (marts.fct_learning_attempts) in learner and time order; with ``local_dates``,
    the learner's local day too; ``learners``: a SQL predicate on user_id (a shard's, devmentor/shards.py)."""
    columns = ATTEMPT_COLUMNS + (", local_date" if local_dates else "")
    df = query_frame(con, f"SELECT {columns} FROM marts.fct_learning_attempts WHERE {learners} "
                     "ORDER BY user_id, event_at, event_id")
    df["is_correct"] = df["is_correct"].astype(bool)
    return split_skills(df)


def split_skills(frame: pd.DataFrame, column: str = "skill_id", key: str = "event_id") -> pd.DataFrame:
    """One row per skill of a row whose skill tag lists several (``7;9``, the contract's list separator).

    A multi-skill answer stays ONE attempt: its rows share ``key`` (the event), are adjacent, and the
    mastery trace treats them as one answer (``response_of``); a skill listed twice is kept once.
    """
    tags = frame[column].astype("string")
    if not tags.str.contains(";", regex=False).fillna(False).any():
        return frame
    out = frame.assign(**{column: tags.str.split(";")}).explode(column)
    out[column] = out[column].str.strip()
    out = out[out[column].notna() & (out[column] != "")]
    return out.drop_duplicates([key, column]).reset_index(drop=True).astype({column: object})


def response_of(attempts: pd.DataFrame) -> np.ndarray:
    """The answer each attempt row belongs to (its event), as integers for ``mastery.trace``."""
    return pd.factorize(attempts["event_id"])[0].astype(np.int64)


@dataclass
class Catalog:
    modules: pd.DataFrame
    questions: pd.DataFrame
    content: pd.DataFrame
    module_skills: pd.DataFrame
    enrolments: pd.DataFrame
    profiles: pd.DataFrame

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, learners: str = "TRUE") -> Catalog:
        """The catalog, with the enrolments and profiles of the learners ``learners`` (a SQL predicate) selects."""
        modules = query_frame(con,
            """SELECT module_id, course_id, module_position AS position, array_to_string(prerequisite_module_ids, ';') AS prerequisites
               FROM marts.dim_modules""")
        questions = query_frame(con,
            "SELECT question_id, module_id, course_id, topic_id, skill_tag AS skill_id, difficulty FROM marts.dim_questions")
        # A module teaches its content's skills and its questions' first skill; a multi-skill question
        # ('7;9') is one row per skill here (it tests each), so mastery covers every tagged skill.
        primary = questions.assign(skill_id=questions["skill_id"].astype("string").str.split(";").str[0].str.strip())
        questions = split_skills(questions, key="question_id")
        content = query_frame(con,
            """SELECT content_id, module_id, course_id, topic_id, skill_tag AS skill_id, format, difficulty, content_position AS position
               FROM marts.dim_content_items""")
        module_skills = pd.concat([primary[["module_id", "skill_id"]], content[["module_id", "skill_id"]]]).drop_duplicates()
        module_skills = module_skills.astype({"skill_id": object})
        # in a stated order: a DISTINCT comes back in hash order, which varied between runs, and so did the rows'
        # order and, for a skill two of a learner's courses teach, which course its mastery row named
        enrolments = query_frame(con,
            f"SELECT DISTINCT user_id, course_id FROM marts.fct_learner_enrolments WHERE NOT is_withdrawn AND {learners} "
            "ORDER BY user_id, course_id")
        profiles = query_frame(con, f"SELECT user_id, format_preference FROM marts.dim_learner WHERE {learners} "
                               "ORDER BY user_id")
        return cls(modules, questions, content, module_skills, enrolments, profiles)


def data_as_of(con: duckdb.DuckDBPyConnection, as_of=None) -> pd.Timestamp:
    """The run's 'now': the stated as-of instant (settings.as_of: a replay or partition day), else the instant the
    marts were built as of (the latest event; reviews are due relative to the data, never the wall clock)."""
    if as_of is None:
        row = con.execute("SELECT as_of_at FROM marts.dim_as_of").fetchone()
        as_of = row[0] if row else None
        if as_of is None or _utc(as_of) == pd.Timestamp(0, tz="UTC"):  # dim_as_of says 1970 when there are no events
            raise ValueError("no events in the warehouse (marts.dim_as_of): ingest data and build the marts before "
                             "running the learning engine")
    return _utc(as_of)


def _utc(value) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")


# ---------------------------------------------------------------------------------------------- trace state


@dataclass
class MasteryState:
    """The incremental path's state: the trace after every attempt up to ``watermark``."""

    params_version: str
    users: list[str]
    trace: mastery.TraceState
    last_attempt_at: np.ndarray  # per learner × skill, microseconds (0 = never)
    watermark: str | None
    attempts_through_watermark: int
    meta: dict = field(default_factory=dict)

    def save(self, folder: Path) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        t = self.trace
        n, s = t.p_next.shape
        li, si = np.nonzero(t.attempts > 0)
        cells = pa.table({"learner": li, "skill": si, "p_next": t.p_next[li, si], "p_known": t.p_known[li, si],
                          "attempts": t.attempts[li, si], "last_attempt_us": self.last_attempt_at[li, si]})
        learners = pa.table({"user_id": self.users, "resid_sum": t.resid_sum, "resid_n": t.resid_n})
        meta = {"params_version": self.params_version, "n_skills": s, "watermark": self.watermark,
                "attempts_through_watermark": self.attempts_through_watermark, **self.meta}

        def fill(new: Path) -> None:
            pq.write_table(cells, new / "cells.parquet")
            pq.write_table(learners, new / "learners.parquet")
            (new / "state.json").write_text(json.dumps(meta))

        # All three files switch together (one rename): a crash mid-save leaves the previous state whole.
        replace_directory(folder, fill)

    @classmethod
    def load(cls, folder: Path) -> MasteryState | None:
        if not (folder / "state.json").exists():
            return None
        meta = json.loads((folder / "state.json").read_text())
        learners = pq.read_table(folder / "learners.parquet").to_pandas()
        cells = pq.read_table(folder / "cells.parquet").to_pandas()
        n, s = len(learners), int(meta["n_skills"])
        t = mastery.TraceState.empty(n, s)
        t.resid_sum[:] = learners["resid_sum"].to_numpy()
        t.resid_n[:] = learners["resid_n"].to_numpy()
        li, si = cells["learner"].to_numpy(), cells["skill"].to_numpy()
        t.p_next[li, si] = cells["p_next"].to_numpy()
        t.p_known[li, si] = cells["p_known"].to_numpy()
        t.attempts[li, si] = cells["attempts"].to_numpy()
        last = np.zeros((n, s), np.int64)
        last[li, si] = cells["last_attempt_us"].to_numpy()
        return cls(meta["params_version"], learners["user_id"].tolist(), t, last, meta["watermark"],
                   int(meta["attempts_through_watermark"]))


def _micros(ts: pd.Series) -> np.ndarray:
    return pd.to_datetime(ts, utc=True).astype("datetime64[us, UTC]").astype("int64").to_numpy()


def trace_mastery(params: mastery.BKTParams, params_version: str, attempts: pd.DataFrame,
                  previous: MasteryState | None, attempts_through_previous_watermark: int | None) -> tuple[MasteryState, str]:
    """Continue the trace from ``previous`` when only newer attempts arrived; otherwise trace everything.

    ``attempts`` are the rows to trace: all attempts (full) or, when ``previous`` is usable, only
    those after its watermark. Returns the new state and the mode used ('incremental' or 'full').
    """
    p = params.with_default()
    usable = (
        previous is not None
        and previous.params_version == params_version
        and previous.trace.p_next.shape[1] == len(p.skills)
        and attempts_through_previous_watermark == previous.attempts_through_watermark
    )
    users = list(previous.users) if usable else []
    index = {u: i for i, u in enumerate(users)}
    for u in pd.unique(attempts["user_id"]):
        if u not in index:
            index[u] = len(users)
            users.append(u)
    learner = attempts["user_id"].map(index).to_numpy(dtype=np.int64)
    sidx = p.index(attempts["skill_id"].to_numpy())
    sidx = np.where(sidx < 0, len(p.skills) - 1, sidx)
    iidx = p.item_index(attempts["question_id"].to_numpy())
    times = _micros(attempts["event_at"])
    order = np.lexsort((np.arange(len(attempts)), times))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    _, state = mastery.trace(p, learner, sidx, attempts["is_correct"].to_numpy(), rank, iidx,
                             start=previous.trace if usable else None, n_learners=len(users),
                             response=response_of(attempts))
    last = previous.last_attempt_at if usable else np.zeros((0, len(p.skills)), np.int64)
    if last.shape[0] < len(users):
        last = np.vstack([last, np.zeros((len(users) - last.shape[0], len(p.skills)), np.int64)])
    np.maximum.at(last, (learner, sidx), times)
    before = previous.attempts_through_watermark if usable else 0
    watermark = attempts["event_at"].max() if len(attempts) else (previous.watermark if usable else None)
    new_state = MasteryState(params_version, users, state, last,
                             None if watermark is None else pd.Timestamp(watermark).isoformat(), before + len(attempts))
    return new_state, "incremental" if usable else "full"


def mastery_table(params: mastery.BKTParams, state: MasteryState, catalog: Catalog,
                  answers: pd.Series | None = None) -> pd.DataFrame:
    """One row per enrolled learner × skill of their courses (unattempted skills at the individual prior);
    ``answers``: each learner's answers so far (by user_id; the calibration reads it, none: 0)."""
    p = params.with_default()
    current = mastery.current_mastery(p, state.trace)
    skills_of_course = pd.concat([catalog.questions[["course_id", "skill_id"]], catalog.content[["course_id", "skill_id"]]]).drop_duplicates()
    grid = catalog.enrolments.merge(skills_of_course, on="course_id")
    grid = grid.drop_duplicates(["user_id", "skill_id"])
    li = grid["user_id"].map({u: i for i, u in enumerate(state.users)})
    si = pd.Series(p.index(grid["skill_id"].to_numpy()), index=grid.index)
    si = si.where(si >= 0, len(p.skills) - 1)
    has = li.notna().to_numpy()
    l_arr = li.fillna(0).astype(int).to_numpy()
    s_arr = si.to_numpy()
    prior_new = mastery.individual_prior(p, s_arr, np.zeros(len(grid)), np.zeros(len(grid)))
    p_known = np.where(has, current[l_arr, s_arr], prior_new)
    p_next = np.where(has, state.trace.p_next[l_arr, s_arr], np.nan)
    p_next = np.where(np.isnan(p_next), p_known, p_next)
    attempts = np.where(has, state.trace.attempts[l_arr, s_arr], 0)
    last_us = np.where(has, state.last_attempt_at[l_arr, s_arr], 0)
    out = grid[["user_id", "skill_id", "course_id"]].copy()
    out["p_known"] = np.round(p_known, 4)
    out["skill_score"] = mastery.skill_score(p_known)
    out["mastered"] = mastery.is_mastered(p_known, attempts)
    out["attempts"] = attempts.astype(np.int32)
    raw = p_next * (1 - p.slip[s_arr]) + (1 - p_next) * p.guess[s_arr]
    # the learner's next answer on the skill (any question), calibrated: first answers apart from practised skills
    so_far = grid["user_id"].map(answers).fillna(0).to_numpy() if answers is not None else np.zeros(len(grid))
    # the learner's weakest course skills as the quiz ranks them (rounded P(known)); a skill the model does not know
    # is never among them (the fit's cuts rank known skills only)
    known = si.to_numpy() < len(p.skills) - 1
    weak = np.zeros(len(out), dtype=bool)
    weak[known] = calibration.weakest(out["user_id"].to_numpy()[known], out["skill_id"].to_numpy()[known],
                                      out["p_known"].to_numpy()[known], out["mastered"].to_numpy()[known],
                                      (p.calibration or {}).get("weakest", calibration.WEAKEST))
    out["predicted_success"] = np.round(calibration.apply(p.calibration, raw, attempts == 0, so_far,
                                                          out["skill_id"].to_numpy(), weak), 4)
    out["p_next"] = np.round(p_next, 4)  # P(known) at the next attempt (after learning/forgetting); lake only
    out["last_attempt_at"] = pd.to_datetime(pd.Series(last_us, index=out.index).where(last_us > 0), unit="us", utc=True)
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- FSRS


def _replay(attempts: pd.DataFrame, cfg: spaced_repetition.FSRSConfig):
    group = attempts.groupby(["user_id", "skill_id"], sort=False).ngroup().to_numpy()
    rating = spaced_repetition.ratings(attempts["is_correct"], attempts["hint_used"], attempts["retries"], attempts["confidence"])
    return group, spaced_repetition.replay(group, _micros(attempts["event_at"]), rating, cfg)


def reviews_on_time(attempts: pd.DataFrame) -> np.ndarray:
    """Per attempt: was it a review done within a day of its FSRS due time?"""
    _, state = _replay(attempts, spaced_repetition.FSRSConfig())
    return spaced_repetition.on_time(_micros(attempts["event_at"]), state.due_before_us, state.last_before_us)


def memory_cards(attempts: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """FSRS state per learner × skill from every attempt, with retrievability at ``as_of``."""
    cfg = spaced_repetition.FSRSConfig()
    keys = attempts[["user_id", "skill_id"]]
    group, state = _replay(attempts, cfg)
    first = keys.assign(g=group).drop_duplicates("g").sort_values("g")
    now_us = int(as_of.value // 1000)
    return pd.DataFrame({
        "user_id": first["user_id"].to_numpy(), "skill_id": first["skill_id"].to_numpy(),
        "stability_days": np.round(state.stability, 4), "difficulty": np.round(state.difficulty, 4),
        "due_at": pd.to_datetime(state.due_us, unit="us", utc=True),
        "retrievability": np.round(spaced_repetition.retrievability(cfg, state.stability, state.last_review_us, now_us), 4),
        "reviews": state.reviews.astype(np.int32),
    })


# ---------------------------------------------------------------------------------------------- everything


# The recommender's inputs, each from its mart, as of the run's instant (marts/learning/).
MODULE_HISTORY_SQL = """
SELECT user_id, module_id, max(visited_at) AS last_at FROM marts.fct_module_visits
WHERE visited_at <= ? AND {learners} GROUP BY user_id, module_id
"""
# Every learner's consecutive module changes (the order learners really move through modules in).
MODULE_MOVES_SQL = """
SELECT from_module, module_id, count(*) AS moves FROM marts.fct_module_visits
WHERE visited_at <= ? AND from_module IS NOT NULL AND from_module <> module_id GROUP BY from_module, module_id
"""
CURRENT_MODULE_SQL = """
SELECT user_id, module_id, 1.0 / row_number() OVER (PARTITION BY user_id ORDER BY last_at DESC, module_id) AS recency
FROM (SELECT user_id, arg_max(module_id, visited_at) AS module_id, max(visited_at) AS last_at
      FROM marts.fct_module_visits WHERE visited_at <= ? AND {learners} GROUP BY user_id, course_id)
"""
# Modules by the learners active in them in the 30 days before the as-of (any activity: views, answers).
MODULE_POPULARITY_SQL = """
SELECT module_id, count(DISTINCT user_id) AS learners FROM marts.fct_module_visits
WHERE visited_at > ? - INTERVAL 30 DAY AND visited_at <= ? GROUP BY module_id
"""
# Answers per topic and skill (a multi-skill answer counts on each of its skills), for topic difficulty.
TOPIC_ANSWERS_SQL = """
SELECT topic_id, skill_id, count(*) AS answers, sum(CAST(is_correct AS INTEGER)) AS correct
FROM (SELECT DISTINCT event_id, topic_id, trim(s.skill) AS skill_id, is_correct
      FROM marts.fct_learning_attempts, unnest(string_split(CAST(skill_id AS VARCHAR), ';')) AS s(skill))
WHERE skill_id <> '' GROUP BY topic_id, skill_id
"""
POPULARITY_SQL = """
SELECT content_id, count(*) AS views FROM marts.fct_content_views
WHERE viewed_at > ? - INTERVAL 30 DAY AND viewed_at <= ? GROUP BY content_id
"""


def recommendations_for(con, catalog: Catalog, paths, mastery_rows, queue, as_of, k: int,
                        shard: int = 0, shards: int = 1) -> pd.DataFrame:
    """The recommender's inputs from the warehouse (format performance, recent popularity, where each learner
    works, the module moves learners make, the modules learners are active in), then ``recommender.recommend``.
    Content and module popularity, module moves and topic difficulty are over all learners; the rest is read
    for the learner shard only."""
    mine = shard_sql(shard, shards)
    fmt_perf = query_frame(
        con, f"SELECT user_id, format, attempts, accuracy FROM marts.fct_learner_format_accuracy WHERE {mine}")
    popularity = query_frame(con, POPULARITY_SQL, [as_of, as_of])
    current = query_frame(con, CURRENT_MODULE_SQL.format(learners=mine), [as_of])
    history = recommender.module_history(query_frame(con, MODULE_HISTORY_SQL.format(learners=mine), [as_of]))
    transitions = recommender.module_history_transitions(query_frame(con, MODULE_MOVES_SQL, [as_of]))
    return recommender.recommend(
        paths, catalog.content, mastery_rows, queue, recommender.format_fit(catalog.profiles, fmt_perf),
        recommender.difficulty_from_counts(query_frame(con, TOPIC_ANSWERS_SQL)), popularity, current, k=k,
        history=history, transitions=transitions,
        module_popularity=query_frame(con, MODULE_POPULARITY_SQL, [as_of, as_of]))


@dataclass
class EngineOutputs:
    mastery: pd.DataFrame
    review_queue: pd.DataFrame
    learning_path: pd.DataFrame
    recommendations: pd.DataFrame
    next_quiz: pd.DataFrame
    timings: dict
    mode: str

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"mastery": self.mastery, "review_queue": self.review_queue, "learning_path": self.learning_path,
                "recommendations": self.recommendations, "next_quiz": self.next_quiz}


def run_engine(
    con: duckdb.DuckDBPyConnection,
    params: mastery.BKTParams,
    params_version: str,
    state_dir: Path,
    review_daily_limit: int = 20,
    quiz_size: int = 5,
    quiz_no_repeat_days: int = 7,
    recommendations: int = 10,
    progress=lambda msg: None,
    as_of=None,
    shard: int = 0,
    shards: int = 1,
) -> EngineOutputs:
    """Every per-learner output at the run's as-of. With ``shards`` > 1, only the learners of ``shard``
    (devmentor/shards.py), with their own mastery state; ``combine_engine`` joins the shards' outputs into the
    unsharded ones."""
    timings = {}
    t = time.perf_counter()
    catalog = Catalog.load(con, shard_sql(shard, shards))
    as_of = data_as_of(con, as_of)
    attempts = load_attempts(con, learners=shard_sql(shard, shards))
    if shards > 1:
        state_dir = Path(state_dir).with_name(f"{Path(state_dir).name}-shard_{shard}_of_{shards}")
    timings["load"] = time.perf_counter() - t

    t = time.perf_counter()
    previous = MasteryState.load(state_dir)
    mode = "full"
    if previous is not None and previous.watermark is not None:
        newer_mask = attempts["event_at"] > pd.Timestamp(previous.watermark)
        through = int((~newer_mask).sum())  # attempts at or before the watermark, as loaded above
        state, mode = trace_mastery(params, params_version, attempts[newer_mask], previous, through)
        if mode == "full":  # late or changed history, or new parameters: trace everything again
            state, mode = trace_mastery(params, params_version, attempts, None, None)
    else:
        state, mode = trace_mastery(params, params_version, attempts, None, None)
    state.save(state_dir)
    mastery_rows = mastery_table(params, state, catalog, attempts.groupby("user_id")["event_id"].nunique())
    timings["mastery"] = time.perf_counter() - t
    progress(f"mastery ({mode}): {len(mastery_rows):,} learner × skill rows")

    t = time.perf_counter()
    cards = memory_cards(attempts, as_of)
    queue = spaced_repetition.review_queue(cards, as_of, review_daily_limit).assign(as_of=as_of)
    timings["review_queue"] = time.perf_counter() - t

    t = time.perf_counter()
    paths = learning_path.learning_paths(catalog.modules, catalog.module_skills, catalog.enrolments, mastery_rows)
    timings["learning_path"] = time.perf_counter() - t

    t = time.perf_counter()
    recs = recommendations_for(con, catalog, paths, mastery_rows, queue, as_of, recommendations, shard, shards)
    timings["recommendations"] = time.perf_counter() - t

    t = time.perf_counter()
    p = params.with_default()
    item_params = pd.DataFrame({"question_id": p.items, "guess": p.item_guess, "slip": p.item_slip})
    recent = attempts[attempts["event_at"] > as_of - pd.Timedelta(days=quiz_no_repeat_days)] if quiz_no_repeat_days else attempts.iloc[:0]
    quizzes = quiz.assemble(catalog.questions, paths, mastery_rows, item_params, recent, n=quiz_size)
    timings["next_quiz"] = time.perf_counter() - t
    return EngineOutputs(mastery_rows, queue, paths, recs, quizzes, timings, mode)


def combine_engine(parts: list[EngineOutputs]) -> EngineOutputs:
    """The shards' outputs as one: each table's rows in learner order (the order within a learner kept),
    the timings summed, the mastery mode 'full' when any shard traced in full."""
    def joined(name: str) -> pd.DataFrame:
        frames = [getattr(p, name) for p in parts]
        return pd.concat(frames, ignore_index=True).sort_values("user_id", kind="stable").reset_index(drop=True)

    timings = {k: sum(p.timings.get(k, 0.0) for p in parts) for k in parts[0].timings}
    mode = "full" if any(p.mode == "full" for p in parts) else parts[0].mode
    return EngineOutputs(*(joined(n) for n in ("mastery", "review_queue", "learning_path", "recommendations",
                                               "next_quiz")), timings, mode)
