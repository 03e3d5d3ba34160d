"""What the xAPI and Caliper importers share: the contract rows a mapped record becomes (reading records and
their identifiers: devmentor/importers/_records.py), and landing them in the inbox (plus the quarantine of what cannot be mapped).

An importer turns each record (an xAPI statement, a Caliper event) into ``Facts``: who, when, what, in
which course and session, with score, duration and progress where the source says them, and a *rule*
from its own table (xapi.VERBS, caliper.ACTIONS). ``build`` turns facts and rule into contract rows:

| rule | contract rows |
|---|---|
| view | events: content_view (content_id, format, duration_s, progress) |
| answer | events: quiz_attempt (question_id, score, duration_s, hint_used); no score → rejected |
| attempt | quiz_attempt when it carries a score, else content_view of the item |
| session_start, session_end, hint_request, module_complete | events of that type |
| flag | events: content_flag with the flag_reason |
| post | chat_messages (direction user) when the record carries the text, else content_view of the discussion |
| enrol | enrolments: enrolled_at |
| withdraw | outcomes: withdrawn, and withdrawn_at of an enrolment the same file registers |
| outcome:pass, outcome:fail, outcome:completed | outcomes (the latest per learner and course wins) |
| reject:REASON | quarantined with the reason |
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from devmentor.importers._records import StatementError, item_id

EVENT_FIELDS = ("event_id", "user_id", "event_type", "timestamp", "session_id", "course_id", "module_id",
                "content_id", "format", "duration_s", "question_id", "score", "hint_used", "confidence",
                "flag_reason", "progress")
GRADED_RESULTS = ("pass", "distinction", "fail")
SAME_ANSWER_SECONDS = 5.0  # one submission reported twice (Open edX: problem check and graded submission)



@dataclass
class Facts:
    """One record, read: the contract fields it can fill, whatever standard it came in."""

    label: str  # the verb or event type and action, for reasons
    user_id: str
    timestamp: str
    event_id: str
    session_id: str
    course_id: str
    object_id: str
    module_id: str | None = None
    fmt: str = "text"
    score: float | None = None
    duration_s: float | None = None
    progress: float | None = None
    hint_used: bool | None = None
    confidence: float | None = None
    text: str | None = None
    topic_id: str | None = None
    flag_reason: str | None = None


def _event(f: Facts, event_type: str, **values) -> list[tuple[str, dict]]:
    row = dict.fromkeys(EVENT_FIELDS)
    row.update(event_id=f.event_id, user_id=f.user_id, event_type=event_type, timestamp=f.timestamp,
               session_id=f.session_id, course_id=f.course_id, module_id=f.module_id, content_id=f.object_id,
               duration_s=f.duration_s)
    row.update(values)
    return [("events", row)]


def _view(f: Facts) -> list[tuple[str, dict]]:
    progress = None if f.progress is None else min(max(float(f.progress), 0.0), 1.0)
    return _event(f, "content_view", format=f.fmt, progress=progress)


def _answer(f: Facts) -> list[tuple[str, dict]]:
    if f.score is None:
        raise StatementError("score", f"{f.label} carries no score (nor success), which a quiz attempt needs")
    return _event(f, "quiz_attempt", content_id=None, question_id=f.object_id, score=float(f.score),
                  hint_used=f.hint_used, confidence=None if f.confidence is None else float(f.confidence))


def _post(f: Facts) -> list[tuple[str, dict]]:
    if not f.text:
        return _view(f)
    return [("chat_messages", {
        "message_id": f.event_id, "user_id": f.user_id, "session_id": f.session_id, "timestamp": f.timestamp,
        "message_direction": "user", "message_text": f.text, "course_id": f.course_id,
        "contextual_topic_id": f.topic_id or f.object_id, "searchable_tags": "forum"})]


def _outcome(f: Facts, result: str) -> list[tuple[str, dict]]:
    return [("outcomes", {"user_id": f.user_id, "course_id": f.course_id, "final_result": result,
                          "result_at": f.timestamp})]


TARGETS: dict[str, Callable[[Facts], list[tuple[str, dict]]]] = {
    "view": _view,
    "answer": _answer,
    "attempt": lambda f: _answer(f) if f.score is not None else _view(f),
    "session_start": lambda f: _event(f, "session_start"),
    "session_end": lambda f: _event(f, "session_end"),
    "hint_request": lambda f: _event(f, "hint_request", hint_used=True),
    "module_complete": lambda f: _event(f, "module_complete", module_id=f.module_id or f.object_id),
    "flag": lambda f: _event(f, "content_flag", flag_reason=f.flag_reason or f.label),
    "post": _post,
    "enrol": lambda f: [("enrolments", {"user_id": f.user_id, "course_id": f.course_id, "enrolled_at": f.timestamp})],
    "withdraw": lambda f: _outcome(f, "withdrawn") + [
        ("enrolments", {"user_id": f.user_id, "course_id": f.course_id, "withdrawn_at": f.timestamp})],
    "outcome:pass": lambda f: _outcome(f, "pass"),
    "outcome:fail": lambda f: _outcome(f, "fail"),
    "outcome:completed": lambda f: _outcome(f, "completed"),
}


def build(rule: str, f: Facts, field: str) -> list[tuple[str, dict]]:
    """The contract rows of a record read as ``f`` under ``rule``; ``reject:REASON`` raises with the reason."""
    if rule.startswith("reject:"):
        raise StatementError(field, f"{f.label}: {rule.removeprefix('reject:')}")
    return TARGETS[rule](f)


@dataclass
class ImportResult:
    """What a file became: contract rows by entity, rejects with their reasons, and what was seen."""

    events: list[dict] = field(default_factory=list)
    chat_messages: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    actors: set[str] = field(default_factory=set)
    courses: dict[str, str | None] = field(default_factory=dict)  # id → title, when the source names it
    outcomes: dict[tuple[str, str], dict] = field(default_factory=dict)  # (user, course) → latest outcome
    enrolments: dict[tuple[str, str], dict] = field(default_factory=dict)
    mapped: int = 0
    described: int = 0  # entity descriptions (a Caliper envelope's), used to resolve references, not mapped
    outcome_statements: int = 0
    origins: dict[str, tuple[int, object]] = field(default_factory=dict)  # event_id → (position, record)

    def add(self, rows: list[tuple[str, dict]], position: int, record, title: str | None = None) -> None:
        self.mapped += 1
        for entity, row in rows:
            self.actors.add(row["user_id"])
            self.courses[row["course_id"]] = self.courses.get(row["course_id"]) or title
            if entity == "events":
                self.events.append(row)
                self.origins[row["event_id"]] = (position, record)
            elif entity == "chat_messages":
                self.chat_messages.append(row)
            elif entity == "outcomes":
                self.outcome_statements += 1
                self._outcome(row)
            else:
                self._enrolment(row)

    def _outcome(self, row: dict) -> None:
        """The latest outcome per learner and course wins (a resit's pass replaces the fail), except that a
        later "completed" does not replace a pass or a fail: it says the course is over, not how it went."""
        k = (row["user_id"], row["course_id"])
        current = self.outcomes.get(k)
        if current is None or (row["result_at"] >= current["result_at"] and not (
                row["final_result"] == "completed" and current["final_result"] in GRADED_RESULTS)):
            self.outcomes[k] = row

    def _enrolment(self, row: dict) -> None:
        current = self.enrolments.setdefault((row["user_id"], row["course_id"]), {
            "user_id": row["user_id"], "course_id": row["course_id"], "enrolled_at": None, "withdrawn_at": None})
        for column in ("enrolled_at", "withdrawn_at"):
            if row.get(column) and (current[column] is None or row[column] > current[column]):
                current[column] = row[column]

    def reject(self, position: int | None, field: str, reason: str, record: str | None) -> None:
        self.rejects.append({"row_number": position, "field": field, "reason": reason, "record": record})

    def finish(self, scrub: Callable[[object], str]) -> ImportResult:
        """Count one submission reported twice once; settle enrolments against withdrawals."""
        self._drop_repeated_answers(scrub)
        for k, enrolment in list(self.enrolments.items()):
            if enrolment["enrolled_at"] is None:
                del self.enrolments[k]  # a withdrawal of an enrolment registered elsewhere: its outcome says it
                continue
            if enrolment["withdrawn_at"] and enrolment["withdrawn_at"] < enrolment["enrolled_at"]:
                enrolment["withdrawn_at"] = None  # registered again after leaving
            outcome = self.outcomes.get(k)
            if outcome and outcome["final_result"] == "withdrawn" and outcome["result_at"] < enrolment["enrolled_at"]:
                del self.outcomes[k]
        return self

    def _drop_repeated_answers(self, scrub: Callable[[object], str]) -> None:
        last: dict[tuple, tuple[datetime, int]] = {}
        dropped: set[int] = set()
        answers = [e for e in self.events if e["event_type"] == "quiz_attempt"]
        for event in sorted(answers, key=lambda e: e["timestamp"]):
            k = (event["user_id"], item_id(event["question_id"]), event["score"])
            at = datetime.fromisoformat(event["timestamp"])
            position, record = self.origins[event["event_id"]]
            if k in last and (at - last[k][0]).total_seconds() <= SAME_ANSWER_SECONDS:
                dropped.add(id(event))
                self.mapped -= 1
                self.reject(position, "(statement)", f"the same answer as record {last[k][1]} "
                            "(one submission reported twice), counted once", scrub(record))
                continue
            last[k] = (at, position)
        self.events = [e for e in self.events if id(e) not in dropped]


def convert_records(items: list[tuple[int, object]], map_one: Callable, scrub: Callable[[object], str],
                    whole: str, described: Callable[[object], bool] = lambda item: False) -> ImportResult:
    """Map every record of a file with ``map_one`` (record → (rows, course title)); a record that cannot be
    mapped is rejected with its position, the field and the reason, and kept as ``scrub`` makes it."""
    out = ImportResult()
    for position, item in items:
        if isinstance(item, StatementError):
            out.reject(position or None, item.field, item.reason, None)
        elif described(item):
            out.described += 1
        else:
            try:
                rows, title = map_one(item)
            except StatementError as exc:
                out.reject(position, exc.field, exc.reason, scrub(item))
                continue
            except (TypeError, ValueError, AttributeError) as exc:  # e.g. a score that is not a number
                out.reject(position, whole, f"cannot map: {exc}", scrub(item))
                continue
            out.add(rows, position, item, title)
    return out.finish(scrub)


def write_rejects(lake: Path, source: Path, rejects: list[dict], folder: str) -> Path | None:
    qdir = lake / "quarantine" / folder
    qdir.mkdir(parents=True, exist_ok=True)
    target = qdir / f"part__{source.stem}-{hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:10]}.parquet"
    if not rejects:
        target.unlink(missing_ok=True)
        return None
    now = datetime.now(timezone.utc)
    pq.write_table(pa.Table.from_pylist([
        {"entity": folder, "source_file": str(source), "source_key": target.stem, "row_number": r["row_number"],
         "field": r["field"], "reason": r["reason"],
         "errors": json.dumps([{"field": r["field"], "reason": r["reason"]}]), "record": r["record"], "quarantined_at": now}
        for r in rejects
    ]), target)
    return target


def _instant(value: str | None):
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _write_parquet(target: Path, rows: list[dict], columns: dict[str, pa.DataType]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({c: pa.array([r[c] for r in rows], t) for c, t in columns.items()}), target)


def _known(lake: Path, entity: str, column: str) -> set[str]:
    import duckdb

    from devmentor.ingest.validate import ensure_schema_files

    ensure_schema_files(lake)
    pattern = str(Path(lake) / "raw" / entity / "**" / "*.parquet")
    with duckdb.connect() as con:
        return {r[0] for r in con.execute(
            f"SELECT DISTINCT {column} FROM read_parquet(?, union_by_name=true)", [pattern]).fetchall()}


def _by_day(inbox: Path, folder: str, stem: str, rows: list[dict]) -> list[str]:
    by_day: dict[str, list[dict]] = {}
    for row in rows:
        by_day.setdefault(row["timestamp"][:10], []).append(row)
    for day, day_rows in sorted(by_day.items()):
        target = inbox / folder / f"{day}-{stem}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(json.dumps(r) + "\n" for r in day_rows))
    return sorted(by_day)


def land(result: ImportResult, source: Path, inbox: Path, lake: Path, stem: str, folder: str) -> dict:
    """Write what a file became as contract files in the inbox (events and chat by day; new learners and
    courses; outcomes; enrolments) and its rejects into lake/quarantine/<folder>/; the ingest assets then
    validate the files like every other input. Returns the counts the CLI prints."""
    source = Path(source)
    write_rejects(lake, source, result.rejects, folder)
    new_actors = sorted(result.actors - _known(lake, "profiles", "user_id"))
    new_courses = sorted(set(result.courses) - _known(lake, "courses", "course_id"))
    if new_actors:
        _write_parquet(inbox / "profiles" / f"{stem}.parquet", [{"user_id": a} for a in new_actors],
                       {"user_id": pa.string()})
    if new_courses:
        _write_parquet(inbox / "catalog" / "courses" / f"{stem}.parquet",
                       [{"course_id": c, "title": result.courses[c] or c} for c in new_courses],
                       {"course_id": pa.string(), "title": pa.string()})
    ts = pa.timestamp("us", tz="UTC")
    if result.outcomes:
        rows = [{**o, "result_at": _instant(o["result_at"])} for _, o in sorted(result.outcomes.items())]
        _write_parquet(inbox / "outcomes" / f"{stem}.parquet", rows, {
            "user_id": pa.string(), "course_id": pa.string(), "final_result": pa.string(), "result_at": ts})
    if result.enrolments:
        rows = [{**e, "enrolled_at": _instant(e["enrolled_at"]), "withdrawn_at": _instant(e["withdrawn_at"])}
                for _, e in sorted(result.enrolments.items())]
        _write_parquet(inbox / "enrolments" / f"{stem}.parquet", rows, {
            "user_id": pa.string(), "course_id": pa.string(), "enrolled_at": ts, "withdrawn_at": ts})
    days = sorted(set(_by_day(inbox, "events", stem, result.events)) | set(_by_day(inbox, "chat", stem, result.chat_messages)))
    return {
        "statements_mapped": result.mapped,
        "statements_rejected": len(result.rejects),
        "entities_described": result.described,
        "events": len(result.events),
        "chat_messages": len(result.chat_messages),
        "enrolments": len(result.enrolments),
        "outcomes": len(result.outcomes),
        "new_learners": len(new_actors),
        "new_courses": len(new_courses),
        "days": days,
    }
