"""xAPI statements (as an LRS or Open edX exports them) → the input contract's events.

Accepts a JSON file holding one statement, a list of statements or ``{"statements": [...]}``
(an LRS page), or JSON Lines with one statement per line. Each statement maps to one event:

| xAPI | event |
|---|---|
| actor.account.name, else mbox_sha1sum, else SHA-1 of actor.mbox (raw e-mails are never stored) | user_id |
| verb.id (see VERBS) | event_type |
| object.id | content_id, or question_id for answers |
| object.definition.type (video, image, ...) | format |
| result.score.scaled, else raw/max, else success → 1/0 | score |
| result.duration (ISO 8601, e.g. PT1M30S) | duration_s |
| result.extensions …/hint_used, …/confidence, result.response | hint_used, confidence |
| context.registration, else cmi5 session id, else user + day | session_id |
| context.contextActivities.grouping[0] / parent[0] | course_id / module_id |
| id (else a hash of the statement), timestamp | event_id, timestamp |

Outcomes: ``passed``, ``failed`` and ``completed`` (ADL) with a course as their object (object.definition.type
…/activities/course, or the object is the statement's course), and ``unregistered`` (TinCan), become the
enrolment's outcome (pass, fail, completed, withdrawn) at the statement's timestamp; the latest statement
per learner and course wins. ``passed``/``failed`` on anything else is an answer (score from the result,
else success → 1/0).

Unknown verbs and malformed statements are quarantined with the statement's position and the
reason; nothing is dropped silently. Learners and courses seen for the first time get minimal
profile and course rows so their events pass the contract's reference checks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

VERBS = {
    "http://adlnet.gov/expapi/verbs/launched": "session_start",
    "http://adlnet.gov/expapi/verbs/initialized": "session_start",
    "http://adlnet.gov/expapi/verbs/terminated": "session_end",
    "http://adlnet.gov/expapi/verbs/exited": "session_end",
    "http://adlnet.gov/expapi/verbs/experienced": "content_view",
    "http://id.tincanapi.com/verb/viewed": "content_view",
    "https://w3id.org/xapi/video/verbs/played": "content_view",
    "https://w3id.org/xapi/video/verbs/watched": "content_view",
    "http://adlnet.gov/expapi/verbs/answered": "quiz_attempt",
    "http://adlnet.gov/expapi/verbs/completed": "module_complete",
    "http://adlnet.gov/expapi/verbs/asked": "hint_request",
    "http://id.tincanapi.com/verb/flagged": "content_flag",
    "http://adlnet.gov/expapi/verbs/passed": "quiz_attempt",
    "http://adlnet.gov/expapi/verbs/failed": "quiz_attempt",
}
# Verbs that, with a course as their object, state how the enrolment ended (the outcomes entity).
OUTCOME_VERBS = {
    "http://adlnet.gov/expapi/verbs/passed": "pass",
    "http://adlnet.gov/expapi/verbs/failed": "fail",
    "http://adlnet.gov/expapi/verbs/completed": "completed",
    "http://id.tincanapi.com/verb/unregistered": "withdrawn",
    "http://adlnet.gov/expapi/verbs/unregistered": "withdrawn",
}
COURSE_TYPE = "activities/course"
VIDEO_TYPES = ("video", "media")
IMAGE_TYPES = ("image", "slide", "infographic")
HINT_EXT = re.compile(r"hint", re.I)
CONFIDENCE_EXT = re.compile(r"confidence", re.I)
DURATION = re.compile(r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")


class StatementError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass
class XapiResult:
    events: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    actors: set[str] = field(default_factory=set)
    courses: set[str] = field(default_factory=set)
    outcomes: dict[tuple[str, str], dict] = field(default_factory=dict)  # (user, course) → latest outcome
    outcome_statements: int = 0


def parse_duration(text: str) -> float:
    m = DURATION.match(text or "")
    if not m or text in ("P", "PT"):
        raise StatementError("result.duration", f"not an ISO 8601 duration: {text!r}")
    return sum(float(m[k] or 0) * mult for k, mult in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)))


def pseudonym(key: str, kind: str, value: str) -> str:
    """A keyed hash for a direct identifier (e-mail, OpenID URL, an account name that is an e-mail)."""
    return f"{kind}:" + hmac.new(key.encode(), str(value).strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


def _actor_id(actor, key: str) -> str:
    """The learner id of a statement's actor; direct identifiers are replaced by a keyed hash at ingest."""
    if not isinstance(actor, dict):
        raise StatementError("actor", "missing or not an object")
    account = actor.get("account") or {}
    if isinstance(account, dict) and account.get("name"):
        name = str(account["name"])
        return pseudonym(key, "acct", name) if "@" in name or " " in name.strip() else name
    if actor.get("mbox_sha1sum"):
        return pseudonym(key, "mbox", str(actor["mbox_sha1sum"]))
    if actor.get("mbox"):
        # the hash of the sha1 xAPI defines, so the same person matches whether the LRS sent mbox or mbox_sha1sum
        return pseudonym(key, "mbox", hashlib.sha1(str(actor["mbox"]).strip().lower().encode()).hexdigest())
    if actor.get("openid"):
        return pseudonym(key, "openid", str(actor["openid"]))
    raise StatementError("actor", "has no account, mbox, mbox_sha1sum or openid")


