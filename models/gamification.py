"""Gamification: XP from events by rules, levels, badges, streaks, weekly challenges and leaderboards.

Everything is derived from the reward log, one row per grant with its rule, reason and
source event, so totals can be audited and rebuilt:

- XP rules (``XPRules``): a correct quiz answer, a module completed (first time), a review
  done on time (FSRS due date), each day a streak continues. Anti-farming: a question earns
  XP only for its first ``quiz_awards_per_question`` correct answers, and no learner earns
  more than ``daily_cap`` XP per local day (the grant that crosses the cap is cut to fit).
- Levels: reaching level n takes 50·n·(n−1) XP in total (0, 100, 300, 600, 1000, ...): each
  level needs 100 XP more than the one before.
- Streaks: consecutive active days in the learner's own time zone (profile ``timezone``,
  default UTC). The current streak is alive when the last active day is today or yesterday.
- Badges (``BADGES``): declarative rules, each earned once per learner with the date earned.
- Leaderboards: overall and per course, all-time and this week (ISO week, UTC). Order: more
  XP first; equal XP → whoever reached that total earlier; then user id. Learners who opted
  out of leaderboards or of analytics never appear.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from models.frames import sort_rows

ALGORITHM = "gamification-1"


@dataclass(frozen=True)
class XPRules:
    quiz_correct: int = 10
    quiz_awards_per_question: int = 1
    module_completed: int = 50
    review_on_time: int = 15
    streak_day: int = 5
    daily_cap: int = 300

    def to_dict(self) -> dict:
        return asdict(self)


def xp_for_level(level) -> np.ndarray:
    level = np.asarray(level)
    return 50 * level * (level - 1)


def level_for_xp(xp) -> np.ndarray:
    xp = np.asarray(xp, dtype=float)
    return np.floor((1 + np.sqrt(1 + 8 * np.maximum(xp, 0) / 100)) / 2 + 1e-9).astype(np.int64)


@dataclass(frozen=True)
class Badge:
    badge_id: str
    name: str
    description: str


BADGES = (
    Badge("first_module", "First module", "Completed a module for the first time."),
    Badge("streak_7", "Week streak", "Active seven days in a row."),
    Badge("skill_mastered", "Skill mastered", "Mastered a skill (BKT P(known) ≥ 0.95 over at least 3 attempts)."),
    Badge("comeback", "Comeback", "Came back after seven or more days away."),
    Badge("quiz_whiz_50", "Quiz whiz", "Fifty correct quiz answers."),
)

CHALLENGES = (
    ("correct_20", "Answer 20 quiz questions correctly this week", 20),
    ("active_4_days", "Study on 4 different days this week", 4),
    ("complete_module", "Complete a module this week", 1),
)

LOG_COLUMNS = ["reward_id", "user_id", "kind", "rule", "xp", "source_event_id", "course_id", "awarded_at", "local_date", "reason"]


def streak_days(activity: pd.DataFrame) -> pd.DataFrame:
    """Per learner × active local day: the streak length that day. ``activity``: user_id, local_date, first_event_id, first_event_at, course_id."""
    a = sort_rows(activity, ["user_id", "local_date"]).reset_index(drop=True)
    d = pd.to_datetime(a["local_date"])
    gap = d.groupby(a["user_id"]).diff().dt.days
    new_run = gap.isna() | (gap != 1)
    run_id = new_run.cumsum()
    a["streak"] = a.groupby(run_id).cumcount() + 1
    a["gap_days"] = gap
    return a


def reward_log(attempts: pd.DataFrame, completions: pd.DataFrame, activity: pd.DataFrame, rules: XPRules = XPRules()) -> pd.DataFrame:
    """Every XP grant, in time order, with the daily cap applied.

    - ``attempts``: event_id, user_id, event_at, course_id, question_id, is_correct, review_on_time, local_date
    - ``completions``: event_id, user_id, event_at, course_id, module_id, local_date
    - ``activity``: user_id, local_date, first_event_id, first_event_at, course_id
    """
    # Only the columns a grant needs are sorted and carried (the attempts have 14), and each grant carries the
    # part of its reason that varies (``detail``): the sentences are built once, for the grants the cap keeps.
    grant = ["event_id", "user_id", "event_at", "course_id", "local_date"]
    parts = []
    correct = sort_rows(attempts.loc[attempts["is_correct"], grant + ["question_id"]], ["event_at", "event_id"])
    nth = correct.groupby(["user_id", "question_id"]).cumcount()
    quiz = correct[nth < rules.quiz_awards_per_question]
    parts.append(quiz.assign(rule="quiz_correct", xp=rules.quiz_correct, detail=quiz["question_id"].astype(str)))
    on_time = sort_rows(attempts.loc[attempts["review_on_time"].fillna(False).astype(bool), grant + ["skill_id"]],
                        ["event_at", "event_id"])
    on_time = on_time.drop_duplicates(["user_id", "skill_id", "local_date"])  # one on-time review per skill and day
    parts.append(on_time.assign(rule="review_on_time", xp=rules.review_on_time, detail=on_time["skill_id"].astype(str)))
    first_done = sort_rows(completions, ["event_at", "event_id"]).drop_duplicates(["user_id", "module_id"])
    parts.append(first_done.assign(rule="module_completed", xp=rules.module_completed,
                                   detail=first_done["module_id"].astype(str)))
    streaks = streak_days(activity)
    kept = streaks[streaks["streak"] >= 2]
    parts.append(pd.DataFrame({
        "event_id": kept["first_event_id"], "user_id": kept["user_id"], "event_at": kept["first_event_at"],
        "course_id": kept["course_id"], "local_date": kept["local_date"], "rule": "streak_day", "xp": rules.streak_day,
        "detail": kept["streak"].astype(str),
    }))
    log = pd.concat([p[grant + ["rule", "xp", "detail"]] for p in parts if len(p)], ignore_index=True)
    if log.empty:
        return pd.DataFrame(columns=LOG_COLUMNS)
    log = sort_rows(log, ["user_id", "event_at", "rule", "event_id"]).reset_index(drop=True)
    before = log.groupby(["user_id", "local_date"])["xp"].cumsum() - log["xp"]
    log["xp"] = np.clip(rules.daily_cap - before, 0, log["xp"])
    log = log[log["xp"] > 0].copy()
    log["reason"] = _reasons(log["rule"], log["detail"])
    log = log.rename(columns={"event_id": "source_event_id", "event_at": "awarded_at"})
    log["kind"] = "xp"
    log["reward_id"] = log["rule"] + ":" + log["user_id"].astype(str) + ":" + log["source_event_id"].astype(str)
    return log[LOG_COLUMNS].reset_index(drop=True)


# A grant's reason in words: the rule's words around the grant's detail (question, skill, module, streak length).
REASONS = {"quiz_correct": ("correct answer to ", ""), "review_on_time": ("review of ", " done on time"),
           "module_completed": ("completed module ", ""), "streak_day": ("streak day ", "")}


def _reasons(rules: pd.Series, details: pd.Series) -> pd.Series:
    out = pd.Series(pd.NA, index=rules.index, dtype=details.dtype)
    for rule, (before, after) in REASONS.items():
        mine = (rules == rule).to_numpy()
        if mine.any():
            out[mine] = before + details[mine] + after
    return out


def earned_badges(attempts, completions, activity, mastered: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Badges earned by the data: user_id, badge_id, earned_at, source_event_id (the first qualifying moment)."""
    out = []
    c = sort_rows(completions, ["event_at", "event_id"]).drop_duplicates("user_id")
    out.append(pd.DataFrame({"user_id": c["user_id"], "badge_id": "first_module", "earned_at": c["event_at"], "source_event_id": c["event_id"]}))
    s = streak_days(activity)
    s7 = s[s["streak"] >= 7].drop_duplicates("user_id")
    out.append(pd.DataFrame({"user_id": s7["user_id"], "badge_id": "streak_7", "earned_at": s7["first_event_at"], "source_event_id": s7["first_event_id"]}))
    back = s[s["gap_days"] >= 8].drop_duplicates("user_id")  # 7 or more whole days without activity in between
    out.append(pd.DataFrame({"user_id": back["user_id"], "badge_id": "comeback", "earned_at": back["first_event_at"], "source_event_id": back["first_event_id"]}))
    correct = sort_rows(attempts.loc[attempts["is_correct"], ["user_id", "event_at", "event_id"]], ["event_at", "event_id"])
    fifty = correct[correct.groupby("user_id").cumcount() == 49]
    out.append(pd.DataFrame({"user_id": fifty["user_id"], "badge_id": "quiz_whiz_50", "earned_at": fifty["event_at"], "source_event_id": fifty["event_id"]}))
    m = sort_rows(mastered, ["user_id", "skill_id"]).drop_duplicates("user_id")
    out.append(pd.DataFrame({"user_id": m["user_id"], "badge_id": "skill_mastered", "earned_at": as_of,
                             "source_event_id": "mastery:" + m["skill_id"].astype(str)}))
    return pd.concat([o for o in out if len(o)], ignore_index=True) if any(len(o) for o in out) else \
        pd.DataFrame(columns=["user_id", "badge_id", "earned_at", "source_event_id"])


