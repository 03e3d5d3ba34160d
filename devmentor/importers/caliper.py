"""IMS Caliper 1.2 events (Canvas, D2L, Open edX's Caliper backend) → the input contract.

Accepts a JSON envelope (``{"sensor": ..., "data": [...]}``), a JSON array of events, one event, or JSON
Lines. What each event type and action becomes is the table ``ACTIONS`` (docs/importers.md lists it);
the rules are those of devmentor/importers/_common.py, the same the xAPI importer uses. Fields:

| Caliper | contract |
|---|---|
| the Person the event is about: actor, else (an application acting) object.assignee, object.user, session.user, membership.member; ids hashed unless opaque (mailto: ids match xAPI's mbox) | user_id |
| object.id (Open edX block URLs → the block key); for a Grade the assignable | content_id, or question_id for answers |
| generated Score scoreGiven / maxScore; Open edX grade / max_grade, weighted_earned / weighted_possible | score |
| the attempt's or session's duration (or endedAtTime - startedAtTime) | duration_s |
| MediaLocation currentTime / media duration; a tool's UnitsCompleted / maxMetricValue | progress |
| a Message's body | chat message text |
| object.extensions.course_id (Open edX), else group (CourseSection), else membership.organization | course_id |
| session.id, else user + day; id, eventTime | session_id; event_id, timestamp |

Entity descriptions in an envelope (Person, Assessment, CourseSection, ...) are not events: they resolve the
events' references by id and are counted, not mapped. Anything else is quarantined in
lake/quarantine/caliper/ with its position, the field and the reason; a rejected event keeps only the
learner's pseudonym.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
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
    pseudonym,
    read_records,
    seconds,
    utc_timestamp,
)

# event type (or "type/object kind") → {action → rule}; "*" covers every other action of the type.
ACTIONS: dict[str, dict[str, str]] = {
    "SessionEvent": {"LoggedIn": "session_start", "LoggedOut": "session_end", "TimedOut": "session_end"},
    "NavigationEvent": {"NavigatedTo": "view"},
    "ViewEvent": {"Viewed": "view"},
    "ViewEvent/hint": {"Viewed": "hint_request"},  # Open edX: a hint shown on demand
    "MediaEvent": {"*": "view"},  # Started, Paused, Resumed, Ended, JumpedTo, ForwardedTo, ChangedSpeed, ...
    "AssessmentEvent": {"Started": "view", "Paused": "view", "Resumed": "view", "Restarted": "view",
                        "Submitted": "attempt"},
    "AssessmentItemEvent": {"Started": "view", "Completed": "attempt",
                            "Skipped": "reject:a skipped item carries no answer, score or time spent"},
    "GradeEvent": {"Graded": "answer"},
    "ForumEvent": {"Subscribed": "view",
                   "Unsubscribed": "reject:leaving a forum's notifications is not an input-contract event"},
    "ThreadEvent": {"MarkedAsRead": "view", "MarkedAsUnread": "reject:marking a thread unread is not an input-contract event"},
    "MessageEvent": {"Posted": "post", "MarkedAsRead": "view",
                     "MarkedAsUnread": "reject:marking a message unread is not an input-contract event"},
    "ToolUseEvent": {"Used": "view"},
    "Event/Membership": {"Activated": "enrol", "Deactivated": "withdraw", "Completed": "outcome:completed"},
}
VIDEO_TYPES = ("VideoObject", "AudioObject", "MediaObject")
PERSON_FIELDS = (("object", "assignee"), ("object", "user"), ("session", "user"), ("membership", "member"))
PERSON_KEYS = {"actor", "assignee", "user", "member", "creators", "otherIdentifiers", "scoredBy", "attendee"}
DURATION_SOURCES = ("Attempt", "Session", "Response", "FillinBlankResponse", "MultipleChoiceResponse",
                    "MultipleResponseResponse", "SelectTextResponse", "TrueFalseResponse")


class _Refs:
    """The entity descriptions of an envelope by id: a thinned event's string references resolve to them."""

    def __init__(self, items):
        self.by_id = {item["id"]: item for item in items if isinstance(item, dict) and not _is_event(item)
                      and isinstance(item.get("id"), str)}

    def get(self, value) -> dict:
        if isinstance(value, str):
            return self.by_id.get(value, {"id": value})
        return value if isinstance(value, dict) else {}


def _is_event(item: dict) -> bool:
    return "action" in item or str(item.get("type", "")).endswith("Event")


