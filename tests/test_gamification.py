"""Gamification with hand-computed expectations: XP, caps, levels, streaks across time zones, badges, leaderboards."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from devmentor.ingest.contract import BY_NAME as ENTITY
from devmentor.ingest.validate import ingest_entity
from devmentor.learning.gamification import ACTIVITY_SQL
from models import gamification as g

T0 = pd.Timestamp("2026-03-02 10:00", tz="UTC")


def attempts(rows):
    """rows: (user, minutes after T0, question, correct, on_time)."""
    df = pd.DataFrame(rows, columns=["user_id", "minutes", "question_id", "is_correct", "review_on_time"])
    df["event_at"] = T0 + pd.to_timedelta(df["minutes"], unit="min")
    df["event_id"] = [f"e{i}" for i in range(len(df))]
    df["course_id"] = "C1"
    df["skill_id"] = "s1"
    df["local_date"] = df["event_at"].dt.tz_convert(None).dt.normalize()
    return df.drop(columns="minutes")


NO_COMPLETIONS = pd.DataFrame(columns=["event_id", "user_id", "event_at", "course_id", "module_id", "local_date"])
NO_ACTIVITY = pd.DataFrame(columns=["user_id", "local_date", "first_event_id", "first_event_at", "course_id"])


def test_farming_cap_one_award_per_question():
    a = attempts([("u", i, "q1", True, False) for i in range(5)] + [("u", 10, "q2", True, False), ("u", 11, "q3", False, False)])
    log = g.reward_log(a, NO_COMPLETIONS, NO_ACTIVITY)
    assert log["xp"].sum() == 20  # q1 once, q2 once, q3 wrong
    assert sorted(log["source_event_id"]) == ["e0", "e5"]


def test_daily_cap_cuts_the_crossing_grant_and_resets_next_day():
    rules = g.XPRules(daily_cap=35)
    a = attempts([("u", i, f"q{i}", True, False) for i in range(5)] + [("u", 60 * 24, "q9", True, False)])
    log = g.reward_log(a, NO_COMPLETIONS, NO_ACTIVITY, rules)
    day1 = log[log["local_date"] == pd.Timestamp("2026-03-02")]
    assert day1["xp"].tolist() == [10, 10, 10, 5]  # the fourth grant is cut to fit 35; the fifth gets nothing
    assert log[log["local_date"] == pd.Timestamp("2026-03-03")]["xp"].tolist() == [10]


def test_xp_totals_equal_the_reward_log_and_levels_follow_the_curve():
    a = attempts([(u, i, f"q{i}", True, i % 3 == 0) for u in ("a", "b") for i in range(12 if u == "a" else 3)])
    comp = pd.DataFrame({"event_id": ["c1", "c2"], "user_id": ["a", "a"], "event_at": [T0, T0 + pd.Timedelta(hours=1)],
                         "course_id": "C1", "module_id": ["M1", "M1"], "local_date": pd.Timestamp("2026-03-02")})
    log = g.reward_log(a, comp, NO_ACTIVITY)
    xp = g.learner_xp(log, pd.Series(["a", "b", "c"]), pd.Timestamp("2026-03-02", tz="UTC")).set_index("user_id")
    # a: 12 correct × 10 + one on-time review × 15 (four were on time, but one per skill and day counts)
    #    + one module × 50 (the second completion of M1 earns nothing) = 185
    assert xp.loc["a", "xp_total"] == 185 == log[log.user_id == "a"]["xp"].sum()
    assert xp.loc["b", "xp_total"] == 3 * 10 + 1 * 15
    assert xp.loc["c", "xp_total"] == 0 and xp.loc["c", "level"] == 1
    assert xp.loc["a", "level"] == 2 and xp.loc["a", "next_level_xp"] == 300 and xp.loc["a", "xp_to_next_level"] == 115
    assert g.xp_for_level(np.arange(1, 6)).tolist() == [0, 100, 300, 600, 1000]
    assert g.level_for_xp([0, 99, 100, 299, 300, 999, 1000]).tolist() == [1, 1, 2, 2, 3, 4, 5]


def _activity_through_dbt(root, profiles_csv: str, events_csv: str) -> pd.DataFrame:
    """The learners' active local days as the pipeline computes them: the contract's ingest, then dbt builds
    the learning marts (time zones resolved in staging, local days in marts.fct_learner_active_days)."""
    from tests.test_features import query, run_dbt

    files = {"catalog/courses/c.csv": "course_id,title\nC1,Course\n", "profiles/p.csv": profiles_csv,
             "events/e.csv": events_csv}
    for rel, text in files.items():
        (root / "inbox" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "inbox" / rel).write_text(text)
    for entity in ("courses", "profiles", "events"):
        result = ingest_entity(ENTITY[entity], root / "inbox", root / "lake")
        assert all(f.rows_quarantined == 0 for f in result.files), result
    run_dbt(root / "lake", root / "wh.duckdb", "--select", "+fct_learner_active_days")
    con = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    try:
        activity = con.execute(ACTIVITY_SQL).df()
    finally:
        con.close()
    assert query(root / "wh.duckdb", "SELECT timezone FROM marts.dim_learner_clock ORDER BY user_id") == [
        ("America/Los_Angeles",), ("UTC",)]
    activity["local_date"] = pd.to_datetime(activity["local_date"])
    return activity


def test_streak_counts_local_days_across_a_time_zone_boundary(tmp_path):
    # Los Angeles is UTC-8 in early March: 01:00 UTC on the 2nd is the 1st locally, 23:00 UTC on the 2nd is the 2nd.
    # 'Not/AZone' is no time zone: the learner's days are UTC days (the documented default), and dbt does not fail.
    activity = _activity_through_dbt(
        tmp_path,
        "user_id,timezone\nla,America/Los_Angeles\nutc,Not/AZone\n",
        "event_id,user_id,event_type,timestamp,session_id,course_id\n"
        "e1,la,session_start,2026-03-02T01:00:00Z,s1,C1\ne2,la,session_start,2026-03-02T23:00:00Z,s2,C1\n"
        "e3,utc,session_start,2026-03-02T01:00:00Z,s3,C1\ne4,utc,session_start,2026-03-02T23:00:00Z,s4,C1\n")
    s = g.streak_days(activity).set_index(["user_id", "streak"])
    assert g.streak_days(activity).groupby("user_id")["streak"].max().to_dict() == {"la": 2, "utc": 1}
    today = pd.DataFrame({"user_id": ["la", "utc"], "timezone": ["America/Los_Angeles", "UTC"],
                          "today": [pd.Timestamp("2026-03-03"), pd.Timestamp("2026-03-05")]})
    st = g.streak_table(activity, today).set_index("user_id")
    assert st.loc["la", "current_streak"] == 2 and st.loc["la", "longest_streak"] == 2  # active yesterday: alive
    assert st.loc["utc", "current_streak"] == 0 and st.loc["utc", "longest_streak"] == 1  # unknown zone → UTC; lapsed
    assert len(s) == 3


def test_badges_are_awarded_once_and_keep_their_first_date():
    first = pd.DataFrame({"user_id": ["a", "a"], "badge_id": ["first_module", "streak_7"],
                          "earned_at": pd.to_datetime(["2026-03-01", "2026-03-07"], utc=True), "source_event_id": ["e1", "e9"]})
    ledger = g.merge_badge_ledger(None, first)
    # a rerun recomputes the same badges (one with a different date) plus a new one
    again = pd.DataFrame({"user_id": ["a", "a", "a"], "badge_id": ["first_module", "streak_7", "comeback"],
                          "earned_at": pd.to_datetime(["2026-03-01", "2026-03-09", "2026-03-20"], utc=True),
                          "source_event_id": ["e1", "e12", "e30"]})
    ledger2 = g.merge_badge_ledger(ledger, again)
    ledger3 = g.merge_badge_ledger(ledger2, again)
    assert len(ledger2) == 3 and len(ledger3) == 3
    assert not ledger3.duplicated(["user_id", "badge_id"]).any()
    assert ledger3.set_index("badge_id").loc["streak_7", "earned_at"] == pd.Timestamp("2026-03-07", tz="UTC")


def test_leaderboards_exclude_opted_out_learners_and_order_ties_by_rule():
    log = pd.DataFrame({
        "user_id": ["a", "b", "c", "d", "e", "a"],
        "kind": "xp", "xp": [30, 30, 30, 50, 80, 0],
        "course_id": ["C1", "C1", "C2", "C1", "C1", "C1"],
        "awarded_at": pd.to_datetime(["2026-03-02 10:00", "2026-03-02 09:00", "2026-03-02 09:00", "2026-03-01 00:00", "2026-03-02 00:00",
                                      "2026-03-02 00:00"], utc=True),
    })
    boards = g.leaderboards(log[log.xp > 0], excluded={"e"}, week_start=pd.Timestamp("2026-03-02", tz="UTC"))
    assert "e" not in set(boards["user_id"])
    overall = boards[(boards.scope == "overall") & (boards.period == "all_time")]
    # d has most XP; a, b, c tie on 30: b and c reached it at 09:00 (before a), then by user id
    assert overall["user_id"].tolist() == ["d", "b", "c", "a"]
    assert overall["position"].tolist() == [1, 2, 3, 4]
    c1_week = boards[(boards.scope == "C1") & (boards.period == "week")]
    assert c1_week["user_id"].tolist() == ["b", "a"]  # d earned before this week; c is in C2; e opted out