def merge_badge_ledger(ledger: pd.DataFrame | None, earned: pd.DataFrame) -> pd.DataFrame:
    """Badges already awarded keep their first date; new ones are added once. Never revoked, never twice."""
    if ledger is None or ledger.empty:
        return earned.drop_duplicates(["user_id", "badge_id"]).reset_index(drop=True)
    new = earned.merge(ledger[["user_id", "badge_id"]], on=["user_id", "badge_id"], how="left", indicator=True)
    new = new[new["_merge"] == "left_only"].drop(columns="_merge")
    return pd.concat([ledger, new], ignore_index=True).drop_duplicates(["user_id", "badge_id"]).reset_index(drop=True)


def badge_log_rows(badges: pd.DataFrame) -> pd.DataFrame:
    names = {b.badge_id: b.name for b in BADGES}
    b = badges.copy()
    return pd.DataFrame({
        "reward_id": "badge:" + b["badge_id"] + ":" + b["user_id"].astype(str), "user_id": b["user_id"], "kind": "badge",
        "rule": b["badge_id"], "xp": 0, "source_event_id": b["source_event_id"], "course_id": None,
        "awarded_at": pd.to_datetime(b["earned_at"], utc=True), "local_date": pd.NaT, "reason": "badge " + b["badge_id"].map(names),
    })[LOG_COLUMNS]