def learner_id(person: dict, key: str, field: str) -> str:
    """A Person's learner id: a mailto: id as xAPI's mbox pseudonym, an IRI or e-mail hashed, an opaque id kept."""
    ident = person.get("id")
    if not ident:
        raise StatementError(field, "has no id")
    ident = str(ident)
    if ident.lower().startswith("mailto:"):
        return mbox_pseudonym(key, ident)
    if "://" in ident:
        return pseudonym(key, "iri", ident)
    return account_id(key, "acct", ident)


def _learner(event: dict, refs: _Refs, key: str) -> str:
    actor = refs.get(event.get("actor"))
    if not actor:
        raise StatementError("actor", "missing")
    if actor.get("type", "Person") == "Person":
        return learner_id(actor, key, "actor")
    for holder, name in PERSON_FIELDS:  # an application acting on a learner's work (a grader, a time-out)
        person = refs.get(refs.get(event.get(holder)).get(name))
        if person and person.get("type", "Person") == "Person":
            return learner_id(person, key, f"{holder}.{name}")
    raise StatementError("actor", f"is a {actor.get('type')} and the event names no learner")


def _rule(event: dict, obj: dict) -> str:
    kind, action = event.get("type"), event.get("action")
    if not kind:
        raise StatementError("type", "missing")
    ext = obj.get("extensions") if isinstance(obj.get("extensions"), dict) else {}
    detail = "hint" if "hint_index" in ext else obj.get("type")
    rules = ACTIONS.get(f"{kind}/{detail}") or ACTIONS.get(kind)
    if rules is None:
        raise StatementError("type", f"unknown event type {kind!r}" + (f" on a {detail}" if detail else ""))
    rule = rules.get(action) or rules.get("*")
    if rule is None:
        raise StatementError("action", f"{kind} action {action!r} is not mapped")
    return rule


def _ratio(earned, possible) -> float | None:
    if earned is None or possible is None or float(possible) <= 0:
        return None
    return float(earned) / float(possible)


def _score(event: dict, obj: dict, refs: _Refs) -> float | None:
    generated = refs.get(event.get("generated"))
    if generated.get("type") == "Score":
        return _ratio(generated.get("scoreGiven"), generated.get("maxScore"))
    ext = obj.get("extensions") if isinstance(obj.get("extensions"), dict) else {}
    for earned, possible in (("grade", "max_grade"), ("weighted_earned", "weighted_possible")):
        if earned in ext:
            return _ratio(ext[earned], ext.get(possible))
    return None


def _span(entity: dict, field: str) -> float | None:
    if entity.get("duration"):
        return seconds(entity["duration"], f"{field}.duration")
    if entity.get("startedAtTime") and entity.get("endedAtTime"):
        start, end = (datetime.fromisoformat(utc_timestamp(entity[k], f"{field}.{k}")) for k in ("startedAtTime", "endedAtTime"))
        return max((end - start).total_seconds(), 0.0)
    return None


def _duration(event: dict, obj: dict, refs: _Refs) -> float | None:
    generated = refs.get(event.get("generated"))
    candidates = [("generated", generated), ("generated.attempt", refs.get(generated.get("attempt"))), ("object", obj)]
    if event.get("action") == "LoggedOut":
        candidates.append(("session", refs.get(event.get("session"))))
    for field, entity in candidates:
        if entity.get("type") in DURATION_SOURCES:
            span = _span(entity, field)
            if span is not None:
                return span
    return None


def _progress(event: dict, obj: dict, refs: _Refs) -> float | None:
    length = seconds(obj.get("duration"), "object.duration") if obj.get("type") in VIDEO_TYPES else None
    ext = obj.get("extensions") if isinstance(obj.get("extensions"), dict) else {}
    at = refs.get(event.get("target")).get("currentTime") or ext.get("new_time")
    if length and at is not None:
        return seconds(at, "target.currentTime") / length
    generated = refs.get(event.get("generated"))
    measures = generated.get("items") if generated.get("type") == "AggregateMeasureCollection" else None
    for item in measures if isinstance(measures, list) else []:
        if isinstance(item, dict) and item.get("metric") == "UnitsCompleted":
            return _ratio(item.get("metricValue"), item.get("maxMetricValue"))
    return None


