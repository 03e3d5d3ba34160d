"""xAPI statements (as an LRS, Open edX's event-routing-backends or a cmi5 LMS exports them) → the input contract.

Accepts a JSON file holding one statement, a list of statements or ``{"statements": [...]}`` (an LRS
page), or JSON Lines with one statement per line. What each verb becomes is the table ``VERBS`` (the ADL
vocabulary, cmi5, the xAPI Video Profile, Open edX's profile and TinCan verbs; docs/importers.md lists
it); the rules are those of devmentor/importers/_common.py. Fields:

| xAPI | contract |
|---|---|
| actor.account.name (hashed when it is an e-mail or a name), else mbox_sha1sum, mbox, openid (hashed) | user_id |
| object.id (Open edX block URLs → the block key) | content_id, or question_id for answers |
| object.definition.type (course, video, image, ...) | which rule of the verb applies; format |
| result.score.scaled, else raw/max, else success → 1/0 | score |
| result.duration (ISO 8601) | duration_s |
| result.extensions video progress (0-1) or cmi5 progress (0-100), else video time / length | progress |
| result.response of a post | chat message text |
| context extensions session-id (cmi5, video, Open edX), else context.registration, else user + day | session_id |
| the course-typed context activity, else the course the file gives the registration, else grouping[0], parent[0] (Open edX keys → course-v1:…) | course_id |
| parent[0] when it is not the course | module_id |
| id (else a hash of the statement), timestamp | event_id, timestamp |

Unknown verbs and statements that cannot be mapped are quarantined in lake/quarantine/xapi/ with the
statement's position and the reason; a rejected statement keeps only the learner's pseudonym. Learners
and courses seen for the first time get minimal profile and course rows so their rows pass the contract's
reference checks.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from devmentor.importers._common import Facts, ImportResult, build, convert_records, land
from devmentor.importers._records import (
    StatementError,
    account_id,
    course_id,
    course_in,
    item_id,
    masked,
    mbox_pseudonym,
    parse_duration,
    pseudonym,
    read_records,
    seconds,
    utc_timestamp,
)

__all__ = ["VERBS", "StatementError", "convert", "import_xapi", "map_statement", "parse_duration",
           "pseudonym", "read_statements", "scrubbed_record"]

ADL = "http://adlnet.gov/expapi/verbs/"
ADL_W3 = "https://w3id.org/xapi/adl/verbs/"  # cmi5's abandoned, satisfied, waived
VIDEO = "https://w3id.org/xapi/video/verbs/"
TINCAN = "http://id.tincanapi.com/verb/"
ACROSSX = "https://w3id.org/xapi/acrossx/verbs/"
DOD_ISD = "https://w3id.org/xapi/dod-isd/verbs/"
OPENEDX = "https://w3id.org/xapi/openedx/verb/"

# verb → {object kind → rule}; the kind is "course", "video", else "*" (see _common.TARGETS for the rules).
VERBS: dict[str, dict[str, str]] = {
    # ADL vocabulary and cmi5
    ADL + "launched": {"*": "session_start"},
    ADL + "initialized": {"video": "view", "*": "session_start"},
    ADL + "resumed": {"*": "session_start"},
    ADL + "terminated": {"video": "view", "*": "session_end"},
    ADL + "exited": {"*": "session_end"},
    ADL + "suspended": {"*": "session_end"},
    ADL_W3 + "abandoned": {"*": "session_end"},
    ADL + "experienced": {"*": "view"},
    ADL + "interacted": {"*": "view"},
    ADL + "progressed": {"*": "view"},
    ADL + "attempted": {"*": "attempt"},
    ADL + "answered": {"*": "answer"},
    ADL + "responded": {"*": "answer"},
    ADL + "scored": {"*": "answer"},
    ADL + "passed": {"course": "outcome:pass", "*": "answer"},
    ADL + "failed": {"course": "outcome:fail", "*": "answer"},
    ADL + "completed": {"course": "outcome:completed", "video": "view", "*": "module_complete"},
    ADL_W3 + "satisfied": {"course": "outcome:completed", "*": "module_complete"},
    ADL_W3 + "waived": {"course": "reject:a course cannot be waived in cmi5", "*": "module_complete"},
    ADL + "registered": {"*": "enrol"},
    ADL + "unregistered": {"*": "withdraw"},
    ADL + "asked": {"*": "hint_request"},
    ADL + "commented": {"*": "post"},
    ADL + "voided": {"*": "reject:voiding statements are not applied; re-export without the voided statement"},
    # xAPI Video Profile (initialized, completed, terminated, interacted on a video are in the ADL rows)
    VIDEO + "played": {"*": "view"},
    VIDEO + "paused": {"*": "view"},
    VIDEO + "seeked": {"*": "view"},
    VIDEO + "watched": {"*": "view"},
    # Open edX (event-routing-backends): problem check, navigation, forum
    ACROSSX + "evaluated": {"*": "answer"},
    DOD_ISD + "navigated": {"*": "view"},
    ACROSSX + "posted": {"*": "post"},
    ACROSSX + "edited": {"*": "view"},
    DOD_ISD + "deleted": {"*": "view"},
    OPENEDX + "voted": {"*": "view"},
    ACROSSX + "reported": {"*": "flag"},
    OPENEDX + "unreported": {"*": "reject:taking back a report is not an input-contract event"},
    # TinCan registry
    TINCAN + "earned": {"course": "reject:a running course grade is not an input-contract entity (the outcome "
                                  "comes from passed/failed)", "*": "answer"},
    TINCAN + "viewed": {"*": "view"},
    TINCAN + "flagged": {"*": "flag"},
    TINCAN + "unregistered": {"*": "withdraw"},
    TINCAN + "replied": {"*": "post"},
    TINCAN + "downloaded": {"*": "view"},
}
COURSE_TYPES = ("activities/course", "activitytype/course")  # ADL, cmi5
VIDEO_TYPES = ("video", "media")
IMAGE_TYPES = ("image", "slide", "infographic")
HINT_EXT = re.compile(r"hint", re.I)
CONFIDENCE_EXT = re.compile(r"confidence", re.I)
SESSION_EXT = re.compile(r"session-?id", re.I)
PROGRESS_EXT = {"https://w3id.org/xapi/video/extensions/progress": 1.0,
                "https://w3id.org/xapi/cmi5/result/extensions/progress": 100.0}
VIDEO_TIME = ("https://w3id.org/xapi/video/extensions/time", "https://w3id.org/xapi/video/extensions/time-to")
VIDEO_LENGTH = "https://w3id.org/xapi/video/extensions/length"


def _mapping(value, field: str) -> dict:
    """An optional JSON object: absent is empty, anything but an object is an error naming the field."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StatementError(field, f"must be a JSON object, got {type(value).__name__}")
    return value


