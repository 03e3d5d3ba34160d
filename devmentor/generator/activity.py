"""One generated day of study: who is active, their sessions, and what they do in them (content views, quiz
attempts, hints, module completions, flags). Learners practise, so their ability grows day by day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from devmentor.generator.catalog import Catalog
from devmentor.generator.params import (
    FLAG_REASONS,
    LEARN_RATE,
    P_ACTIVE,
    P_COMPLETE,
    P_DEVIATE,
    P_HINT,
    P_SECOND_SESSION,
    PREF_HOUR,
    QUIZ_LAM,
    TOPIC_FLAG_REASONS,
    TZ_OFFSET_H,
    VIEW_MINUTES,
    VIEWS_LAM,
)
from devmentor.generator.population import Enrolments, Population
from devmentor.generator.tables import Sessions


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Progress:
    """What carries from day to day: each learner's module position per course, and withdrawal days."""

    module_pos: np.ndarray
    enrolled_idx: np.ndarray
    withdrawn_day: np.ndarray

    @classmethod
    def start(cls, pop: Population, enrol: Enrolments, n_courses: int, days: int) -> Progress:
        enrolled_idx = np.where(enrol.enrolled, np.arange(n_courses)[None, :], n_courses)
        enrolled_idx.sort(axis=1)
        withdrawn_day = np.full((pop.n, n_courses), days + 10)
        w = enrol.withdraw
        withdrawn_day[enrol.user[w], enrol.course[w]] = pop.drop_day[enrol.user[w]] + 7
        return cls(np.zeros((pop.n, n_courses), dtype=np.int64), enrolled_idx, withdrawn_day)


def sessions(rng: np.random.Generator, d: int, day: date, pop: Population, enrol: Enrolments, progress: Progress,
             n_modules: int) -> Sessions | None:
    """Today's sessions: active learners (less at weekends, hardly any after dropping out) in a course they
    have not withdrawn from, at their preferred local hour."""
    ltype = pop.ltype
    day_ts = np.datetime64(day.isoformat(), "us")
    weekend = day.weekday() >= 5
    p = P_ACTIVE[ltype] * (0.75 if weekend else 1.0)
    p = np.where(d >= pop.drop_day, p * 0.08, p)
    active = np.nonzero(rng.random(pop.n) < p)[0]
    pick = progress.enrolled_idx[active, (rng.random(len(active)) * enrol.n_enrol[active]).astype(np.int64)]
    still = progress.withdrawn_day[active, pick] > d
    active, pick = active[still], pick[still]
    n_sess = 1 + (rng.random(len(active)) < P_SECOND_SESSION[ltype[active]])
    s_user = np.repeat(active, n_sess)
    s_course = np.repeat(pick, n_sess)
    S = len(s_user)
    if S == 0:
        return None
    st = ltype[s_user]
    s_mod_pos = np.minimum(progress.module_pos[s_user, s_course], n_modules - 1)
    s_module = s_course * n_modules + s_mod_pos
    s_fmt = np.where(rng.random(S) < np.where(st == 4, 0.75, 0.6), pop.pref_format[s_user], rng.integers(0, 3, S))
    local_hour = np.clip(rng.normal(PREF_HOUR[st], 1.5), 0, 23.5)
    s_sequence = np.zeros(S, dtype=np.int64)
    if S > 1:
        same = s_user[1:] == s_user[:-1]
        s_sequence[1:] = same.astype(np.int64)
    local_hour = np.where(s_sequence == 1, np.minimum(local_hour + 2.5, 23.8), local_hour)
    utc_hour = (local_hour - TZ_OFFSET_H[pop.tz[s_user]]) % 24
    t0 = day_ts + (utc_hour * 3600e6).astype("timedelta64[us]")
    session_ids = pc.binary_join_element_wise(pa.scalar(f"s{day.strftime('%Y%m%d')}-"), pa.array(np.arange(S).astype(str)), "")
    return Sessions(S, s_user, s_course, s_module, s_fmt, st, t0, session_ids)


def content_views(rng: np.random.Generator, ses: Sessions, catalog: Catalog) -> tuple[dict, np.ndarray]:
    """Views in the session's format mostly, sometimes off the learner's path; returns the rows and each
    session's total viewing time."""
    S, st, n_modules = ses.n, ses.ltype, catalog.n_modules
    n_v = 1 + rng.poisson(VIEWS_LAM[st])
    v_s = np.repeat(np.arange(S), n_v)
    V = len(v_s)
    v_fmt = np.where(rng.random(V) < 0.85, ses.fmt[v_s], rng.integers(0, 3, V))
    v_dev = rng.random(V) < P_DEVIATE[st[v_s]]
    v_module = np.where(v_dev, ses.course[v_s] * n_modules + rng.integers(0, n_modules, V), ses.module[v_s])
    v_content = v_module * catalog.content_per_module + rng.integers(0, catalog.lessons_per_module, V) * 3 + v_fmt
    fmt_factor = np.array([1.0, 0.6, 1.3])[v_fmt]
    v_dur = np.round(rng.lognormal(np.log(VIEW_MINUTES[st[v_s]] * 60 * fmt_factor), 0.5), 1)
    v_dur = np.minimum(v_dur, 7200.0)
    cum = np.cumsum(v_dur)
    first = np.concatenate([[0], np.cumsum(n_v)[:-1]])
    session_view_start = cum[first] - v_dur[first]
    v_offset = cum - v_dur - session_view_start[v_s]
    view_total = np.add.reduceat(v_dur, first)
    row = dict(s=v_s, event_type="content_view", offset_s=v_offset + 5, module=v_module, content=v_content, fmt=v_fmt,
               duration_s=v_dur, clicks=(1 + rng.poisson(v_dur / 90.0)).astype(np.int32))
    return row, view_total


