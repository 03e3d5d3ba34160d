"""IMS Caliper 1.2 events → contract rows, through the same ingest path as xAPI.

tests/data/caliper/ holds events in the published shapes: the IMS Caliper 1.2 specification's fixtures
(spec.json, an envelope) and Open edX event-routing-backends' Caliper output (openedx.json, an array);
tests/data/xapi_profiles/build.py says where each shape comes from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devmentor.importers._records import pseudonym, utc_timestamp
from devmentor.importers.caliper import _Refs, convert, map_event, read_records
from tests.test_xapi import _kind

DATA = Path(__file__).parent / "data" / "caliper"
KEY = "test-key"
SECTION = "https://example.edu/terms/202603/courses/7/sections/1"
EDX_COURSE = "course-v1:DevU+PY101+2026_T3"

# position → what the event becomes (see tests/test_xapi.py); "described" for an envelope's entity descriptions.
EXPECTED = {
    "spec.json": {
        1: "described", 2: "described", 3: "session_start", 4: "content_view", 5: "content_view", 6: "content_view",
        7: "content_view", 8: "content_view", 9: "content_view", 10: "content_view", 11: "content_view",
        12: "reject:AssessmentItemEvent Skipped", 13: "content_view", 14: "quiz_attempt",
        15: "reject:GradeEvent Graded carries no score", 16: "content_view", 17: "content_view", 18: "chat", 19: "chat",
        20: "content_view", 21: "reject:unknown event type 'AnnotationEvent'", 22: "session_end", 23: "session_end"},
    "openedx.json": {
        1: "enrol", 2: "enrol", 3: "enrol", 4: "content_view", 5: "content_view", 6: "content_view", 7: "content_view",
        8: "content_view", 9: "content_view", 10: "content_view", 11: "content_view", 12: "quiz_attempt",
        13: "quiz_attempt", 14: "quiz_attempt", 15: "hint_request", 16: "content_view",
        17: "reject:unknown event type 'AnnotationEvent'", 18: "outcome:completed", 19: "withdraw"},
}
REPEATS = {"openedx.json": {13: 12}}  # one problem check reported as the check and as the graded submission


def _person(event: dict) -> str:
    """The learner an event is about, as the test reads the spec: the actor, or for an application acting,
    the attempt's assignee or the session's user."""
    actor = event["actor"] if isinstance(event["actor"], dict) else {"id": event["actor"], "type": "Person"}
    if actor["type"] != "Person":
        actor = event["object"].get("assignee") or event["object"].get("user")
    ident = actor["id"]
    return pseudonym(KEY, "iri", ident) if "://" in ident else ident


def _check(event: dict, rows, course: str) -> None:
    when = utc_timestamp(event["eventTime"])
    for entity, row in rows:
        assert row["user_id"] == _person(event) and row["course_id"] == course
        assert when in (row.get("timestamp"), row.get("result_at"), row.get("enrolled_at"), row.get("withdrawn_at"))
        if entity == "chat_messages":
            assert row["message_text"] == event["object"]["body"] and row["message_id"] == event["id"]
        if entity == "events":
            assert row["event_id"] == event["id"] and (row["content_id"] or row["question_id"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_event_is_mapped_as_caliper_means_or_quarantined_naming_its_type(name):
    expected = EXPECTED[name]
    items = read_records(DATA / name, ("data",), "a Caliper event")
    refs = _Refs(item for _, item in items)
    assert [p for p, _ in items] == sorted(expected)
    for position, event in items:
        want = expected[position]
        if want == "described":
            assert "action" not in event
            continue
        if want.startswith("reject:"):
            with pytest.raises(ValueError) as exc:
                map_event(event, KEY, refs)
            assert want.removeprefix("reject:") in exc.value.reason
            continue
        rows, _ = map_event(event, KEY, refs)
        assert _kind(rows) == want, f"{name} event {position}: {event['type']} {event['action']}"
        course = EDX_COURSE if name == "openedx.json" else ("caliper" if event["action"] == "TimedOut" else SECTION)
        _check(event, rows, course)

    result = convert(DATA / name, key=KEY)
    rejected = {p for p, w in expected.items() if w.startswith("reject:")}
    assert {r["row_number"] for r in result.rejects} == rejected | set(REPEATS.get(name, {}))
    assert result.described == sum(w == "described" for w in expected.values())
    assert result.mapped == len(expected) - result.described - len(rejected) - len(REPEATS.get(name, {}))


def test_scores_durations_and_progress_come_from_the_spec_fields():
    result = convert(DATA / "spec.json", key=KEY)
    by_id = {e["event_id"]: e for e in result.events}
    doc = json.loads((DATA / "spec.json").read_text())["data"]
    graded, item_done, submitted, paused, tool, logged_out, timed_out = (by_id[doc[i - 1]["id"]] for i in (14, 11, 13, 7, 20, 22, 23))
    assert graded["score"] == pytest.approx(10 / 15) and graded["duration_s"] == 630.0  # scoreGiven / maxScore; the attempt
    assert graded["question_id"] == f"{SECTION}/assess/1", "a grade is an answer to the assignable, not to the attempt"
    assert item_done["duration_s"] == 10.0 and submitted["duration_s"] == 630.0  # the response's and attempt's span
    assert paused["progress"] == pytest.approx(321 / 1220) and paused["format"] == "video"  # currentTime / duration
    assert tool["progress"] == pytest.approx(12 / 25)  # UnitsCompleted / maxMetricValue
    assert logged_out["duration_s"] == 5400.0 and timed_out["duration_s"] == 3600.0
    assert timed_out["user_id"] == pseudonym(KEY, "iri", "https://example.edu/users/112233")  # the session's user
    assert result.courses[SECTION] == "CPS 435-01"
    (post, reply) = result.chat_messages
    assert post["contextual_topic_id"] == f"{SECTION}/forums/2/topics/1" and post["searchable_tags"] == "forum"
    assert reply["user_id"] == pseudonym(KEY, "iri", "https://example.edu/users/778899")


def test_open_edx_caliper_matches_its_xapi_learners_and_counts_a_check_once():
    """The same Open edX learners by the same ids in both standards; grade / max_grade scores; enrolments."""
    from devmentor.importers.xapi import convert as convert_xapi

    result = convert(DATA / "openedx.json", key=KEY)
    xapi = convert_xapi(DATA.parent / "xapi_profiles" / "openedx.json", key=KEY)
    assert result.actors == xapi.actors and set(result.courses) == set(xapi.courses) == {EDX_COURSE}
    assert sorted(e["score"] for e in result.events if e["event_type"] == "quiz_attempt") == pytest.approx([1 / 3, 1.0])
    third = "9c2d4e6f-8a1b-4c3d-b5e7-1f2a3b4c5d6e"
    assert result.enrolments[(third, EDX_COURSE)]["withdrawn_at"] == "2026-11-18T07:39:23.898000+00:00"
    assert {u: o["final_result"] for (u, _), o in result.outcomes.items()} == {
        "32e08e30-f8ae-4ce2-94a8-c2bfe38a70cb": "completed", third: "withdrawn"}


def test_envelope_array_and_json_lines_read_alike(tmp_path):
    doc = json.loads((DATA / "spec.json").read_text())
    (tmp_path / "a.json").write_text(json.dumps(doc["data"]))
    (tmp_path / "l.jsonl").write_text("".join(json.dumps(e) + "\n" for e in doc["data"]) + "{broken\n")
    envelope = convert(DATA / "spec.json", key=KEY)
    for path in (tmp_path / "a.json", tmp_path / "l.jsonl"):
        other = convert(path, key=KEY)
        assert other.events == envelope.events and other.chat_messages == envelope.chat_messages
    assert convert(tmp_path / "l.jsonl", key=KEY).rejects[-1]["reason"].startswith("not valid JSON")
    (tmp_path / "x.json").write_text('{"sensor": "s", "data": 3}')
    (reject,) = convert(tmp_path / "x.json").rejects
    assert reject["row_number"] is None and reject["field"] == "(file)"


def test_quarantined_events_keep_no_identifier_of_anyone():
    """A rejected event keeps the learner's pseudonym, never the person IRIs or an e-mail address."""
    result = convert(DATA / "spec.json", key=KEY)
    records = [r["record"] for r in result.rejects]
    assert len(records) == 3
    for record in records:
        assert "/users/554433" not in record.replace("/users/554433/", "") and "jane@example.edu" not in record
        assert json.loads(record)["actor"]["learner_id"] == pseudonym(KEY, "iri", "https://example.edu/users/554433")
    grade = json.loads(records[1])
    assert grade["object"]["assignee"] == "[person]" and grade["type"] == "GradeEvent"