def _activities(value) -> list[dict]:
    value = [value] if isinstance(value, dict) else value
    return [a for a in value if isinstance(a, dict) and a.get("id")] if isinstance(value, list) else []


def _type(activity: dict) -> str:
    definition = activity.get("definition")
    return str(definition.get("type", "")).lower() if isinstance(definition, dict) else ""


def _name(activity: dict) -> str | None:
    definition = activity.get("definition")
    names = definition.get("name") if isinstance(definition, dict) else None
    if isinstance(names, dict) and names:
        return str(names.get("en-US") or names.get("en") or next(iter(names.values())))
    return None


def _is_course(activity: dict) -> bool:
    return any(t in _type(activity) for t in COURSE_TYPES)


def _extension(extensions: dict, pattern: re.Pattern):
    for key, value in (extensions or {}).items():
        if pattern.search(key):
            return value
    return None


def _actor_id(actor, key: str) -> str:
    """The learner id of a statement's actor; direct identifiers are replaced by a keyed hash at ingest."""
    if not isinstance(actor, dict):
        raise StatementError("actor", "missing or not an object")
    account = actor.get("account") or {}
    if isinstance(account, dict) and account.get("name"):
        return account_id(key, "acct", account["name"])
    if actor.get("mbox_sha1sum"):
        return pseudonym(key, "mbox", str(actor["mbox_sha1sum"]))
    if actor.get("mbox"):
        return mbox_pseudonym(key, actor["mbox"])
    if actor.get("openid"):
        return pseudonym(key, "openid", str(actor["openid"]))
    raise StatementError("actor", "has no account, mbox, mbox_sha1sum or openid")


