"""The generated learners: latent type, ability, preferences and drop-out day, and the profile, enrolment and
label tables they imply. Random draws happen in a fixed order, so a seed always gives the same learners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from devmentor.generator.catalog import Catalog
from devmentor.generator.output import ids
from devmentor.generator.params import ABILITY_MU, STYLES, TIMEZONES, TYPE_SHARE
from devmentor.ingest.contract import FORMATS, SEGMENTS

LEVEL_P = {
    0: [0.80, 0.18, 0.02],
    1: [0.05, 0.35, 0.60],
    2: [0.25, 0.55, 0.20],
    3: [0.35, 0.45, 0.20],
    4: [0.30, 0.50, 0.20],
}


@dataclass
class Population:
    """Per-learner latent state (``ability`` grows as they practise)."""

    n: int
    user_ids: pa.Array
    ltype: np.ndarray
    style: np.ndarray
    tz: np.ndarray
    pref_format: np.ndarray
    ability: np.ndarray
    drop_day: np.ndarray


def draw_population(rng: np.random.Generator, n: int, days: int, start_day: date) -> tuple[Population, pa.Table]:
    """The learners and their profiles table."""
    user_ids = ids("u", n, 6)
    ltype = rng.choice(len(SEGMENTS), size=n, p=TYPE_SHARE)
    style = rng.integers(0, len(STYLES), n)
    tz = rng.choice(len(TIMEZONES), size=n, p=[0.4, 0.15, 0.15, 0.15, 0.15])
    pref_format = rng.integers(0, 3, n)
    ability = rng.normal(ABILITY_MU[ltype], 0.45)
    drop_day = np.where(ltype == 3, rng.integers(max(1, days // 5), max(2, days // 2 + 1), n), days + 1)
    pop = Population(n, user_ids, ltype, style, tz, pref_format, ability, drop_day)
    return pop, _profiles_table(rng, pop, start_day)


def _format_ratings(rng: np.random.Generator, pop: Population) -> tuple[np.ndarray, np.ndarray]:
    """Comprehension (0-1) and comfort (1-5) per format; a Format Mismatch learner understands their own
    preferred format worst."""
    n, ltype, pref_format = pop.n, pop.ltype, pop.pref_format
    comprehension = np.clip(rng.normal(0.7, 0.1, (n, 3)), 0.05, 1.0)
    mismatch = ltype == 4
    comprehension[mismatch, pref_format[mismatch]] = np.clip(rng.normal(0.35, 0.08, mismatch.sum()), 0.05, 1.0)
    comprehension[np.arange(n), pref_format] += np.where(mismatch, 0.0, 0.08)
    comprehension = np.round(np.clip(comprehension, 0, 1), 2)
    comfort = np.clip(np.round(rng.normal(3.0, 0.8, (n, 3))), 1, 5).astype(np.int32)
    comfort[np.arange(n), pref_format] = rng.integers(4, 6, n)
    return comprehension, comfort


def _profiles_table(rng: np.random.Generator, pop: Population, start_day: date) -> pa.Table:
    n, ltype, pref_format = pop.n, pop.ltype, pop.pref_format
    comprehension, comfort = _format_ratings(rng, pop)
    level = np.array([rng.choice(3, p=LEVEL_P[t]) for t in ltype])
    gpa = np.round(np.clip(rng.normal(np.array([2.3, 3.6, 3.0, 2.7, 2.9])[ltype], 0.4), 0, 4), 2)
    age = np.clip(rng.normal(24, 6, n), 16, 70).astype(np.int32)
    signup = np.datetime64(start_day.isoformat(), "us") - np.timedelta64(1, "D") - rng.integers(0, 365, n).astype("timedelta64[D]")
    return pa.table(
        {
            "user_id": pop.user_ids,
            "age": age,
            "class_year": rng.integers(1, 5, n).astype(np.int32),
            "courses_completed": np.where(level == 2, rng.integers(3, 12, n), rng.integers(0, 5, n)).astype(np.int32),
            "gpa": gpa,
            "learner_purpose": pa.array(np.array(["scratch", "revising", "exploring"])[np.where(ltype == 0, 0, rng.integers(0, 3, n))]),
            "format_preference": pa.array(np.array(FORMATS)[pref_format]),
            "format_comfort_rating_text": comfort[:, 0],
            "format_comfort_rating_image": comfort[:, 1],
            "format_comfort_rating_video": comfort[:, 2],
            "format_comprehension_score_text": comprehension[:, 0],
            "format_comprehension_score_image": comprehension[:, 1],
            "format_comprehension_score_video": comprehension[:, 2],
            "session_preference": pa.array(np.where(np.isin(ltype, (1, 2)) & (rng.random(n) < 0.7), "long_sessions", "short_chunks")),
            "ui_theme_preference": pa.array(np.array(["light", "dark", "system"])[rng.integers(0, 3, n)]),
            "layout_preference": pa.array(np.array(["compact", "comfortable", "focus"])[rng.integers(0, 3, n)]),
            "study_mode": pa.array(np.where(rng.random(n) < 0.3, "group", "solo")),
            "learner_level": pa.array(np.array(["basic", "intermediate", "advanced"])[level]),
            "timezone": pa.array(np.array(TIMEZONES)[pop.tz]),
            "leaderboard_opt_out": rng.random(n) < 0.1,
            "analytics_opt_out": rng.random(n) < 0.02,
            "signed_up_at": pa.array(signup, pa.timestamp("us", tz="UTC")),
        }
    )


@dataclass
class Enrolments:
    """1-3 courses per learner; half the Disengaging learners withdraw a week after they drop out."""

    n_enrol: np.ndarray
    enrolled: np.ndarray  # learner × course
    user: np.ndarray
    course: np.ndarray
    withdraw: np.ndarray
    table: pa.Table


def draw_enrolments(rng: np.random.Generator, pop: Population, catalog: Catalog, days: int,
                    start_ts: datetime) -> Enrolments:
    n, n_courses = pop.n, catalog.n_courses
    n_enrol = np.minimum(rng.integers(1, 4, n), n_courses)
    course_perm = np.argsort(rng.random((n, n_courses)), axis=1)
    enrolled = np.zeros((n, n_courses), dtype=bool)
    for k in range(n_courses):
        enrolled[np.arange(n), course_perm[:, k]] |= k < n_enrol
    e_user, e_course = np.nonzero(enrolled)
    withdraw = (pop.ltype[e_user] == 3) & (rng.random(len(e_user)) < 0.5) & (pop.drop_day[e_user] + 7 < days)
    withdrawn_at = [
        start_ts + timedelta(days=int(pop.drop_day[u]) + 7, hours=12) if w else None for u, w in zip(e_user, withdraw)
    ]
    table = pa.table(
        {
            "user_id": pc.take(pop.user_ids, pa.array(e_user)),
            "course_id": pa.array([catalog.course_ids[c] for c in e_course]),
            "enrolled_at": pa.array([start_ts - timedelta(days=1)] * len(e_user), pa.timestamp("us", tz="UTC")),
            "withdrawn_at": pa.array(withdrawn_at, pa.timestamp("us", tz="UTC")),
            "prior_attempts": pa.array(np.zeros(len(e_user), dtype=np.int32)),
            "credits": pa.nulls(len(e_user), pa.int32()),
        }
    )
    return Enrolments(n_enrol, enrolled, e_user, e_course, withdraw, table)


def labels_table(rng: np.random.Generator, pop: Population, label_fraction: float, end_date: date) -> pa.Table:
    """Instructor annotations for a sample of learners, with 5% disagreement (real labels are noisy)."""
    labelled = np.nonzero(rng.random(pop.n) < label_fraction)[0]
    noisy = rng.random(len(labelled)) < 0.05
    label_type = np.where(noisy, rng.integers(0, len(SEGMENTS), len(labelled)), pop.ltype[labelled])
    return pa.table(
        {
            "user_id": pc.take(pop.user_ids, pa.array(labelled, pa.int64())),
            "segment": pa.array(np.array(SEGMENTS)[label_type]),
            "labelled_by": pa.array(np.array(["instructor_a", "instructor_b"])[rng.integers(0, 2, len(labelled))]),
            "labelled_at": pa.array([datetime.combine(end_date, datetime.min.time(), timezone.utc)] * len(labelled), pa.timestamp("us", tz="UTC")),
        }
    )