def test_an_application_acting_on_nobody_is_rejected_with_the_reason():
    event = {"type": "SessionEvent", "action": "TimedOut", "actor": {"id": "https://example.edu", "type": "SoftwareApplication"},
             "object": {"id": "https://example.edu/sessions/1", "type": "Session"}, "eventTime": "2026-11-17T10:00:00Z"}
    with pytest.raises(ValueError, match="is a SoftwareApplication and the event names no learner"):
        map_event(event, KEY)
    with pytest.raises(ValueError, match="not mapped"):
        map_event({**event, "actor": {"id": "u1", "type": "Person"}, "action": "Invented"}, KEY)


def test_ingest_caliper_lands_events_chat_and_quarantine_in_the_lake(tmp_path, monkeypatch, capsys):
    """`devmentor ingest caliper` end to end: the importer's inbox files through the group:ingest run."""
    import duckdb

    from orchestration.cli import main

    home = tmp_path / "home"
    monkeypatch.setenv("DEVMENTOR_HOME", str(home))
    assert main(["ingest", "caliper", str(DATA / "spec.json")]) == 0
    out = capsys.readouterr().out
    assert "18 events mapped, 3 rejected (lake/quarantine/caliper; mapped share 86%)" in out
    assert "16 events landed, 0 quarantined" in out and "2 chat messages" in out
    lake = home / "lake"
    con = duckdb.connect()
    rows = con.execute(f"SELECT event_type, count(*) FROM read_parquet('{lake}/raw/events/**/*.parquet', union_by_name=true) "
                       "GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("content_view", 12), ("quiz_attempt", 1), ("session_end", 2), ("session_start", 1)]
    texts = [r[0] for r in con.execute(f"SELECT message_text FROM read_parquet('{lake}/raw/chat_messages/**/*.parquet') ORDER BY timestamp").fetchall()]
    assert len(texts) == 2 and "[email]" in texts[0] and "jane@example.edu" not in texts[0]  # free text masked at ingest
    quarantined = con.execute(f"SELECT row_number, field FROM read_parquet('{lake}/quarantine/caliper/*.parquet') ORDER BY 1").fetchall()
    assert quarantined == [(12, "action"), (15, "score"), (21, "type")]
    learners = {r[0] for r in con.execute(f"SELECT user_id FROM read_parquet('{lake}/raw/profiles/**/*.parquet', union_by_name=true)").fetchall()}
    assert pseudonym(KEY, "iri", "https://example.edu/users/554433") not in learners, "pseudonyms use the data directory's key"
    assert len(learners) == 3 and all(u.startswith("iri:") for u in learners)


def test_importer_docs_list_every_verb_event_type_and_action():
    from devmentor.importers.caliper import ACTIONS
    from devmentor.importers.xapi import VERBS

    doc = (Path(__file__).resolve().parent.parent / "docs" / "importers.md").read_text()
    missing = [v for v in VERBS if v not in doc and f"`{v.rstrip('/').rsplit('/', 1)[-1]}`" not in doc]
    missing += [f"{kind} {action}" for kind, actions in ACTIONS.items() for action in actions
                if f"`{kind.split('/')[0]}`" not in doc or (action != "*" and f"`{action}`" not in doc)]
    assert not missing, f"docs/importers.md does not list: {missing}"