def _context(statement: dict) -> tuple[dict, dict]:
    context = _mapping(statement.get("context"), "context")
    return context, _mapping(context.get("contextActivities"), "context.contextActivities")


def course_registrations(statements) -> dict[str, tuple[str, str | None]]:
    """registration → (course, title) for registrations a statement ties to a course-typed activity: a cmi5
    AU's statements name only the AU, the LMS's statements on the course carry the same registration."""
    out: dict[str, tuple[str, str | None]] = {}
    for statement in statements:
        try:
            context, activities = _context(statement)
        except (StatementError, AttributeError):  # not a statement, or a malformed context: it is rejected later
            continue
        candidates = _activities(statement.get("object")) + _activities(activities.get("grouping"))
        course = next((a for a in candidates if _is_course(a)), None)
        if course and isinstance(context.get("registration"), str):
            out.setdefault(context["registration"], (course_id(course["id"]), _name(course)))
    return out


def _course(obj: dict, context: dict, activities: dict, registrations: dict) -> tuple[str, str | None, bool, str | None]:
    """(course id, its title, whether the object is the course, the id of the context activity it came from)."""
    around = _activities(activities.get("parent")) + _activities(activities.get("grouping"))
    typed = next((a for a in around if _is_course(a)), None)
    if _is_course(obj) or (typed and typed["id"].rstrip("/") == str(obj["id"]).rstrip("/")):
        return course_id(obj["id"]), _name(obj) or (typed and _name(typed)), True, typed and typed["id"]
    if typed:
        return course_id(typed["id"]), _name(typed), False, typed["id"]
    registration = context.get("registration")
    if isinstance(registration, str) and registration in registrations:
        return (*registrations[registration], False, None)
    fallback = _activities(activities.get("grouping")) + _activities(activities.get("parent"))
    if fallback:
        return course_id(fallback[0]["id"]), _name(fallback[0]), str(obj["id"]) == fallback[0]["id"], fallback[0]["id"]
    return course_in(obj["id"]) or "xapi", None, False, None


def _score(result: dict) -> float | None:
    raw_score = _mapping(result.get("score"), "result.score")
    if "scaled" in raw_score:
        return float(raw_score["scaled"])
    if "raw" in raw_score and raw_score.get("max"):
        low = float(raw_score.get("min", 0))
        return (float(raw_score["raw"]) - low) / (float(raw_score["max"]) - low)
    if "success" in result:
        return 1.0 if result["success"] else 0.0
    return None


def _progress(result_ext: dict, context_ext: dict) -> float | None:
    for name, scale in PROGRESS_EXT.items():
        if result_ext.get(name) is not None:
            return float(result_ext[name]) / scale
    at = next((result_ext[t] for t in VIDEO_TIME if result_ext.get(t) is not None), None)
    length = seconds(context_ext.get(VIDEO_LENGTH), "context.extensions.length")
    if at is None or not length:
        return None
    return seconds(at, "result.extensions.time") / length


def _format(definition_type: str, verb: str) -> str:
    if any(t in definition_type for t in VIDEO_TYPES) or verb.startswith(VIDEO):
        return "video"
    return "image" if any(t in definition_type for t in IMAGE_TYPES) else "text"


