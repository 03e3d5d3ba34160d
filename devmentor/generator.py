"""Deterministic synthetic learner data in the input contract's layout.

Learners have a latent type (Struggling Novice, Fast Tracker, Steady Progressor,
Disengaging, Format Mismatch) that drives how often they study, how well they
answer, which formats they use, how they write in chat and when they drop out,
so the trees downstream have real signal to find.

Generation is vectorised across learners and streams one day at a time to disk:
memory holds the per-learner state and one day's rows, so it does not grow with
the number of days or events.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from devmentor.ingest.contract import FORMATS, SEGMENTS

DEFAULT_END_DATE = date(2026, 10, 31)
OUTPUT_FORMATS = ("parquet", "csv", "jsonl")

# Latent type parameters, indexed by position in SEGMENTS:
#            Struggling  Fast   Steady  Disengaging  Mismatch
TYPE_SHARE = np.array([0.22, 0.16, 0.30, 0.16, 0.16])
P_ACTIVE = np.array([0.55, 0.72, 0.62, 0.62, 0.58])
ABILITY_MU = np.array([-1.1, 1.3, 0.35, 0.0, 0.3])
LEARN_RATE = np.array([0.010, 0.020, 0.018, 0.008, 0.012])
P_HINT = np.array([0.45, 0.04, 0.14, 0.12, 0.20])
VIEWS_LAM = np.array([2.5, 2.0, 3.0, 1.5, 3.0])
QUIZ_LAM = np.array([3.5, 6.0, 4.0, 2.0, 4.0])
VIEW_MINUTES = np.array([9.0, 5.0, 8.0, 4.0, 8.0])
P_COMPLETE = np.array([0.10, 0.50, 0.25, 0.12, 0.18])
P_DEVIATE = np.array([0.04, 0.30, 0.06, 0.10, 0.08])
P_CHAT = np.array([0.30, 0.10, 0.12, 0.06, 0.22])
PREF_HOUR = np.array([20.0, 9.0, 18.0, 22.0, 15.0])
P_SECOND_SESSION = np.array([0.15, 0.40, 0.25, 0.05, 0.20])

TIMEZONES = ("UTC", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Kolkata")
TZ_OFFSET_H = np.array([0.0, 0.0, 1.0, -5.0, 5.5])  # standard-time offsets, good enough for sample data
STYLES = ("formal", "casual", "terse")

FLAG_REASONS = ("too hard", "unclear explanation", "broken video", "typo", "too easy")
TOPIC_FLAG_REASONS = ("want more practice", "confusing", "not relevant")

CHAT_TEMPLATES: dict[int, dict[str, tuple[str, ...]]] = {
    0: {  # Struggling Novice
        "formal": (
            "I do not understand how {topic} works. Could you please explain it with an example?",
            "I am confused by the question on {topic}. Could you give me a hint?",
            "I tried the {topic} exercise again but I still get it wrong. What am I missing?",
        ),
        "casual": (
            "i don't get {topic} at all, can you give me a hint?",
            "I'm stuck on this {topic} question, what am I doing wrong?",
            "this {topic} stuff is confusing me, can u explain it again",
        ),
        "terse": ("hint {topic}", "stuck on {topic}", "confused. {topic}?"),
    },
    1: {  # Fast Tracker
        "formal": (
            "I have already covered {topic}. May I skip to the next module?",
            "Is there a more advanced challenge on {topic}?",
        ),
        "casual": (
            "I've already got {topic}, can I skip ahead?",
            "that was easy, got anything harder on {topic}?",
        ),
        "terse": ("skip {topic}?", "harder {topic} please"),
    },
    2: {  # Steady Progressor
        "formal": (
            "Could you summarise the key points of {topic}?",
            "Thank you, that makes sense. What should I review next after {topic}?",
        ),
        "casual": (
            "can you sum up {topic} for me?",
            "thanks, that makes sense! what's next after {topic}?",
        ),
        "terse": ("summary {topic}", "next after {topic}?"),
    },
    3: {  # Disengaging
        "formal": (
            "I am not sure I will have time for {topic} this week.",
            "Is the {topic} part required for the course?",
        ),
        "casual": (
            "not sure I've got time for {topic} this week",
            "do I really need {topic}? kinda bored tbh",
        ),
        "terse": ("is {topic} required", "no time"),
    },
    4: {  # Format Mismatch
        "formal": (
            "The {fmt} on {topic} was difficult to follow. Is there another version?",
            "I went through the {fmt} about {topic} but I still do not understand it. Could you explain it differently?",
        ),
        "casual": (
            "the {fmt} on {topic} went way too fast for me, is there another version?",
            "I watched the {fmt} on {topic} but I still don't get it, can you explain it differently?",
        ),
        "terse": ("{fmt} on {topic} unclear", "other format for {topic}?"),
    },
}
SYSTEM_TEMPLATES = (
    "Here is a hint for {topic}: start from the definition and work through the first example step by step.",
    "Good question about {topic}. The key idea is to break the problem into smaller parts.",
    "You are doing well on {topic}. Try the practice set next to check your understanding.",
    "Let us look at {topic} from a different angle, with a short worked example.",
)


@dataclass
class GenerateSummary:
    out: Path
    learners: int
    days: int
    events: int
    chat_messages: int
    files: int
    seconds: float

    def as_dict(self) -> dict:
        return {
            "out": str(self.out),
            "learners": self.learners,
            "days": self.days,
            "events": self.events,
            "chat_messages": self.chat_messages,
            "files": self.files,
            "seconds": round(self.seconds, 2),
        }


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    return pa.array([f"{prefix}{i:0{width}d}" for i in range(n)], pa.string())


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class _Writer:
    """Writes one table per call in the requested file format."""

    def __init__(self, out: Path, fmt: str):
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"--format must be one of {', '.join(OUTPUT_FORMATS)}, got {fmt!r}")
        self.out = out
        self.fmt = fmt
        self.files = 0

    def write(self, folder: str, stem: str, table: pa.Table) -> Path:
        target_dir = self.out / folder
        target_dir.mkdir(parents=True, exist_ok=True)
        path = target_dir / f"{stem}.{self.fmt}"
        if self.fmt == "parquet":
            pq.write_table(table, path, compression="zstd")
        elif self.fmt == "csv":
            pacsv.write_csv(table, path)
        else:
            with path.open("w", encoding="utf-8") as fh:
                for row in table.to_pylist():
                    fh.write(json.dumps(row, default=_json_default, ensure_ascii=False))
                    fh.write("\n")
        self.files += 1
        return path


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value))


class Catalog:
    """Courses → modules → content items (one per format) and a question bank."""

    def __init__(self, rng: np.random.Generator, n_courses: int, n_modules: int):
        self.n_courses = n_courses
        self.n_modules = n_modules
        subjects = ("Python", "Data Analysis", "Web Development", "Machine Learning", "Databases", "Algorithms")
        self.course_ids = [f"C{c + 1:02d}" for c in range(n_courses)]
        self.course_titles = [subjects[c % len(subjects)] + (f" {c // len(subjects) + 1}" if c >= len(subjects) else "") for c in range(n_courses)]
        n_mod_total = n_courses * n_modules
        self.module_ids = [f"{self.course_ids[m // n_modules]}-M{m % n_modules + 1:02d}" for m in range(n_mod_total)]
        self.module_course = np.arange(n_mod_total) // n_modules
        # Two topics per module, two skills per course-half.
        self.topics_per_module = 2
        self.topic_ids = [f"{mid}-T{t + 1}" for mid in self.module_ids for t in range(self.topics_per_module)]
        self.topic_names = [
            f"{self.course_titles[m // n_modules].lower()} topic {m % n_modules + 1}.{t + 1}"
            for m in range(n_mod_total)
            for t in range(self.topics_per_module)
        ]
        self.skills_per_course = max(2, n_modules // 2)
        self.module_skill = np.array(
            [m // n_modules * self.skills_per_course + min(m % n_modules // 2, self.skills_per_course - 1) for m in range(n_mod_total)]
        )
        self.skill_ids = [f"{self.course_ids[s // self.skills_per_course]}-S{s % self.skills_per_course + 1}" for s in range(n_courses * self.skills_per_course)]
        # Content: 3 lessons × 3 formats per module.
        self.lessons_per_module = 3
        self.content_per_module = self.lessons_per_module * len(FORMATS)
        n_content = n_mod_total * self.content_per_module
        self.content_ids = [f"{self.module_ids[i // self.content_per_module]}-L{(i % self.content_per_module) // 3 + 1}-{FORMATS[i % 3][0].upper()}" for i in range(n_content)]
        self.content_difficulty = np.round(rng.uniform(0.2, 0.8, n_content), 2)
        # Questions: 12 per module.
        self.questions_per_module = 12
        n_q = n_mod_total * self.questions_per_module
        self.question_ids = [f"{self.module_ids[i // self.questions_per_module]}-Q{i % self.questions_per_module + 1:02d}" for i in range(n_q)]
        self.question_module = np.arange(n_q) // self.questions_per_module
        self.question_topic = self.question_module * self.topics_per_module + (np.arange(n_q) % self.topics_per_module)
        self.question_difficulty = np.round(np.clip(rng.beta(2.2, 2.2, n_q), 0.02, 0.98), 2)
        self.objective_ids = [f"{self.module_ids[i // self.questions_per_module]}-O{(i % self.questions_per_module) // 4 + 1}" for i in range(n_q)]

    def tables(self) -> dict[str, pa.Table]:
        n_mod_total = len(self.module_ids)
        courses = pa.table(
            {
                "course_id": self.course_ids,
                "title": self.course_titles,
                "subject": ["computing"] * self.n_courses,
                # Self-paced courses: no calendar, so no day N, no early warning and no outcomes (docs/models.md).
                "starts_at": pa.nulls(self.n_courses, pa.timestamp("us", tz="UTC")),
                "ends_at": pa.nulls(self.n_courses, pa.timestamp("us", tz="UTC")),
            }
        )
        modules = pa.table(
            {
                "module_id": self.module_ids,
                "course_id": [self.course_ids[c] for c in self.module_course],
                "position": [m % self.n_modules + 1 for m in range(n_mod_total)],
                "title": [f"Module {m % self.n_modules + 1}" for m in range(n_mod_total)],
                "prerequisites": [self.module_ids[m - 1] if m % self.n_modules else None for m in range(n_mod_total)],
            }
        )
        n_content = len(self.content_ids)
        cmod = np.arange(n_content) // self.content_per_module
        content = pa.table(
            {
                "content_id": self.content_ids,
                "module_id": [self.module_ids[m] for m in cmod],
                "course_id": [self.course_ids[self.module_course[m]] for m in cmod],
                "kind": ["lesson"] * n_content,
                "format": [FORMATS[i % 3] for i in range(n_content)],
                "topic_id": [self.topic_ids[m * self.topics_per_module + ((i % self.content_per_module) // 3) % self.topics_per_module] for i, m in enumerate(cmod)],
                "skill_tag": [self.skill_ids[self.module_skill[m]] for m in cmod],
                "difficulty": self.content_difficulty,
                "position": [(i % self.content_per_module) + 1 for i in range(n_content)],
            }
        )
        qm = self.question_module
        questions = pa.table(
            {
                "question_id": self.question_ids,
                "module_id": [self.module_ids[m] for m in qm],
                "course_id": [self.course_ids[self.module_course[m]] for m in qm],
                "topic_id": [self.topic_ids[t] for t in self.question_topic],
                "skill_tag": [self.skill_ids[self.module_skill[m]] for m in qm],
                "objective_tag": self.objective_ids,
                "difficulty": self.question_difficulty,
                "due_at": pa.nulls(len(self.question_ids), pa.timestamp("us", tz="UTC")),
                "weight": pa.nulls(len(self.question_ids), pa.float64()),
            }
        )
        return {"courses": courses, "modules": modules, "content_items": content, "questions": questions}


def generate(
    out: Path,
    learners: int = 2000,
    days: int = 30,
    seed: int = 7,
    fmt: str = "parquet",
    end_date: date = DEFAULT_END_DATE,
    n_courses: int = 4,
    n_modules: int = 6,
    label_fraction: float = 0.4,
    progress: Callable[[str], None] | None = None,
) -> GenerateSummary:
    """Write a complete inbox (profiles, catalog, enrolments, labels, events, chat) to ``out``."""
    if learners < 1:
        raise ValueError("--learners must be at least 1")
    if days < 1:
        raise ValueError("--days must be at least 1")
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out, fmt)
    rng = np.random.default_rng(seed)
    say = progress or (lambda _msg: None)

    catalog = Catalog(rng, n_courses, n_modules)
    for name, table in catalog.tables().items():
        writer.write(f"catalog/{name}", name, table)

    start_day = end_date - timedelta(days=days - 1)
    start_ts = datetime(start_day.year, start_day.month, start_day.day, tzinfo=timezone.utc)

    # ---- learners -------------------------------------------------------------------------
    n = learners
    user_ids = _ids("u", n, 6)
    ltype = rng.choice(len(SEGMENTS), size=n, p=TYPE_SHARE)
    style = rng.integers(0, len(STYLES), n)
    tz = rng.choice(len(TIMEZONES), size=n, p=[0.4, 0.15, 0.15, 0.15, 0.15])
    pref_format = rng.integers(0, 3, n)
    ability = rng.normal(ABILITY_MU[ltype], 0.45)
    drop_day = np.where(ltype == 3, rng.integers(max(1, days // 5), max(2, days // 2 + 1), n), days + 1)
    comprehension = np.clip(rng.normal(0.7, 0.1, (n, 3)), 0.05, 1.0)
    mismatch = ltype == 4
    comprehension[mismatch, pref_format[mismatch]] = np.clip(rng.normal(0.35, 0.08, mismatch.sum()), 0.05, 1.0)
    comprehension[np.arange(n), pref_format] += np.where(mismatch, 0.0, 0.08)
    comprehension = np.round(np.clip(comprehension, 0, 1), 2)
    comfort = np.clip(np.round(rng.normal(3.0, 0.8, (n, 3))), 1, 5).astype(np.int32)
    comfort[np.arange(n), pref_format] = rng.integers(4, 6, n)
    level_p = {
        0: [0.80, 0.18, 0.02],
        1: [0.05, 0.35, 0.60],
        2: [0.25, 0.55, 0.20],
        3: [0.35, 0.45, 0.20],
        4: [0.30, 0.50, 0.20],
    }
    level = np.array([rng.choice(3, p=level_p[t]) for t in ltype])
    gpa = np.round(np.clip(rng.normal(np.array([2.3, 3.6, 3.0, 2.7, 2.9])[ltype], 0.4), 0, 4), 2)
    age = np.clip(rng.normal(24, 6, n), 16, 70).astype(np.int32)
    signup = np.datetime64(start_day.isoformat(), "us") - np.timedelta64(1, "D") - rng.integers(0, 365, n).astype("timedelta64[D]")
    profiles = pa.table(
        {
            "user_id": user_ids,
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
            "timezone": pa.array(np.array(TIMEZONES)[tz]),
            "leaderboard_opt_out": rng.random(n) < 0.1,
            "analytics_opt_out": rng.random(n) < 0.02,
            "signed_up_at": pa.array(signup, pa.timestamp("us", tz="UTC")),
        }
    )
    writer.write("profiles", "profiles", profiles)

    # Enrolments: 1-3 courses per learner.
    n_enrol = np.minimum(rng.integers(1, 4, n), n_courses)
    course_perm = np.argsort(rng.random((n, n_courses)), axis=1)
    enrolled = np.zeros((n, n_courses), dtype=bool)
    for k in range(n_courses):
        enrolled[np.arange(n), course_perm[:, k]] |= k < n_enrol
    e_user, e_course = np.nonzero(enrolled)
    withdraw = (ltype[e_user] == 3) & (rng.random(len(e_user)) < 0.5) & (drop_day[e_user] + 7 < days)
    withdrawn_at = [
        start_ts + timedelta(days=int(drop_day[u]) + 7, hours=12) if w else None for u, w in zip(e_user, withdraw)
    ]
    enrolments = pa.table(
        {
            "user_id": pc.take(user_ids, pa.array(e_user)),
            "course_id": pa.array([catalog.course_ids[c] for c in e_course]),
            "enrolled_at": pa.array([start_ts - timedelta(days=1)] * len(e_user), pa.timestamp("us", tz="UTC")),
            "withdrawn_at": pa.array(withdrawn_at, pa.timestamp("us", tz="UTC")),
            "prior_attempts": pa.array(np.zeros(len(e_user), dtype=np.int32)),
            "credits": pa.nulls(len(e_user), pa.int32()),
        }
    )
    writer.write("enrolments", "enrolments", enrolments)

    # Instructor annotations for a sample of learners, with 5% disagreement (real labels are noisy).
    labelled = np.nonzero(rng.random(n) < label_fraction)[0]
    noisy = rng.random(len(labelled)) < 0.05
    label_type = np.where(noisy, rng.integers(0, len(SEGMENTS), len(labelled)), ltype[labelled])
    labels = pa.table(
        {
            "user_id": pc.take(user_ids, pa.array(labelled, pa.int64())),
            "segment": pa.array(np.array(SEGMENTS)[label_type]),
            "labelled_by": pa.array(np.array(["instructor_a", "instructor_b"])[rng.integers(0, 2, len(labelled))]),
            "labelled_at": pa.array([datetime.combine(end_date, datetime.min.time(), timezone.utc)] * len(labelled), pa.timestamp("us", tz="UTC")),
        }
    )
    writer.write("labels", "learner_labels", labels)
    say(f"catalog, {n:,} profiles, {len(e_user):,} enrolments and {len(labelled):,} labels written")

    # ---- daily activity ---------------------------------------------------------------------
    module_pos = np.zeros((n, n_courses), dtype=np.int64)
    enrolled_idx = np.where(enrolled, np.arange(n_courses)[None, :], n_courses)
    enrolled_idx.sort(axis=1)
    withdrawn_day = np.full((n, n_courses), days + 10)
    withdrawn_day[e_user[withdraw], e_course[withdraw]] = drop_day[e_user[withdraw]] + 7
    total_events = 0
    total_chat = 0
    module_ids_arr = pa.array(catalog.module_ids)
    course_ids_arr = pa.array(catalog.course_ids)
    content_ids_arr = pa.array(catalog.content_ids)
    question_ids_arr = pa.array(catalog.question_ids)
    topic_ids_arr = pa.array(catalog.topic_ids)
    skill_ids_arr = pa.array(catalog.skill_ids)
    objective_arr = pa.array(catalog.objective_ids)
    formats_arr = pa.array(list(FORMATS))
    for d in range(days):
        day = start_day + timedelta(days=d)
        day_ts = np.datetime64(day.isoformat(), "us")
        weekend = day.weekday() >= 5
        p = P_ACTIVE[ltype] * (0.75 if weekend else 1.0)
        p = np.where(d >= drop_day, p * 0.08, p)
        active = np.nonzero(rng.random(n) < p)[0]
        # pick a course the learner is enrolled in and has not withdrawn from
        pick = enrolled_idx[active, (rng.random(len(active)) * n_enrol[active]).astype(np.int64)]
        still = withdrawn_day[active, pick] > d
        active, pick = active[still], pick[still]
        n_sess = 1 + (rng.random(len(active)) < P_SECOND_SESSION[ltype[active]])
        s_user = np.repeat(active, n_sess)
        s_course = np.repeat(pick, n_sess)
        S = len(s_user)
        if S == 0:
            continue
        st = ltype[s_user]
        s_mod_pos = np.minimum(module_pos[s_user, s_course], n_modules - 1)
        s_module = s_course * n_modules + s_mod_pos
        s_fmt = np.where(rng.random(S) < np.where(st == 4, 0.75, 0.6), pref_format[s_user], rng.integers(0, 3, S))
        local_hour = np.clip(rng.normal(PREF_HOUR[st], 1.5), 0, 23.5)
        s_sequence = np.zeros(S, dtype=np.int64)
        if S > 1:
            same = s_user[1:] == s_user[:-1]
            s_sequence[1:] = same.astype(np.int64)
        local_hour = np.where(s_sequence == 1, np.minimum(local_hour + 2.5, 23.8), local_hour)
        utc_hour = (local_hour - TZ_OFFSET_H[tz[s_user]]) % 24
        t0 = day_ts + (utc_hour * 3600e6).astype("timedelta64[us]")
        session_ids = pc.binary_join_element_wise(pa.scalar(f"s{day.strftime('%Y%m%d')}-"), pa.array(np.arange(S).astype(str)), "")

        rows: list[dict[str, pa.Array | np.ndarray]] = []

        # content views
        n_v = 1 + rng.poisson(VIEWS_LAM[st])
        v_s = np.repeat(np.arange(S), n_v)
        V = len(v_s)
        v_fmt = np.where(rng.random(V) < 0.85, s_fmt[v_s], rng.integers(0, 3, V))
        v_dev = rng.random(V) < P_DEVIATE[st[v_s]]
        v_module = np.where(v_dev, s_course[v_s] * n_modules + rng.integers(0, n_modules, V), s_module[v_s])
        v_content = v_module * catalog.content_per_module + rng.integers(0, catalog.lessons_per_module, V) * 3 + v_fmt
        fmt_factor = np.array([1.0, 0.6, 1.3])[v_fmt]
        v_dur = np.round(rng.lognormal(np.log(VIEW_MINUTES[st[v_s]] * 60 * fmt_factor), 0.5), 1)
        v_dur = np.minimum(v_dur, 7200.0)
        cum = np.cumsum(v_dur)
        first = np.concatenate([[0], np.cumsum(n_v)[:-1]])
        session_view_start = cum[first] - v_dur[first]
        v_offset = cum - v_dur - session_view_start[v_s]
        view_total = np.add.reduceat(v_dur, first)
        rows.append(
            dict(
                s=v_s,
                event_type="content_view",
                offset_s=v_offset + 5,
                module=v_module,
                content=v_content,
                fmt=v_fmt,
                duration_s=v_dur,
                clicks=(1 + rng.poisson(v_dur / 90.0)).astype(np.int32),
            )
        )

        # quiz attempts
        n_q = rng.poisson(QUIZ_LAM[st])
        q_s = np.repeat(np.arange(S), n_q)
        Q = len(q_s)
        q_user = s_user[q_s]
        q_question = s_module[q_s] * catalog.questions_per_module + rng.integers(0, catalog.questions_per_module, Q)
        q_diff = (catalog.question_difficulty[q_question] - 0.5) * 3.0
        q_fmt = s_fmt[q_s]
        is_mis = ltype[q_user] == 4
        fmt_effect = np.where(is_mis, np.where(q_fmt == pref_format[q_user], -1.3, 0.4), 0.0)
        q_hint = rng.random(Q) < P_HINT[ltype[q_user]]
        logit = ability[q_user] + fmt_effect - q_diff + np.where(q_hint, 0.3, 0.0)
        p_correct = _sigmoid(logit)
        correct = rng.random(Q) < p_correct
        score = np.where(correct, 1.0, np.round(rng.uniform(0, 0.5, Q), 2))
        retries = np.where(correct, 0, rng.geometric(0.55, Q) - 1).astype(np.int32)
        overconf = np.where(ltype[q_user] == 1, 0.1, 0.0)
        confidence = np.round(np.clip(p_correct + overconf + rng.normal(0, 0.12, Q), 0, 1), 2)
        q_offset = view_total[q_s] + 10 + (np.arange(Q) - np.concatenate([[0], np.cumsum(n_q)])[q_s]) * 75
        rows.append(
            dict(
                s=q_s,
                event_type="quiz_attempt",
                offset_s=q_offset,
                module=s_module[q_s],
                question=q_question,
                fmt=q_fmt,
                score=score,
                retries=retries,
                hint_used=q_hint,
                confidence=confidence,
                duration_s=np.round(rng.uniform(20, 120, Q), 1),
            )
        )
        # learning from practice
        np.add.at(ability, q_user, LEARN_RATE[ltype[q_user]])

        # hint requests (one per attempt that used a hint)
        h_idx = np.nonzero(q_hint)[0]
        rows.append(
            dict(
                s=q_s[h_idx],
                event_type="hint_request",
                offset_s=q_offset[h_idx] + 20,
                module=s_module[q_s[h_idx]],
                question=q_question[h_idx],
            )
        )

        # module completion
        sess_correct = np.bincount(q_s, weights=correct.astype(float), minlength=S) / np.maximum(n_q, 1)
        completes = (rng.random(S) < P_COMPLETE[st] * np.where(sess_correct >= 0.5, 1.0, 0.3)) & (
            module_pos[s_user, s_course] < n_modules
        )
        c_s = np.nonzero(completes)[0]
        end_offset = view_total + n_q * 75 + 30
        rows.append(dict(s=c_s, event_type="module_complete", offset_s=end_offset[c_s] - 5, module=s_module[c_s]))
        np.add.at(module_pos, (s_user[c_s], s_course[c_s]), 1)

        # content and topic flags
        f_s = np.nonzero(rng.random(S) < np.where(st == 0, 0.05, 0.015))[0]
        rows.append(
            dict(
                s=f_s,
                event_type="content_flag",
                offset_s=np.full(len(f_s), 8.0),
                module=s_module[f_s],
                content=s_module[f_s] * catalog.content_per_module + s_fmt[f_s],
                flag_reason=np.array(FLAG_REASONS)[np.where(st[f_s] == 1, 4, rng.integers(0, 4, len(f_s)))],
            )
        )
        t_s = np.nonzero(rng.random(S) < np.where(np.isin(st, (0, 4)), 0.05, 0.015))[0]
        rows.append(
            dict(
                s=t_s,
                event_type="topic_flag",
                offset_s=end_offset[t_s] - 10,
                module=s_module[t_s],
                topic=s_module[t_s] * catalog.topics_per_module + rng.integers(0, catalog.topics_per_module, len(t_s)),
                flag_reason=np.array(TOPIC_FLAG_REASONS)[rng.integers(0, 3, len(t_s))],
            )
        )
        # session start/end
        rows.append(dict(s=np.arange(S), event_type="session_start", offset_s=np.zeros(S), module=s_module))
        rows.append(dict(s=np.arange(S), event_type="session_end", offset_s=end_offset, module=s_module, duration_s=np.round(end_offset, 1)))

        events = _events_table(rows, day, S, s_user, s_course, t0, session_ids, user_ids, catalog,
                               module_ids_arr, course_ids_arr, content_ids_arr, question_ids_arr,
                               topic_ids_arr, skill_ids_arr, objective_arr, formats_arr)
        writer.write("events", day.isoformat(), events)
        total_events += events.num_rows

        # chat
        chat = _chat_table(rng, day, S, s_user, s_course, s_module, s_fmt, st, style, t0, end_offset,
                           session_ids, user_ids, catalog, course_ids_arr, topic_ids_arr, skill_ids_arr)
        if chat is not None:
            writer.write("chat", day.isoformat(), chat)
            total_chat += chat.num_rows
        if (d + 1) % max(1, days // 10) == 0 or d == days - 1:
            say(f"day {d + 1}/{days} ({day.isoformat()}): {total_events:,} events, {total_chat:,} chat messages so far")

    summary = GenerateSummary(out, n, days, total_events, total_chat, writer.files, time.perf_counter() - started)
    (out / "_generated.json").write_text(json.dumps({**summary.as_dict(), "seed": seed, "format": fmt}, indent=2))
    return summary


def _events_table(rows, day, S, s_user, s_course, t0, session_ids, user_ids, catalog,
                  module_ids_arr, course_ids_arr, content_ids_arr, question_ids_arr,
                  topic_ids_arr, skill_ids_arr, objective_arr, formats_arr) -> pa.Table:
    parts = []
    for r in rows:
        s = np.asarray(r["s"], dtype=np.int64)
        k = len(s)
        if k == 0:
            continue
        def opt(name, dictionary=None, typ=None):
            v = r.get(name)
            if v is None:
                return pa.nulls(k, typ or pa.string())
            if dictionary is not None:
                return pc.take(dictionary, pa.array(np.asarray(v, dtype=np.int64)))
            return pa.array(v, typ) if typ is not None else pa.array(v)

        module = np.asarray(r["module"], dtype=np.int64)
        question = r.get("question")
        skill = None
        objective = None
        topic = r.get("topic")
        if question is not None:
            question = np.asarray(question, dtype=np.int64)
            skill = pc.take(skill_ids_arr, pa.array(catalog.module_skill[catalog.question_module[question]]))
            objective = pc.take(objective_arr, pa.array(question))
            topic = catalog.question_topic[question]
        elif r.get("content") is not None:
            content = np.asarray(r["content"], dtype=np.int64)
            skill = pc.take(skill_ids_arr, pa.array(catalog.module_skill[content // catalog.content_per_module]))
        ts = t0[s] + (np.asarray(r["offset_s"], dtype=float) * 1e6).astype("timedelta64[us]")
        parts.append(
            pa.table(
                {
                    "user_id": pc.take(user_ids, pa.array(s_user[s])),
                    "event_type": pa.array([r["event_type"]] * k),
                    "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
                    "session_id": pc.take(session_ids, pa.array(s)),
                    "course_id": pc.take(course_ids_arr, pa.array(s_course[s])),
                    "module_id": pc.take(module_ids_arr, pa.array(module)),
                    "content_id": opt("content", content_ids_arr),
                    "format": opt("fmt", formats_arr),
                    "duration_s": opt("duration_s", typ=pa.float64()),
                    "clicks": opt("clicks", typ=pa.int32()),
                    "question_id": opt("question", question_ids_arr),
                    "score": opt("score", typ=pa.float64()),
                    "skill_tag": skill if skill is not None else pa.nulls(k, pa.string()),
                    "objective_tag": objective if objective is not None else pa.nulls(k, pa.string()),
                    "retries": opt("retries", typ=pa.int32()),
                    "hint_used": opt("hint_used", typ=pa.bool_()),
                    "confidence": opt("confidence", typ=pa.float64()),
                    "topic_id": pc.take(topic_ids_arr, pa.array(np.asarray(topic, dtype=np.int64))) if topic is not None else pa.nulls(k, pa.string()),
                    "flag_reason": opt("flag_reason"),
                }
            )
        )
    table = pa.concat_tables(parts)
    # Stable order: by timestamp within the day, then a deterministic event id.
    order = pc.sort_indices(table, sort_keys=[("timestamp", "ascending"), ("session_id", "ascending")])
    table = table.take(order)
    ids = pc.binary_join_element_wise(
        pa.scalar(f"e{day.strftime('%Y%m%d')}-"), pa.array(np.arange(table.num_rows).astype(str)), ""
    )
    return table.add_column(0, "event_id", ids)


def _chat_table(rng, day, S, s_user, s_course, s_module, s_fmt, st, style, t0, end_offset,
                session_ids, user_ids, catalog, course_ids_arr, topic_ids_arr, skill_ids_arr) -> pa.Table | None:
    chat_s = np.nonzero(rng.random(S) < P_CHAT[st])[0]
    if len(chat_s) == 0:
        return None
    n_msgs = rng.integers(1, 3, len(chat_s))
    m_s = np.repeat(chat_s, n_msgs)
    M = len(m_s)
    m_topic = s_module[m_s] * catalog.topics_per_module + rng.integers(0, catalog.topics_per_module, M)
    m_type = st[m_s]
    m_style = style[s_user[m_s]]
    pick = rng.random(M)
    sys_pick = rng.integers(0, len(SYSTEM_TEMPLATES), M)
    user_text = []
    sys_text = []
    for i in range(M):
        templates = CHAT_TEMPLATES[int(m_type[i])][STYLES[int(m_style[i])]]
        tmpl = templates[int(pick[i] * len(templates))]
        topic = catalog.topic_names[int(m_topic[i])]
        user_text.append(tmpl.format(topic=topic, fmt=FORMATS[int(s_fmt[m_s[i]])]))
        sys_text.append(SYSTEM_TEMPLATES[int(sys_pick[i])].format(topic=topic))
    asks_hint = np.array(["hint" in t.lower() for t in user_text])
    confused = np.array([any(w in t.lower() for w in ("confus", "don't get", "do not understand", "stuck", "still")) for t in user_text])
    base = t0[m_s] + ((end_offset[m_s] * rng.uniform(0.2, 0.9, M)) * 1e6).astype("timedelta64[us]")
    seq = np.arange(M) - np.concatenate([[0], np.cumsum(n_msgs)])[np.searchsorted(chat_s, m_s)]
    base = base + (seq * 90e6).astype("timedelta64[us]")
    reply = base + np.timedelta64(4, "s")
    user_ids_taken = pc.take(user_ids, pa.array(s_user[m_s]))
    sess = pc.take(session_ids, pa.array(m_s))
    course = pc.take(course_ids_arr, pa.array(s_course[m_s]))
    topic_ids = pc.take(topic_ids_arr, pa.array(m_topic))
    skills = pc.take(skill_ids_arr, pa.array(catalog.module_skill[s_module[m_s]]))
    objectives = pa.array([f"{catalog.module_ids[int(s_module[x])]}-O1" for x in m_s])
    flags_user = np.where(confused, "confused", None)
    sys_flags = np.where(rng.random(M) < 0.1, np.where(confused, "thumbs_down", "thumbs_up"), None)
    tags = pc.binary_join_element_wise(topic_ids, skills, ";")

    def part(direction, texts, ts, flags, hint):
        return pa.table(
            {
                "user_id": user_ids_taken,
                "session_id": sess,
                "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
                "message_direction": pa.array([direction] * M),
                "message_text": pa.array(texts),
                "course_id": course,
                "contextual_topic_id": topic_ids,
                "related_skill": skills,
                "related_objective": objectives,
                "hint_used": pa.array(hint),
                "feedback_flags": pa.array(flags, pa.string()),
                "searchable_tags": tags,
            }
        )

    table = pa.concat_tables(
        [part("user", user_text, base, flags_user, asks_hint), part("system", sys_text, reply, sys_flags, asks_hint)]
    )
    order = pc.sort_indices(table, sort_keys=[("timestamp", "ascending"), ("session_id", "ascending"), ("message_direction", "descending")])
    table = table.take(order)
    ids = pc.binary_join_element_wise(pa.scalar(f"m{day.strftime('%Y%m%d')}-"), pa.array(np.arange(table.num_rows).astype(str)), "")
    return table.add_column(0, "message_id", ids)