def streak_table(activity: pd.DataFrame, today_local: pd.DataFrame) -> pd.DataFrame:
    """Current and longest streak per learner; ``today_local``: user_id, timezone, today (local date at as_of)."""
    s = streak_days(activity)
    last = s.groupby("user_id").agg(longest_streak=("streak", "max"), last_active_date=("local_date", "max"))
    tail = sort_rows(s, ["user_id", "local_date"]).groupby("user_id").tail(1).set_index("user_id")["streak"]
    out = today_local.merge(last.reset_index(), on="user_id", how="left")
    out["last_streak"] = out["user_id"].map(tail)
    days_since = (pd.to_datetime(out["today"]) - pd.to_datetime(out["last_active_date"])).dt.days
    out["current_streak"] = np.where(days_since <= 1, out["last_streak"], 0)
    out["current_streak"] = out["current_streak"].fillna(0).astype(np.int64)
    out["longest_streak"] = out["longest_streak"].fillna(0).astype(np.int64)
    return out[["user_id", "timezone", "current_streak", "longest_streak", "last_active_date", "today"]]


def weekly_challenges(attempts, completions, activity, today_local: pd.DataFrame) -> pd.DataFrame:
    """Progress on this week's challenges (the learner's local ISO week, Monday first)."""
    t = today_local.copy()
    t["week_start"] = pd.to_datetime(t["today"]) - pd.to_timedelta(pd.to_datetime(t["today"]).dt.weekday, unit="D")
    wk = t.set_index("user_id")["week_start"]

    def this_week(frame, date_col="local_date"):
        d = pd.to_datetime(frame[date_col])
        return frame[(d >= frame["user_id"].map(wk)) & (d <= frame["user_id"].map(t.set_index("user_id")["today"].pipe(pd.to_datetime)))]

    counts = {
        "correct_20": this_week(attempts[attempts["is_correct"]]).groupby("user_id").size(),
        "active_4_days": this_week(activity).groupby("user_id")["local_date"].nunique(),
        "complete_module": this_week(completions).groupby("user_id")["module_id"].nunique(),
    }
    rows = []
    for cid, text, target in CHALLENGES:
        progress = t["user_id"].map(counts[cid]).fillna(0).astype(np.int64)
        rows.append(pd.DataFrame({"user_id": t["user_id"], "week_start": t["week_start"].dt.date, "challenge_id": cid,
                                  "description": text, "progress": np.minimum(progress, target), "target": target,
                                  "completed": progress >= target}))
    return pd.concat(rows, ignore_index=True)