def _kind(definition_type: str, verb: str, is_course: bool) -> str:
    return "course" if is_course else ("video" if _format(definition_type, verb) == "video" else "*")


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _facts(statement: dict, key: str, registrations: dict) -> tuple[Facts, str, str | None]:
    """A statement read: (facts, object kind, course title)."""
    user_id = _actor_id(statement.get("actor"), key)
    verb = statement["verb"]["id"]
    obj = statement.get("object")
    if not isinstance(obj, dict) or not obj.get("id"):
        raise StatementError("object.id", "missing")
    timestamp = utc_timestamp(statement.get("timestamp"))
    context, activities = _context(statement)
    result = _mapping(statement.get("result"), "result")
    result_ext = _mapping(result.get("extensions"), "result.extensions")
    context_ext = _mapping(context.get("extensions"), "context.extensions")
    course, title, is_course, course_activity = _course(obj, context, activities, registrations)
    parents = _activities(activities.get("parent"))
    module = parents[0]["id"] if parents and parents[0]["id"] != course_activity and not _is_course(parents[0]) else None
    definition_type = _type(obj)
    hint, confidence = _extension(result_ext, HINT_EXT), _extension(result_ext, CONFIDENCE_EXT)
    session = _extension(context_ext, SESSION_EXT) or context.get("registration")
    facts = Facts(
        label=f"verb {verb!r}", user_id=user_id, timestamp=timestamp,
        event_id=str(statement.get("id") or hashlib.sha1(json.dumps(statement, sort_keys=True).encode()).hexdigest()),
        session_id=str(session or f"{user_id}-{timestamp[:10]}"), course_id=course,
        object_id=course if is_course else item_id(obj["id"]), module_id=module,
        fmt=_format(definition_type, verb), score=_score(result),
        duration_s=parse_duration(result["duration"]) if result.get("duration") else None,
        progress=_progress(result_ext, context_ext), hint_used=None if hint is None else bool(hint),
        confidence=None if confidence is None else float(confidence), text=_text(result.get("response")),
        topic_id=item_id(obj["id"]), flag_reason=verb.rstrip("/").rsplit("/", 1)[-1])
    return facts, _kind(definition_type, verb, is_course), title


def map_statement(statement, key: str = "", registrations: dict | None = None) -> tuple[list[tuple[str, dict]], str | None]:
    """One statement → its contract rows [(entity, row)] and its course's title (raises StatementError naming the field)."""
    if not isinstance(statement, dict):
        raise StatementError("(statement)", "not a JSON object")
    verb = statement.get("verb")
    if not isinstance(verb, dict) or not verb.get("id"):
        raise StatementError("verb.id", "missing")
    rules = VERBS.get(verb["id"])
    if rules is None:
        _actor_id(statement.get("actor"), key)  # a statement with no learner says so first
        raise StatementError("verb.id", f"unknown verb {verb['id']!r}")
    facts, kind, title = _facts(statement, key, registrations or {})
    return build(rules.get(kind, rules["*"]), facts, "verb.id"), title


def read_statements(path: Path) -> list[tuple[int, object]]:
    """(1-based position, statement or parse error) for every statement in the file."""
    return read_records(path, ("statements",), "a statement")


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
    return masked(statement)


def convert(path: Path, key: str = "") -> ImportResult:
    """Statements → contract rows; ``key`` is the pseudonymisation key (devmentor.privacy.privacy_key)."""
    items = read_statements(path)
    registrations = course_registrations(item for _, item in items)
    return convert_records(items, lambda item: map_statement(item, key, registrations),
                           lambda item: scrubbed_record(item, key), "(statement)")


def import_xapi(path: Path, inbox: Path, lake: Path, key: str) -> dict:
    """Convert a statements file into contract files in the inbox (events and chat by day, enrolments,
    outcomes, new learners and courses); statements that cannot be mapped are quarantined with their
    position and reason. The files then go through the same ingest as every other input (`devmentor
    ingest xapi` runs it). Returns the counts (see _common.land)."""
    path = Path(path)
    return land(convert(path, key), path, inbox, lake, f"xapi-{path.stem}", "xapi")
