"""What the xAPI and Caliper importers share: reading a file of records, identifiers, the contract rows
a mapped record becomes, and landing them in the inbox (plus the quarantine of what cannot be mapped).

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
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

DURATION = re.compile(r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Open edX keys inside the many URL forms its statements use (/course/…, /courses/…/, /xblock/…, bare keys).
COURSE_KEY = re.compile(r"course-v1:[^/?#\s]+")
BLOCK_KEY = re.compile(r"block-v1:(?:course-v1:)?([^/?#\s]+)")
EVENT_FIELDS = ("event_id", "user_id", "event_type", "timestamp", "session_id", "course_id", "module_id",
                "content_id", "format", "duration_s", "question_id", "score", "hint_used", "confidence",
                "flag_reason", "progress")
GRADED_RESULTS = ("pass", "distinction", "fail")
SAME_ANSWER_SECONDS = 5.0  # one submission reported twice (Open edX: problem check and graded submission)


class StatementError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_duration(text: str, field: str = "result.duration") -> float:
    m = DURATION.match(text or "")
    if not m or text in ("P", "PT"):
        raise StatementError(field, f"not an ISO 8601 duration: {text!r}")
    return sum(float(m[k] or 0) * mult for k, mult in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)))


def seconds(value, field: str) -> float | None:
    """Seconds from a number or an ISO 8601 duration (sources use both for the same extension)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise StatementError(field, f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    return parse_duration(str(value), field)


def utc_timestamp(value, field: str = "timestamp") -> str:
    if not value:
        raise StatementError(field, "missing")
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise StatementError(field, f"not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat()


def pseudonym(key: str, kind: str, value: str) -> str:
    """A keyed hash for a direct identifier (e-mail, OpenID URL, an account name that is an e-mail)."""
    return f"{kind}:" + hmac.new(key.encode(), str(value).strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


def mbox_pseudonym(key: str, mbox: str) -> str:
    """The pseudonym of a mailto: address: the keyed hash of the SHA-1 xAPI defines, so the same person
    matches whether a source sent the address, its mbox_sha1sum, or (Caliper) a mailto: actor id."""
    address = str(mbox).strip().lower()
    address = address if address.startswith("mailto:") else "mailto:" + address
    return pseudonym(key, "mbox", hashlib.sha1(address.encode()).hexdigest())


def account_id(key: str, kind: str, name: str) -> str:
    """An LMS account id as the learner id; one that is an e-mail address or a person's name is hashed."""
    name = str(name)
    return pseudonym(key, kind, name) if "@" in name or " " in name.strip() else name


def course_id(value: str) -> str:
    match = COURSE_KEY.search(str(value))
    return match[0].rstrip("/") if match else str(value)


def course_in(value: str) -> str | None:
    """The Open edX course a URL or block key names (block-v1:ORG+NUMBER+RUN+type@… is in course-v1:ORG+NUMBER+RUN)."""
    match = COURSE_KEY.search(str(value))
    if match:
        return match[0].rstrip("/").split("+type@")[0]
    block = BLOCK_KEY.search(str(value))
    return "course-v1:" + block[1].split("+type@")[0] if block and "+type@" in block[1] else None


def item_id(value: str) -> str:
    match = BLOCK_KEY.search(str(value))
    return "block-v1:" + match[1] if match else str(value)


def masked(record) -> str:
    """A record as the quarantine keeps it: JSON with every e-mail address masked, at most 20,000 characters."""
    return EMAIL.sub("[email]", json.dumps(record, default=str))[:20000]


def read_records(path: Path, envelope_keys: tuple[str, ...], what: str) -> list[tuple[int, object]]:
    """(1-based position, record or StatementError) for every record of a JSON file (one record, a list, or
    an envelope holding the list under one of ``envelope_keys``) or a JSON Lines file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        try:
            return _records_of(json.loads(text), envelope_keys, what)
        except json.JSONDecodeError as exc:
            if not (text.lstrip().startswith("{") and "\n" in text.strip()):
                return [(0, StatementError("(file)", f"not valid JSON at line {exc.lineno}: {exc.msg}"))]
    out: list[tuple[int, object]] = []
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                out.append((i, json.loads(line)))
            except json.JSONDecodeError as exc:
                out.append((i, StatementError("(line)", f"not valid JSON: {exc.msg}")))
    return out


def _records_of(doc, envelope_keys: tuple[str, ...], what: str) -> list[tuple[int, object]]:
    envelope = isinstance(doc, dict) and any(k in doc for k in envelope_keys)
    if envelope:
        doc = next(doc[k] for k in envelope_keys if k in doc)
    elif isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        keys = " or ".join(f'{{"{k}": [...]}}' for k in envelope_keys)
        return [(0, StatementError("(file)", f"expected {what}, a list of them or {keys}"))]
    return list(enumerate(doc, start=1))


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