def _timestamp(statement: dict) -> str:
    ts = statement.get("timestamp")
    if not ts:
        raise StatementError("timestamp", "missing")
    try:
        parsed = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    except ValueError:
        raise StatementError("timestamp", f"not an ISO 8601 timestamp: {ts!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat()


def _first_id(activities) -> str | None:
    if isinstance(activities, dict):
        activities = [activities]
    if isinstance(activities, list) and activities and isinstance(activities[0], dict):
        return activities[0].get("id")
    return None


def _extension(extensions: dict, pattern: re.Pattern):
    for key, value in (extensions or {}).items():
        if pattern.search(key):
            return value
    return None


def _mapping(value, field: str) -> dict:
    """An optional JSON object: absent is empty, anything but an object is an error naming the field."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StatementError(field, f"must be a JSON object, got {type(value).__name__}")
    return value


def map_outcome(statement, key: str = "") -> dict | None:
    """The enrolment outcome a statement states (see OUTCOME_VERBS), or None when it is not one."""
    if not isinstance(statement, dict):
        return None
    verb = statement.get("verb")
    result = OUTCOME_VERBS.get(verb.get("id")) if isinstance(verb, dict) else None
    obj = statement.get("object")
    if result is None or not isinstance(obj, dict) or not obj.get("id"):
        return None
    definition_type = str(_mapping(obj.get("definition"), "object.definition").get("type", "")).lower()
    context = _mapping(statement.get("context"), "context")
    grouping = _first_id(_mapping(context.get("contextActivities"), "context.contextActivities").get("grouping"))
    is_course = COURSE_TYPE in definition_type or obj["id"] == grouping
    if not is_course and result in ("pass", "fail", "completed"):
        return None
    course_id = obj["id"] if is_course else (grouping or "xapi")
    return {"user_id": _actor_id(statement.get("actor"), key), "course_id": course_id,
            "final_result": result, "result_at": _timestamp(statement)}


def map_statement(statement, key: str = "") -> dict:
    """One statement → one contract event (raises StatementError naming the field)."""
    if not isinstance(statement, dict):
        raise StatementError("(statement)", "not a JSON object")
    user_id = _actor_id(statement.get("actor"), key)
    verb = statement.get("verb")
    if not isinstance(verb, dict) or not verb.get("id"):
        raise StatementError("verb.id", "missing")
    event_type = VERBS.get(verb["id"])
    if event_type is None:
        raise StatementError("verb.id", f"unknown verb {verb['id']!r}")
    obj = statement.get("object")
    if not isinstance(obj, dict) or not obj.get("id"):
        raise StatementError("object.id", "missing")
    timestamp = _timestamp(statement)
    context = _mapping(statement.get("context"), "context")
    activities = _mapping(context.get("contextActivities"), "context.contextActivities")
    result = _mapping(statement.get("result"), "result")
    definition_type = str(_mapping(obj.get("definition"), "object.definition").get("type", "")).lower()
    fmt = "video" if any(t in definition_type for t in VIDEO_TYPES) or "video" in verb["id"] else (
        "image" if any(t in definition_type for t in IMAGE_TYPES) else "text")
    score = None
    raw_score = _mapping(result.get("score"), "result.score")
    if "scaled" in raw_score:
        score = raw_score["scaled"]
    elif "raw" in raw_score and raw_score.get("max"):
        score = (float(raw_score["raw"]) - float(raw_score.get("min", 0))) / (float(raw_score["max"]) - float(raw_score.get("min", 0)))
    elif "success" in result:
        score = 1.0 if result["success"] else 0.0
    duration = parse_duration(result["duration"]) if result.get("duration") else None
    session = context.get("registration") or _extension(_mapping(context.get("extensions"), "context.extensions"),
                                                        re.compile("sessionid", re.I))
    course_id = _first_id(activities.get("grouping")) or _first_id(activities.get("parent")) or "xapi"
    is_answer = event_type == "quiz_attempt"
    result_ext = _mapping(result.get("extensions"), "result.extensions")
    hint = _extension(result_ext, HINT_EXT)
    confidence = _extension(result_ext, CONFIDENCE_EXT)
    event_id = statement.get("id") or hashlib.sha1(json.dumps(statement, sort_keys=True).encode()).hexdigest()
    return {
        "event_id": str(event_id),
        "user_id": user_id,
        "event_type": event_type,
        "timestamp": timestamp,
        "session_id": str(session or f"{user_id}-{timestamp[:10]}"),
        "course_id": course_id,
        "module_id": _first_id(activities.get("parent")),
        "content_id": None if is_answer else obj["id"],
        "format": fmt if event_type == "content_view" else None,
        "duration_s": duration,
        "question_id": obj["id"] if is_answer else None,
        "score": None if score is None else float(score),
        "hint_used": None if hint is None else bool(hint),
        "confidence": None if confidence is None else float(confidence),
    }


def read_statements(path: Path) -> list[tuple[int, object]]:
    """(1-based position, statement or parse error text) for every statement in the file."""
    text = Path(path).read_text(encoding="utf-8")
    stripped = text.lstrip()
    if path.suffix.lower() in (".jsonl", ".ndjson") or (stripped and stripped[0] == "{" and "\n{" in stripped and not stripped.startswith('{"statements"')):
        out = []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append((i, json.loads(line)))
            except json.JSONDecodeError as exc:
                out.append((i, StatementError("(line)", f"not valid JSON: {exc.msg}")))
        return out
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return [(0, StatementError("(file)", f"not valid JSON at line {exc.lineno}: {exc.msg}"))]
    if isinstance(doc, dict) and isinstance(doc.get("statements"), list):
        doc = doc["statements"]
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        return [(0, StatementError("(file)", "expected a statement, a list of statements or {\"statements\": [...]}"))]
    return list(enumerate(doc, start=1))


EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def scrubbed_record(statement, key: str) -> str:
    """A rejected statement as it is kept in the quarantine: the actor replaced by its learner id (the
    pseudonym, when it has one; else its identifying fields dropped), and any other e-mail address in the
    statement masked, so the quarantine holds no direct identifier."""
    if isinstance(statement, dict) and isinstance(statement.get("actor"), dict):
        statement = dict(statement)
        try:
            statement["actor"] = {"learner_id": _actor_id(statement["actor"], key)}
        except StatementError:
            statement["actor"] = {k: v for k, v in statement["actor"].items()
                                  if k not in ("mbox", "mbox_sha1sum", "openid", "name", "account")}
    return EMAIL.sub("[email]", json.dumps(statement, default=str))[:20000]


def convert(path: Path, key: str = "") -> XapiResult:
    """Statements → contract events; ``key`` is the pseudonymisation key (devmentor.privacy.privacy_key)."""
    out = XapiResult()
    for position, item in read_statements(path):
        if isinstance(item, StatementError):
            out.rejects.append({"row_number": position or None, "field": item.field, "reason": item.reason, "record": None})
            continue
        try:
            outcome = map_outcome(item, key)
            if outcome is not None:
                out.outcome_statements += 1
                k = (outcome["user_id"], outcome["course_id"])
                if k not in out.outcomes or outcome["result_at"] >= out.outcomes[k]["result_at"]:
                    out.outcomes[k] = outcome
                out.actors.add(outcome["user_id"])
                out.courses.add(outcome["course_id"])
                continue
            event = map_statement(item, key)
        except StatementError as exc:
            out.rejects.append({"row_number": position, "field": exc.field, "reason": exc.reason,
                                "record": scrubbed_record(item, key)})
            continue
        except (TypeError, ValueError) as exc:  # e.g. a score that is not a number
            out.rejects.append({"row_number": position, "field": "(statement)", "reason": f"cannot map: {exc}",
                                "record": scrubbed_record(item, key)})
            continue
        out.events.append(event)
        out.actors.add(event["user_id"])
        out.courses.add(event["course_id"])
    return out


def write_rejects(lake: Path, source: Path, rejects: list[dict]) -> Path | None:
    qdir = lake / "quarantine" / "xapi"
    qdir.mkdir(parents=True, exist_ok=True)
    target = qdir / f"part__{source.stem}-{hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:10]}.parquet"
    if not rejects:
        target.unlink(missing_ok=True)
        return None
    now = datetime.now(timezone.utc)
    pq.write_table(pa.Table.from_pylist([
        {"entity": "xapi", "source_file": str(source), "source_key": target.stem, "row_number": r["row_number"],
         "field": r["field"], "reason": r["reason"],
         "errors": json.dumps([{"field": r["field"], "reason": r["reason"]}]), "record": r["record"], "quarantined_at": now}
        for r in rejects
    ]), target)
    return target


def import_xapi(path: Path, inbox: Path, lake: Path, key: str) -> dict:
    """Convert a statements file into contract files in the inbox (events by day, new learners and courses);
    statements that cannot be mapped are quarantined with their position and reason. The files then go
    through the same ingest as every other input (`devmentor ingest xapi` runs it).

    Returns counts: statements mapped and rejected, new learners and courses, and the event files' days.
    """
    import duckdb

    from devmentor.ingest.validate import ensure_schema_files

    path = Path(path)
    result = convert(path, key)
    write_rejects(lake, path, result.rejects)
    ensure_schema_files(lake)
    con = duckdb.connect()

    def known(entity: str, column: str) -> set[str]:
        pattern = str(Path(lake) / "raw" / entity / "**" / "*.parquet")
        return {r[0] for r in con.execute(
            f"SELECT DISTINCT {column} FROM read_parquet(?, union_by_name=true)", [pattern]).fetchall()}

    new_actors = sorted(result.actors - known("profiles", "user_id"))
    new_courses = sorted(result.courses - known("courses", "course_id"))
    con.close()
    stem = f"xapi-{path.stem}"
    if new_actors:
        target = inbox / "profiles" / f"{stem}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"user_id": new_actors}), target)
    if new_courses:
        target = inbox / "catalog" / "courses" / f"{stem}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"course_id": new_courses, "title": new_courses}), target)
    if result.outcomes:
        target = inbox / "outcomes" / f"{stem}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        rows = sorted(result.outcomes.values(), key=lambda o: (o["user_id"], o["course_id"]))
        pq.write_table(pa.table({
            "user_id": [o["user_id"] for o in rows], "course_id": [o["course_id"] for o in rows],
            "final_result": [o["final_result"] for o in rows],
            "result_at": pa.array([datetime.fromisoformat(o["result_at"].replace("Z", "+00:00")) for o in rows],
                                  pa.timestamp("us", tz="UTC"))}), target)
    by_day: dict[str, list[dict]] = {}
    for event in result.events:
        by_day.setdefault(event["timestamp"][:10], []).append(event)
    for day, events in sorted(by_day.items()):
        target = inbox / "events" / f"{day}-{stem}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(json.dumps(e) + "\n" for e in events))
    return {
        "statements_mapped": len(result.events) + result.outcome_statements,
        "outcomes": len(result.outcomes),
        "statements_rejected": len(result.rejects),
        "new_learners": len(new_actors),
        "new_courses": len(new_courses),
        "days": sorted(by_day),
    }