def learner_xp(log: pd.DataFrame, learners: pd.Series, week_start: pd.Timestamp) -> pd.DataFrame:
    xp = log[log["kind"] == "xp"]
    total = xp.groupby("user_id")["xp"].sum()
    week = xp[pd.to_datetime(xp["awarded_at"], utc=True) >= week_start].groupby("user_id")["xp"].sum()
    badges = log[log["kind"] == "badge"].groupby("user_id").size()
    last = xp.groupby("user_id")["awarded_at"].max()
    out = pd.DataFrame({"user_id": learners.drop_duplicates().to_numpy()})
    out["xp_total"] = out["user_id"].map(total).fillna(0).astype(np.int64)
    out["level"] = level_for_xp(out["xp_total"])
    out["level_floor_xp"] = xp_for_level(out["level"])
    out["next_level_xp"] = xp_for_level(out["level"] + 1)
    out["xp_to_next_level"] = out["next_level_xp"] - out["xp_total"]
    out["xp_this_week"] = out["user_id"].map(week).fillna(0).astype(np.int64)
    out["badges"] = out["user_id"].map(badges).fillna(0).astype(np.int64)
    out["last_award_at"] = out["user_id"].map(last)
    return out


def leaderboards(log: pd.DataFrame, excluded: set, week_start: pd.Timestamp) -> pd.DataFrame:
    """Boards (scope overall / course id) × (period all_time / week) with unique positions by the tie rule."""
    xp = log[(log["kind"] == "xp") & ~log["user_id"].isin(excluded)].copy()
    xp["awarded_at"] = pd.to_datetime(xp["awarded_at"], utc=True)
    boards = []
    for period, frame in (("all_time", xp), ("week", xp[xp["awarded_at"] >= week_start])):
        scoped = [frame.assign(scope="overall"), frame[frame["course_id"].notna()].assign(scope=frame["course_id"])]
        for f in scoped:
            if f.empty:
                continue
            g = f.groupby(["scope", "user_id"]).agg(xp=("xp", "sum"), reached_at=("awarded_at", "max")).reset_index()
            g["period"] = period
            boards.append(g)
    if not boards:
        return pd.DataFrame(columns=["scope", "period", "position", "user_id", "xp", "reached_at"])
    b = pd.concat(boards, ignore_index=True)
    b = sort_rows(b, ["scope", "period", "xp", "reached_at", "user_id"], ascending=[True, True, False, True, True])
    b["position"] = b.groupby(["scope", "period"]).cumcount() + 1
    return b[["scope", "period", "position", "user_id", "xp", "reached_at"]].reset_index(drop=True)