def _course(event: dict, obj: dict, refs: _Refs) -> tuple[str, str | None]:
    ext = obj.get("extensions") if isinstance(obj.get("extensions"), dict) else {}
    if ext.get("course_id"):
        return course_id(ext["course_id"]), None
    if isinstance(ext.get("isPartOf"), dict) and ext["isPartOf"].get("id"):  # Open edX: the CourseOffering
        return course_id(ext["isPartOf"]["id"]), ext["isPartOf"].get("name")
    group = refs.get(event.get("group"))
    if group.get("id"):
        return course_id(group["id"]), group.get("name") or group.get("courseNumber")
    organization = refs.get(refs.get(event.get("membership")).get("organization"))
    if organization.get("id"):
        return course_id(organization["id"]), organization.get("name")
    return course_in(obj.get("id", "")) or "caliper", None


def _item(event: dict, obj: dict, refs: _Refs) -> str:
    if event.get("type") == "GradeEvent" and refs.get(obj.get("assignable")).get("id"):
        return item_id(refs.get(obj["assignable"])["id"])
    if not obj.get("id"):
        raise StatementError("object.id", "missing")
    return item_id(obj["id"])


def _facts(event: dict, refs: _Refs, key: str) -> tuple[Facts, str, str | None]:
    user_id = _learner(event, refs, key)
    obj = refs.get(event.get("object"))
    rule = _rule(event, obj)
    timestamp = utc_timestamp(event.get("eventTime"), "eventTime")
    course, title = _course(event, obj, refs)
    session = refs.get(obj if event.get("type") == "SessionEvent" and obj.get("type") == "Session" else event.get("session"))
    fmt = "video" if obj.get("type") in VIDEO_TYPES else ("image" if obj.get("type") == "ImageObject" else "text")
    facts = Facts(
        label=f"{event.get('type')} {event.get('action')}", user_id=user_id, timestamp=timestamp,
        event_id=str(event.get("id") or hashlib.sha1(json.dumps(event, sort_keys=True).encode()).hexdigest()),
        session_id=str(session.get("id") or f"{user_id}-{timestamp[:10]}"), course_id=course,
        object_id=_item(event, obj, refs), fmt=fmt, score=_score(event, obj, refs),
        duration_s=_duration(event, obj, refs), progress=_progress(event, obj, refs),
        text=obj.get("body") if isinstance(obj.get("body"), str) and obj["body"].strip() else None,
        topic_id=refs.get(obj.get("isPartOf")).get("id"))
    return facts, rule, title


def map_event(event, key: str = "", refs: _Refs | None = None) -> tuple[list[tuple[str, dict]], str | None]:
    """One Caliper event → its contract rows [(entity, row)] and its course's title (raises StatementError)."""
    if not isinstance(event, dict):
        raise StatementError("(event)", "not a JSON object")
    facts, rule, title = _facts(event, refs or _Refs([]), key)
    return build(rule, facts, "action"), title


def _without_people(value):
    """A JSON value with every reference to a person (actor, assignee, member, user, creators, other
    identifiers) replaced by a marker: a rejected event keeps no identifier of anyone."""
    if isinstance(value, list):
        return [_without_people(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {k: "[person]" if k in PERSON_KEYS else _without_people(v) for k, v in value.items()}


def scrubbed_record(event, key: str, refs: _Refs | None = None) -> str:
    """A rejected event as the quarantine keeps it: the actor replaced by the learner's pseudonym when the
    event has a learner, every other reference to a person dropped, e-mail addresses masked."""
    if not isinstance(event, dict):
        return masked(event)
    kept = _without_people(event)
    try:
        kept["actor"] = {"learner_id": _learner(event, refs or _Refs([]), key)}
    except StatementError:
        pass
    return masked(kept)


def convert(path: Path, key: str = "") -> ImportResult:
    """Caliper events → contract rows; ``key`` is the pseudonymisation key (devmentor.privacy.privacy_key)."""
    items = read_records(path, ("data",), "a Caliper event")
    refs = _Refs(item for _, item in items)
    return convert_records(items, lambda item: map_event(item, key, refs),
                           lambda item: scrubbed_record(item, key, refs), "(event)",
                           described=lambda item: isinstance(item, dict) and not _is_event(item) and bool(item.get("id"))
                           and isinstance(item.get("type"), str))


def import_caliper(path: Path, inbox: Path, lake: Path, key: str) -> dict:
    """Convert a Caliper file into contract files in the inbox and quarantine what cannot be mapped; the
    files then go through the same ingest as every other input (`devmentor ingest caliper` runs it)."""
    path = Path(path)
    return land(convert(path, key), path, inbox, lake, f"caliper-{path.stem}", "caliper")
