"""Spaced repetition: FSRS-6 memory state per learner × skill from the attempt history, and review queues.

The scheduler is the ``fsrs`` package's (FSRS-6, default parameters) configured for
day-scale reviews: no intra-day learning or relearning steps and no fuzzing, so every
attempt after the first is a review. Replaying millions of attempts through
``fsrs.Scheduler.review_card`` one object at a time is slow, so the same formulas run
here over all cards at once (``models/sequences.py``); the tests replay random
histories through the package itself and require identical stability, difficulty and
due dates.

An attempt's rating: wrong → Again; right with a hint or after retries → Hard; right
with high confidence → Easy; otherwise Good.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from fsrs.scheduler import DEFAULT_PARAMETERS

from models.frames import sort_rows
from models.sequences import pack

ALGORITHM = "fsrs-6"
AGAIN, HARD, GOOD, EASY = 1, 2, 3, 4
MIN_DIFFICULTY, MAX_DIFFICULTY, STABILITY_MIN = 1.0, 10.0, 0.001
DAY_US = 86_400 * 1_000_000
EASY_CONFIDENCE = 0.9


@dataclass(frozen=True)
class FSRSConfig:
    parameters: tuple[float, ...] = tuple(DEFAULT_PARAMETERS)
    desired_retention: float = 0.9
    maximum_interval: int = 36500

    @property
    def decay(self) -> float:
        return -self.parameters[20]

    @property
    def factor(self) -> float:
        return 0.9 ** (1 / self.decay) - 1

    def scheduler(self):
        """The equivalent ``fsrs.Scheduler`` (used by the tests as the reference)."""
        from fsrs import Scheduler

        return Scheduler(parameters=self.parameters, desired_retention=self.desired_retention, learning_steps=(),
                         relearning_steps=(), maximum_interval=self.maximum_interval, enable_fuzzing=False)


def ratings(correct, hint_used=None, retries=None, confidence=None) -> np.ndarray:
    """FSRS rating (1-4) of each attempt."""
    correct = np.asarray(correct, dtype=bool)
    n = len(correct)
    hint = np.zeros(n, bool) if hint_used is None else np.asarray(pd.Series(hint_used).fillna(False), dtype=bool)
    retried = np.zeros(n, bool) if retries is None else np.asarray(pd.Series(retries).fillna(0)) > 0
    conf = np.zeros(n) if confidence is None else np.asarray(pd.Series(confidence, dtype=float).fillna(0.0))
    return np.where(~correct, AGAIN, np.where(hint | retried, HARD, np.where(conf >= EASY_CONFIDENCE, EASY, GOOD))).astype(np.int64)


@dataclass
class MemoryState:
    """Per group (learner × skill): FSRS state after its last review."""

    stability: np.ndarray
    difficulty: np.ndarray
    last_review_us: np.ndarray  # microseconds since the epoch, UTC
    due_us: np.ndarray
    reviews: np.ndarray
    lapses: np.ndarray
    due_before_us: np.ndarray | None = None  # per input row: the card's due time before that review (0 = first review)
    last_before_us: np.ndarray | None = None  # per input row: the card's previous review (0 = first review)


def on_time(review_us, due_before_us, last_before_us) -> np.ndarray:
    """A review is on time when it is spaced (a day or more after the previous review of the card) and falls
    within a day either side of the card's due time. A first review, or a repeat within the day, never is."""
    review_us = np.asarray(review_us, dtype=np.int64)
    due = np.asarray(due_before_us, dtype=np.int64)
    spaced = review_us - np.asarray(last_before_us, dtype=np.int64) >= DAY_US
    return (due > 0) & spaced & (np.abs(review_us - due) <= DAY_US)


def _initial_difficulty(w, rating):
    return w[4] - np.exp(w[5] * (rating - 1)) + 1


def _interval_days(cfg: FSRSConfig, stability):
    days = np.round(stability / cfg.factor * (cfg.desired_retention ** (1 / cfg.decay) - 1))
    return np.clip(days, 1, cfg.maximum_interval)


def retrievability(cfg: FSRSConfig, stability, last_review_us, now_us) -> np.ndarray:
    """Probability of recall now (elapsed whole days, as the fsrs package counts them)."""
    elapsed = np.maximum(0, np.floor_divide(np.asarray(now_us, dtype=np.int64) - last_review_us, DAY_US))
    return (1 + cfg.factor * elapsed / stability) ** cfg.decay


