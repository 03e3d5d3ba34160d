"""One generated day as contract tables: events and chat messages, in a stable order with deterministic ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from devmentor.generator.catalog import Catalog, CatalogArrays
from devmentor.generator.params import CHAT_TEMPLATES, P_CHAT, STYLES, SYSTEM_TEMPLATES
from devmentor.ingest.contract import FORMATS


@dataclass
class Sessions:
    """One day's study sessions: per session, the learner, course, module, format, latent type and start."""

    n: int
    user: np.ndarray
    course: np.ndarray
    module: np.ndarray
    fmt: np.ndarray
    ltype: np.ndarray
    t0: np.ndarray
    session_ids: pa.Array


def events_table(rows: list[dict], day: date, ses: Sessions, user_ids: pa.Array, catalog: Catalog,
                 arr: CatalogArrays) -> pa.Table:
    """One day's events from the per-kind row specs (session index ``s``, offsets, ids by index)."""
    s_user, s_course, t0, session_ids = ses.user, ses.course, ses.t0, ses.session_ids
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
            skill = pc.take(arr.skill_ids, pa.array(catalog.module_skill[catalog.question_module[question]]))
            objective = pc.take(arr.objective_ids, pa.array(question))
            topic = catalog.question_topic[question]
        elif r.get("content") is not None:
            content = np.asarray(r["content"], dtype=np.int64)
            skill = pc.take(arr.skill_ids, pa.array(catalog.module_skill[content // catalog.content_per_module]))
        ts = t0[s] + (np.asarray(r["offset_s"], dtype=float) * 1e6).astype("timedelta64[us]")
        parts.append(
            pa.table(
                {
                    "user_id": pc.take(user_ids, pa.array(s_user[s])),
                    "event_type": pa.array([r["event_type"]] * k),
                    "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
                    "session_id": pc.take(session_ids, pa.array(s)),
                    "course_id": pc.take(arr.course_ids, pa.array(s_course[s])),
                    "module_id": pc.take(arr.module_ids, pa.array(module)),
                    "content_id": opt("content", arr.content_ids),
                    "format": opt("fmt", arr.formats),
                    "duration_s": opt("duration_s", typ=pa.float64()),
                    "clicks": opt("clicks", typ=pa.int32()),
                    "question_id": opt("question", arr.question_ids),
                    "score": opt("score", typ=pa.float64()),
                    "skill_tag": skill if skill is not None else pa.nulls(k, pa.string()),
                    "objective_tag": objective if objective is not None else pa.nulls(k, pa.string()),
                    "retries": opt("retries", typ=pa.int32()),
                    "hint_used": opt("hint_used", typ=pa.bool_()),
                    "confidence": opt("confidence", typ=pa.float64()),
                    "topic_id": pc.take(arr.topic_ids, pa.array(np.asarray(topic, dtype=np.int64))) if topic is not None else pa.nulls(k, pa.string()),
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



def chat_table(rng: np.random.Generator, day: date, ses: Sessions, style: np.ndarray, end_offset: np.ndarray,
               user_ids: pa.Array, catalog: Catalog, arr: CatalogArrays) -> pa.Table | None:
    """One day's chat: some sessions hold 1-2 learner messages in the learner type's voice, each answered."""
    S, s_user, s_course, s_module, s_fmt, st = ses.n, ses.user, ses.course, ses.module, ses.fmt, ses.ltype
    t0, session_ids = ses.t0, ses.session_ids
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
    course = pc.take(arr.course_ids, pa.array(s_course[m_s]))
    topic_ids = pc.take(arr.topic_ids, pa.array(m_topic))
    skills = pc.take(arr.skill_ids, pa.array(catalog.module_skill[s_module[m_s]]))
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
