"""Deterministic synthetic learner data in the input contract's layout.

Learners have a latent type (Struggling Novice, Fast Tracker, Steady Progressor,
Disengaging, Format Mismatch) that drives how often they study, how well they
answer, which formats they use, how they write in chat and when they drop out,
so the trees downstream have real signal to find.

Generation is vectorised across learners and streams one day at a time to disk:
memory holds the per-learner state and one day's rows, so it does not grow with
the number of days or events.

    params.py      the learner types' behaviour, chat templates, formats
    catalog.py     courses, modules, content items, questions
    population.py  learners → profiles, enrolments, labels
    activity.py    one day: sessions, views, attempts, completions, flags
    tables.py      one day's rows → events and chat tables
    output.py      file writer and run summary
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from devmentor.generator.activity import Progress, content_views, quiz_attempts, session_endings, sessions
from devmentor.generator.catalog import Catalog
from devmentor.generator.output import GenerateSummary, Writer
from devmentor.generator.params import DEFAULT_END_DATE, OUTPUT_FORMATS
from devmentor.generator.population import draw_enrolments, draw_population, labels_table
from devmentor.generator.tables import chat_table, events_table

__all__ = ["DEFAULT_END_DATE", "OUTPUT_FORMATS", "Catalog", "GenerateSummary", "generate"]


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
    writer = Writer(out, fmt)
    rng = np.random.default_rng(seed)
    say = progress or (lambda _msg: None)

    catalog = Catalog(rng, n_courses, n_modules)
    for name, table in catalog.tables().items():
        writer.write(f"catalog/{name}", name, table)

    start_day = end_date - timedelta(days=days - 1)
    start_ts = datetime(start_day.year, start_day.month, start_day.day, tzinfo=timezone.utc)
    pop, profiles = draw_population(rng, learners, days, start_day)
    writer.write("profiles", "profiles", profiles)
    enrol = draw_enrolments(rng, pop, catalog, days, start_ts)
    writer.write("enrolments", "enrolments", enrol.table)
    labels = labels_table(rng, pop, label_fraction, end_date)
    writer.write("labels", "learner_labels", labels)
    say(f"catalog, {learners:,} profiles, {len(enrol.user):,} enrolments and {labels.num_rows:,} labels written")

    state = Progress.start(pop, enrol, n_courses, days)
    arrays = catalog.arrays()
    total_events = total_chat = 0
    for d in range(days):
        day = start_day + timedelta(days=d)
        ses = sessions(rng, d, day, pop, enrol, state, n_modules)
        if ses is not None:
            views, view_total = content_views(rng, ses, catalog)
            attempts = quiz_attempts(rng, ses, pop, catalog, view_total)
            endings, end_offset = session_endings(rng, ses, state, catalog, view_total, attempts)
            events = events_table([views, *attempts.rows, *endings], day, ses, pop.user_ids, catalog, arrays)
            writer.write("events", day.isoformat(), events)
            total_events += events.num_rows
            chat = chat_table(rng, day, ses, pop.style, end_offset, pop.user_ids, catalog, arrays)
            if chat is not None:
                writer.write("chat", day.isoformat(), chat)
                total_chat += chat.num_rows
        if (d + 1) % max(1, days // 10) == 0 or d == days - 1:
            say(f"day {d + 1}/{days} ({day.isoformat()}): {total_events:,} events, {total_chat:,} chat messages so far")

    summary = GenerateSummary(out, learners, days, total_events, total_chat, writer.files, time.perf_counter() - started)
    (out / "_generated.json").write_text(json.dumps({**summary.as_dict(), "seed": seed, "format": fmt}, indent=2))
    return summary
