"""Gamification plumbing: events in each learner's local time from the warehouse, then models/gamification.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from devmentor.learning.engine import LEARNER_CLOCK_SQL, data_as_of, load_attempts, reviews_on_time
from devmentor.shards import shard_rows, shard_sql
from devmentor.storage.warehouse import query_frame
from models import gamification as g

# Local days come from dbt (models/marts/learning/), in each learner's resolved time zone.
ACTIVITY_SQL = "SELECT user_id, local_date, first_event_id, first_event_at, course_id FROM marts.fct_learner_active_days"
COMPLETIONS_SQL = "SELECT event_id, user_id, event_at, course_id, module_id, local_date FROM marts.fct_module_completions"


@dataclass
class GamificationOutputs:
    learner_xp: pd.DataFrame
    badges: pd.DataFrame
    streaks: pd.DataFrame
    leaderboards: pd.DataFrame
    reward_log: pd.DataFrame
    weekly_challenges: pd.DataFrame
    excluded: frozenset = frozenset()  # learners kept off the leaderboards
    week_start: pd.Timestamp | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        return {k: getattr(self, k) for k in ("learner_xp", "badges", "streaks", "leaderboards", "reward_log", "weekly_challenges")}


def one_row_per_answer(attempts: pd.DataFrame) -> pd.DataFrame:
    """A multi-skill answer (one row per skill, sharing the event) is ONE answer for XP, badges and challenges:
    its first row, reviewed on time when any of its skills was."""
    if not attempts["event_id"].duplicated().any():
        return attempts
    on_time = attempts.groupby("event_id", sort=False)["review_on_time"].transform("any")
    return attempts.assign(review_on_time=on_time).drop_duplicates("event_id").reset_index(drop=True)


def run_gamification(con: duckdb.DuckDBPyConnection, mastery: pd.DataFrame, ledger_path: Path,
                     rules: g.XPRules = g.XPRules(), as_of=None, shard: int = 0, shards: int = 1) -> GamificationOutputs:
    """XP, badges, streaks, challenges and leaderboards at the run's as-of. With ``shards`` > 1 only the learners
    of ``shard`` (their leaderboards too, and the badge ledger is left as it was): ``combine_gamification`` joins
    the shards, ranks the leaderboards over everyone and writes the ledger."""
    def mine(frame):
        return shard_rows(frame, shard, shards)

    where = f" WHERE {shard_sql(shard, shards)}"  # each shard reads only its learners' rows
    as_of = data_as_of(con, as_of)
    learners = query_frame(con, LEARNER_CLOCK_SQL + where)
    activity = query_frame(con, ACTIVITY_SQL + where)
    completions = query_frame(con, COMPLETIONS_SQL + where)
    attempts = load_attempts(con, local_dates=True, learners=shard_sql(shard, shards))
    attempts["review_on_time"] = reviews_on_time(attempts)
    attempts = one_row_per_answer(attempts)
    for frame in (activity, completions):
        frame["local_date"] = pd.to_datetime(frame["local_date"])
    today = learners[["user_id", "timezone"]].copy()
    today["today"] = [as_of.tz_convert(z).date() for z in today["timezone"]]

    log = g.reward_log(attempts, completions, activity, rules)
    ledger = mine(pq.read_table(ledger_path).to_pandas()) if ledger_path.exists() else None
    earned = g.earned_badges(attempts, completions, activity, mine(mastery[mastery["mastered"]]), as_of)
    earned["earned_at"] = pd.to_datetime(earned["earned_at"], utc=True)
    ledger = g.merge_badge_ledger(ledger, earned)
    if shards == 1:
        save_ledger(ledger, ledger_path)
    full_log = pd.concat([log, g.badge_log_rows(ledger)], ignore_index=True)
    full_log["awarded_at"] = pd.to_datetime(full_log["awarded_at"], utc=True)
    week_start = (as_of.normalize() - pd.Timedelta(days=as_of.weekday()))
    names = {b.badge_id: (b.name, b.description) for b in g.BADGES}
    badges = ledger.assign(name=ledger["badge_id"].map(lambda b: names[b][0]),
                           description=ledger["badge_id"].map(lambda b: names[b][1]))
    excluded = frozenset(learners.loc[learners["excluded"], "user_id"])
    return GamificationOutputs(
        learner_xp=g.learner_xp(full_log, learners["user_id"], week_start),
        badges=badges,
        streaks=g.streak_table(activity, today),
        leaderboards=g.leaderboards(full_log, excluded, week_start),
        reward_log=full_log,
        weekly_challenges=g.weekly_challenges(attempts, completions, activity, today),
        excluded=excluded, week_start=week_start,
    )


def save_ledger(ledger: pd.DataFrame, ledger_path: Path) -> None:
    """The badge ledger (each badge once per learner, with when it was first earned), replaced atomically."""
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = ledger_path.with_suffix(".tmp")
    pq.write_table(pa.Table.from_pandas(ledger.reset_index(drop=True), preserve_index=False), tmp)
    tmp.replace(ledger_path)


def combine_gamification(parts: list[GamificationOutputs], ledger_path: Path) -> GamificationOutputs:
    """The shards' outputs as one: per-learner tables joined in learner order, leaderboards ranked again over
    every shard's reward log, and the joined badge ledger written."""
    def joined(name: str) -> pd.DataFrame:
        frames = [getattr(p, name) for p in parts]
        return pd.concat(frames, ignore_index=True).sort_values("user_id", kind="stable").reset_index(drop=True)

    log = pd.concat([p.reward_log for p in parts], ignore_index=True)
    excluded = frozenset().union(*(p.excluded for p in parts))
    badges = joined("badges")
    save_ledger(badges.drop(columns=["name", "description"]), ledger_path)
    return GamificationOutputs(
        learner_xp=joined("learner_xp"), badges=badges, streaks=joined("streaks"),
        leaderboards=g.leaderboards(log, excluded, parts[0].week_start), reward_log=joined("reward_log"),
        weekly_challenges=joined("weekly_challenges"), excluded=excluded, week_start=parts[0].week_start)
