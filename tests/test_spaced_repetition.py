"""FSRS: the vectorised replay equals the fsrs package card by card; review queues honour limit and priority."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from fsrs import Card, Rating

from models import spaced_repetition as sr


def test_vectorised_replay_matches_the_fsrs_package():
    rng = np.random.default_rng(0)
    cfg = sr.FSRSConfig()
    scheduler = cfg.scheduler()
    start = datetime(2026, 1, 5, 8, tzinfo=timezone.utc)
    groups, times, rates, expected = [], [], [], []
    for g in range(150):
        card = Card(card_id=g + 1)
        t = start + timedelta(hours=float(rng.uniform(0, 48)))
        for _ in range(int(rng.integers(1, 12))):
            rating = int(rng.choice([1, 2, 3, 4], p=[0.25, 0.15, 0.45, 0.15]))
            card, _ = scheduler.review_card(card, Rating(rating), review_datetime=t)
            groups.append(g)
            times.append(int(t.timestamp() * 1_000_000))
            rates.append(rating)
            # gaps from minutes (same-day reviews) to weeks
            t = t + timedelta(minutes=float(rng.choice([5, 90, 60 * 20, 60 * 24 * 3, 60 * 24 * 17])))
        expected.append(card)
    state = sr.replay(np.array(groups), np.array(times), np.array(rates), cfg)
    for g, card in enumerate(expected):
        assert state.stability[g] == pytest.approx(card.stability, rel=1e-9), g
        assert state.difficulty[g] == pytest.approx(card.difficulty, rel=1e-9), g
        assert state.due_us[g] == int(card.due.timestamp() * 1_000_000), g
        now = card.last_review + timedelta(days=4, hours=3)
        r = sr.retrievability(cfg, state.stability[g:g + 1], state.last_review_us[g:g + 1], int(now.timestamp() * 1e6))[0]
        assert r == pytest.approx(scheduler.get_card_retrievability(card, now), rel=1e-9)


def test_ratings_from_attempts():
    r = sr.ratings([False, True, True, True, True], hint_used=[False, True, False, False, None],
                   retries=[0, 0, 2, 0, 0], confidence=[0.9, 0.9, 0.9, 0.95, 0.5])
    assert r.tolist() == [sr.AGAIN, sr.HARD, sr.HARD, sr.EASY, sr.GOOD]


def _cards():
    now = pd.Timestamp("2026-03-10 12:00", tz="UTC")
    rows = []
    for user, n in (("u1", 30), ("u2", 3)):
        for i in range(n):
            rows.append(dict(user_id=user, skill_id=f"s{i:02d}", due_at=now + pd.Timedelta(days=(i % 5) - 3),
                             retrievability=round(0.3 + 0.02 * i, 2)))
    return now, pd.DataFrame(rows)


def test_review_queue_respects_the_limit_and_priority():
    now, cards = _cards()
    q = sr.review_queue(cards, now, daily_limit=7)
    assert q.groupby("user_id").size().max() <= 7
    u1 = q[q["user_id"] == "u1"]
    assert len(u1) == 7
    # only cards due by the end of today
    assert (u1["due_at"] < now.normalize() + pd.Timedelta(days=1)).all()
    # overdue first, then lowest retrievability
    overdue = u1["overdue"].tolist()
    assert overdue == sorted(overdue, reverse=True)
    for flag, part in u1.groupby("overdue"):
        assert part["retrievability"].is_monotonic_increasing
    assert u1["priority"].tolist() == list(range(1, 8))
    # every overdue card of u1 outranks every card due today
    due_today = cards[(cards.user_id == "u1") & (cards.due_at >= now.normalize()) & (cards.due_at < now.normalize() + pd.Timedelta(days=1))]
    n_overdue = int((cards[cards.user_id == "u1"].due_at < now.normalize()).sum())
    assert u1["overdue"].sum() == min(7, n_overdue)
    assert len(due_today) > 0
    # u2 has fewer due cards than the limit: all of them
    assert len(q[q["user_id"] == "u2"]) == int((cards[cards.user_id == "u2"].due_at < now.normalize() + pd.Timedelta(days=1)).sum())


def test_review_queue_rejects_a_bad_limit():
    now, cards = _cards()
    with pytest.raises(ValueError, match="daily limit"):
        sr.review_queue(cards, now, daily_limit=0)