@dataclass
class Attempts:
    session: np.ndarray  # session index per attempt
    per_session: np.ndarray
    correct: np.ndarray
    rows: list[dict]


def quiz_attempts(rng: np.random.Generator, ses: Sessions, pop: Population, catalog: Catalog,
                  view_total: np.ndarray) -> Attempts:
    """Attempts on the session module's questions, right with a probability from ability, difficulty, hints
    and (for Format Mismatch learners) the format; one hint request per attempt that used a hint. Practice
    raises the learner's ability."""
    ltype, ability = pop.ltype, pop.ability
    n_q = rng.poisson(QUIZ_LAM[ses.ltype])
    q_s = np.repeat(np.arange(ses.n), n_q)
    Q = len(q_s)
    q_user = ses.user[q_s]
    q_question = ses.module[q_s] * catalog.questions_per_module + rng.integers(0, catalog.questions_per_module, Q)
    q_diff = (catalog.question_difficulty[q_question] - 0.5) * 3.0
    q_fmt = ses.fmt[q_s]
    is_mis = ltype[q_user] == 4
    fmt_effect = np.where(is_mis, np.where(q_fmt == pop.pref_format[q_user], -1.3, 0.4), 0.0)
    q_hint = rng.random(Q) < P_HINT[ltype[q_user]]
    logit = ability[q_user] + fmt_effect - q_diff + np.where(q_hint, 0.3, 0.0)
    p_correct = _sigmoid(logit)
    correct = rng.random(Q) < p_correct
    score = np.where(correct, 1.0, np.round(rng.uniform(0, 0.5, Q), 2))
    retries = np.where(correct, 0, rng.geometric(0.55, Q) - 1).astype(np.int32)
    overconf = np.where(ltype[q_user] == 1, 0.1, 0.0)
    confidence = np.round(np.clip(p_correct + overconf + rng.normal(0, 0.12, Q), 0, 1), 2)
    q_offset = view_total[q_s] + 10 + (np.arange(Q) - np.concatenate([[0], np.cumsum(n_q)])[q_s]) * 75
    rows = [dict(s=q_s, event_type="quiz_attempt", offset_s=q_offset, module=ses.module[q_s], question=q_question,
                 fmt=q_fmt, score=score, retries=retries, hint_used=q_hint, confidence=confidence,
                 duration_s=np.round(rng.uniform(20, 120, Q), 1))]
    np.add.at(ability, q_user, LEARN_RATE[ltype[q_user]])
    h_idx = np.nonzero(q_hint)[0]
    rows.append(dict(s=q_s[h_idx], event_type="hint_request", offset_s=q_offset[h_idx] + 20,
                     module=ses.module[q_s[h_idx]], question=q_question[h_idx]))
    return Attempts(q_s, n_q, correct, rows)


def session_endings(rng: np.random.Generator, ses: Sessions, progress: Progress, catalog: Catalog,
                    view_total: np.ndarray, attempts: Attempts) -> tuple[list[dict], np.ndarray]:
    """Module completions (likelier after a good session), content and topic flags, session start and end;
    returns the rows and each session's end offset in seconds."""
    S, st, n_modules = ses.n, ses.ltype, catalog.n_modules
    n_q = attempts.per_session
    sess_correct = np.bincount(attempts.session, weights=attempts.correct.astype(float), minlength=S) / np.maximum(n_q, 1)
    completes = (rng.random(S) < P_COMPLETE[st] * np.where(sess_correct >= 0.5, 1.0, 0.3)) & (
        progress.module_pos[ses.user, ses.course] < n_modules
    )
    c_s = np.nonzero(completes)[0]
    end_offset = view_total + n_q * 75 + 30
    rows = [dict(s=c_s, event_type="module_complete", offset_s=end_offset[c_s] - 5, module=ses.module[c_s])]
    np.add.at(progress.module_pos, (ses.user[c_s], ses.course[c_s]), 1)
    f_s = np.nonzero(rng.random(S) < np.where(st == 0, 0.05, 0.015))[0]
    rows.append(dict(s=f_s, event_type="content_flag", offset_s=np.full(len(f_s), 8.0), module=ses.module[f_s],
                     content=ses.module[f_s] * catalog.content_per_module + ses.fmt[f_s],
                     flag_reason=np.array(FLAG_REASONS)[np.where(st[f_s] == 1, 4, rng.integers(0, 4, len(f_s)))]))
    t_s = np.nonzero(rng.random(S) < np.where(np.isin(st, (0, 4)), 0.05, 0.015))[0]
    rows.append(dict(s=t_s, event_type="topic_flag", offset_s=end_offset[t_s] - 10, module=ses.module[t_s],
                     topic=ses.module[t_s] * catalog.topics_per_module + rng.integers(0, catalog.topics_per_module, len(t_s)),
                     flag_reason=np.array(TOPIC_FLAG_REASONS)[rng.integers(0, 3, len(t_s))]))
    rows.append(dict(s=np.arange(S), event_type="session_start", offset_s=np.zeros(S), module=ses.module))
    rows.append(dict(s=np.arange(S), event_type="session_end", offset_s=end_offset, module=ses.module,
                     duration_s=np.round(end_offset, 1)))
    return rows, end_offset