def replay(group, review_us, rating, cfg: FSRSConfig = FSRSConfig(), n_groups: int | None = None) -> MemoryState:
    """Replay every group's reviews in time order; returns the state after the last review of each group."""
    w = np.asarray(cfg.parameters, dtype=float)
    group = np.asarray(group, dtype=np.int64)
    n = max(int(group.max()) + 1 if len(group) else 0, n_groups or 0)
    out = MemoryState(np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, np.int64), np.zeros(n, np.int64),
                      np.zeros(n, np.int64), np.zeros(n, np.int64))
    if len(group) == 0:
        return out
    review_us = np.asarray(review_us, dtype=np.int64)
    pk = pack(group, review_us)
    t_all, g_all = pk.to_packed(review_us), pk.to_packed(np.asarray(rating, dtype=np.int64))
    G = pk.n_groups
    S, D = np.zeros(G), np.zeros(G)
    last, due = np.zeros(G, np.int64), np.zeros(G, np.int64)
    lapses = np.zeros(G, np.int64)
    due_before = np.zeros(len(t_all), np.int64)
    last_before = np.zeros(len(t_all), np.int64)
    d_easy = _initial_difficulty(w, EASY)
    short_forget = np.exp(w[17] * w[18])
    for k in range(pk.max_len):
        sl, a = pk.step(k)
        t, g = t_all[sl], g_all[sl].astype(float)
        if k == 0:
            s_new = np.maximum(w[g_all[sl] - 1], STABILITY_MIN)
            d_new = np.clip(_initial_difficulty(w, g), MIN_DIFFICULTY, MAX_DIFFICULTY)
        else:
            s, d = S[:a], D[:a]
            elapsed = np.floor_divide(t - last[:a], DAY_US)
            same_day = elapsed < 1
            # short-term (same-day) stability
            inc = np.exp(w[17] * (g - 3 + w[18])) * s ** -w[19]
            inc = np.where(g >= HARD, np.maximum(inc, 1.0), inc)
            s_short = s * inc
            # long-term
            r = (1 + cfg.factor * np.maximum(elapsed, 0) / s) ** cfg.decay
            hard_penalty = np.where(g == HARD, w[15], 1.0)
            easy_bonus = np.where(g == EASY, w[16], 1.0)
            s_recall = s * (1 + np.exp(w[8]) * (11 - d) * s ** -w[9] * (np.exp((1 - r) * w[10]) - 1) * hard_penalty * easy_bonus)
            s_forget = np.minimum(w[11] * d ** -w[12] * ((s + 1) ** w[13] - 1) * np.exp((1 - r) * w[14]), s / short_forget)
            s_long = np.where(g == AGAIN, s_forget, s_recall)
            s_new = np.maximum(np.where(same_day, s_short, s_long), STABILITY_MIN)
            delta = -(w[6] * (g - 3))
            d_damped = d + (10.0 - d) * delta / 9.0
            d_new = np.clip(w[7] * d_easy + (1 - w[7]) * d_damped, MIN_DIFFICULTY, MAX_DIFFICULTY)
            lapses[:a] += (g == AGAIN).astype(np.int64)
        if k > 0:
            due_before[sl] = due[:a]
            last_before[sl] = last[:a]
        S[:a], D[:a] = s_new, d_new
        last[:a] = t
        due[:a] = t + (_interval_days(cfg, s_new) * DAY_US).astype(np.int64)
    ranks = pk.group_of_rank
    out.stability[ranks], out.difficulty[ranks] = S, D
    out.last_review_us[ranks], out.due_us[ranks] = last, due
    out.reviews[ranks] = pk.lengths
    out.lapses[ranks] = lapses
    out.due_before_us = pk.to_rows(due_before)
    out.last_before_us = pk.to_rows(last_before)
    return out


def review_queue(cards: pd.DataFrame, now: pd.Timestamp, daily_limit: int = 20) -> pd.DataFrame:
    """Each learner's reviews for today: cards due by the end of ``now``'s day, at most ``daily_limit`` each.

    ``cards`` has user_id, skill_id, due_at, retrievability (at ``now``). Priority: overdue cards
    (due before today) first, then the lowest retrievability, then the skill id (a stable tie rule).
    """
    if daily_limit < 1:
        raise ValueError(f"review queue daily limit must be at least 1, got {daily_limit}")
    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    day_start = now.normalize()
    day_end = day_start + pd.Timedelta(days=1)
    due = cards[cards["due_at"] < day_end].copy()
    due["overdue"] = due["due_at"] < day_start
    due["overdue_days"] = ((day_start - due["due_at"]).dt.total_seconds() / 86400).clip(lower=0).round(2)
    due = sort_rows(due, ["user_id", "overdue", "retrievability", "skill_id"], ascending=[True, False, True, True])
    due["priority"] = due.groupby("user_id").cumcount() + 1
    return due[due["priority"] <= daily_limit].reset_index(drop=True)
