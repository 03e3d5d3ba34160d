"""xAPI statements → contract rows; unmapped verbs and malformed statements quarantined with the reason.

The profile files under tests/data/xapi_profiles/ hold statements in the published shapes (Open edX
event-routing-backends, cmi5, the xAPI Video Profile, ADL and TinCan verbs; build.py says where each shape
comes from). Every statement must map to what its profile means or be quarantined naming its verb.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devmentor.importers._records import mbox_pseudonym, parse_duration, utc_timestamp
from devmentor.importers.xapi import (
    StatementError,
    convert,
    course_registrations,
    map_statement,
    read_statements,
)

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "xapi_openedx_sample.json"
PROFILES = DATA / "xapi_profiles"
KEY = "test-key"
EDX_COURSE = "course-v1:DevU+PY101+2026_T3"

# position → what the statement becomes: an event type, "chat", "enrol", "withdraw", "outcome:<result>",
# or "reject:<words the reason must contain>". Read from each profile's definition of the verb.
EXPECTED = {
    "openedx.json": (EDX_COURSE, {
        1: "enrol", 2: "enrol", 3: "enrol", 4: "content_view", 5: "content_view",
        6: "content_view", 7: "content_view", 8: "content_view", 9: "content_view", 10: "content_view",
        11: "content_view", 12: "content_view", 13: "content_view", 14: "quiz_attempt", 15: "quiz_attempt",
        16: "quiz_attempt", 17: "hint_request", 18: "hint_request", 19: "content_view", 20: "quiz_attempt",
        21: "reject:running course grade", 22: "content_view", 23: "content_view", 24: "content_view",
        25: "content_view", 26: "content_flag", 27: "reject:taking back a report", 28: "content_view",
        29: "content_view", 30: "outcome:pass", 31: "outcome:fail", 32: "outcome:completed", 33: "withdraw"}),
    "cmi5.json": ("https://lms.devu.example/cmi5/course/57c4917cbe43d6c230b85640e8abacdcb90e3db2", {
        1: "session_start", 2: "session_start", 3: "content_view", 4: "quiz_attempt", 5: "quiz_attempt",
        6: "module_complete", 7: "session_end", 8: "outcome:completed", 9: "session_start", 10: "session_start",
        11: "content_view", 12: "quiz_attempt", 13: "session_end", 14: "session_start", 15: "session_start",
        16: "session_end", 17: "module_complete", 18: "outcome:completed"}),
    "video.json": ("https://lms.devu.example/courses/geology-101", {i: "content_view" for i in range(1, 16)}),
    "adl_tincan.json": ("https://moodle.devu.example/course/view.php?id=42", {
        1: "enrol", 2: "enrol", 3: "session_start", 4: "content_view", 5: "content_view", 6: "content_view",
        7: "content_view", 8: "quiz_attempt", 9: "quiz_attempt", 10: "hint_request", 11: "reject:carries no score",
        12: "chat", 13: "chat", 14: "content_flag", 15: "session_end", 16: "session_start", 17: "session_end",
        18: "quiz_attempt", 19: "withdraw", 20: "reject:unknown verb", 21: "reject:unknown verb",
        22: "reject:voiding statements"}),
}
# Statements mapped alone but counted once in a file: Open edX reports one problem check as `evaluated`
# and, a fraction of a second later, as the graded submission (`attempted` with the same score).
REPEATS = {"openedx.json": {15: 14}}


def _learner(actor: dict) -> str:
    if actor.get("account"):
        return actor["account"]["name"]
    return mbox_pseudonym(KEY, actor["mbox"])


def _kind(rows: list[tuple[str, dict]]) -> str:
    entity, row = rows[0]
    if entity == "events":
        return row["event_type"]
    if entity == "outcomes":
        return "withdraw" if row["final_result"] == "withdrawn" else f"outcome:{row['final_result']}"
    return {"chat_messages": "chat", "enrolments": "enrol"}[entity]


def _check_fields(statement: dict, rows: list[tuple[str, dict]], course: str) -> None:
    """What every mapped row must carry from its statement: learner, course, instant, score, duration, progress."""
    when = utc_timestamp(statement["timestamp"])
    result = statement.get("result", {})
    for entity, row in rows:
        assert row["user_id"] == _learner(statement["actor"]) and row["course_id"] == course
        assert when in (row.get("timestamp"), row.get("result_at"), row.get("enrolled_at"), row.get("withdrawn_at"))
        if entity == "chat_messages":
            assert row["message_text"] == result["response"] and row["message_direction"] == "user"
        if entity != "events":
            continue
        assert row["event_id"] == statement["id"]
        score = result.get("score", {})
        if row["event_type"] == "quiz_attempt":
            expected = score.get("scaled", (score.get("raw", 0) - score.get("min", 0)) / (score.get("max", 1) - score.get("min", 0))
                                 if "raw" in score else float(result.get("success", 0)))
            assert row["score"] == pytest.approx(expected) and row["question_id"] and row["content_id"] is None
        else:
            assert row["content_id"] and row["score"] is None
        assert row["duration_s"] == (parse_duration(result["duration"]) if result.get("duration") else None)
        extensions = result.get("extensions", {})
        if "https://w3id.org/xapi/video/extensions/progress" in extensions:
            assert row["progress"] == extensions["https://w3id.org/xapi/video/extensions/progress"]
        if "https://w3id.org/xapi/cmi5/result/extensions/progress" in extensions:
            assert row["progress"] == extensions["https://w3id.org/xapi/cmi5/result/extensions/progress"] / 100


@pytest.mark.parametrize("profile", sorted(EXPECTED))
def test_every_profile_statement_is_mapped_as_its_profile_means_or_quarantined_naming_its_verb(profile):
    course, expected = EXPECTED[profile]
    items = read_statements(PROFILES / profile)
    registrations = course_registrations(item for _, item in items)
    assert [p for p, _ in items] == sorted(expected), "the table names every statement of the file"
    for position, statement in items:
        want = expected[position]
        if want.startswith("reject:"):
            with pytest.raises(StatementError) as exc:
                map_statement(statement, KEY, registrations)
            assert want.removeprefix("reject:") in exc.value.reason and statement["verb"]["id"] in exc.value.reason
            continue
        rows, _ = map_statement(statement, KEY, registrations)
        assert _kind(rows) == want, f"{profile} statement {position} ({statement['verb']['id']})"
        _check_fields(statement, rows, course)

    result = convert(PROFILES / profile, key=KEY)
    rejected = {p for p, w in expected.items() if w.startswith("reject:")}
    repeats = REPEATS.get(profile, {})
    assert {r["row_number"] for r in result.rejects} == rejected | set(repeats)
    assert all(r["reason"] and r["record"] for r in result.rejects)
    for position, first in repeats.items():
        (reject,) = [r for r in result.rejects if r["row_number"] == position]
        assert f"the same answer as record {first}" in reject["reason"]
    assert result.mapped == len(expected) - len(rejected) - len(repeats)


def test_mapped_share_per_profile():
    """The share of each profile's statements that reach the contract (docs/importers.md reports them)."""
    shares = {}
    for profile in sorted(EXPECTED):
        result = convert(PROFILES / profile, key=KEY)
        shares[profile] = result.mapped / (result.mapped + len(result.rejects))
    assert shares["cmi5.json"] == 1.0 and shares["video.json"] == 1.0
    assert shares["openedx.json"] == pytest.approx(30 / 33) and shares["adl_tincan.json"] == pytest.approx(18 / 22)


def test_open_edx_course_outcomes_enrolments_and_video_progress():
    result = convert(PROFILES / "openedx.json", key=KEY)
    first, second, third = "32e08e30-f8ae-4ce2-94a8-c2bfe38a70cb", "5b1f7a0e-3c44-4e6a-9d1e-7a2b9c0d4e11", "9c2d4e6f-8a1b-4c3d-b5e7-1f2a3b4c5d6e"
    got = {u: o["final_result"] for (u, _), o in result.outcomes.items()}
    assert got == {first: "pass", second: "fail", third: "withdrawn"}, "a later 'completed' keeps the pass"
    assert result.enrolments[(third, EDX_COURSE)]["withdrawn_at"] == "2026-11-18T07:39:23.898000+00:00"
    assert result.enrolments[(first, EDX_COURSE)]["withdrawn_at"] is None
    assert result.courses == {EDX_COURSE: "Python 101"}
    video = [e for e in result.events if e["format"] == "video"]
    assert [round(e["progress"], 3) if e["progress"] is not None else None for e in video] == [
        None, 0.0, 0.5, 0.769, None, 1.0, 1.0]  # time (or time-to) / length; no time, no progress
    assert {e["content_id"] for e in video} == {"block-v1:DevU+PY101+2026_T3+type@video+block@0b9e39477cf34507a7a48f74be381fdd"}
    assert {e["session_id"] for e in result.events if e["user_id"] == first} == {"054c9ddcb76d2096f862e66bda3bc308"}


def test_cmi5_statements_take_the_course_their_registration_belongs_to():
    result = convert(PROFILES / "cmi5.json", key=KEY)
    assert {e["course_id"] for e in result.events} == {EXPECTED["cmi5.json"][0]}
    assert {e["session_id"] for e in result.events if e["user_id"] == "geo-2"} == {
        "54eb9f12-71d4-472d-a359-8c1184b5edbc", "3798c990-c602-4334-9c04-7f6196e5f869"}
    ends = [e["duration_s"] for e in result.events if e["event_type"] == "session_end"]
    assert ends == [317.86, 58.85, 11.26]


def test_sample_maps_six_statements_and_quarantines_four_with_reasons():
    result = convert(SAMPLE)
    assert [e["event_type"] for e in result.events] == [
        "session_start", "content_view", "quiz_attempt", "quiz_attempt", "module_complete", "session_end"]
    rejects = {r["row_number"]: (r["field"], r["reason"]) for r in result.rejects}
    assert rejects == {
        7: ("verb.id", "unknown verb 'http://id.tincanapi.com/verb/tweeted'"),
        8: ("actor", "has no account, mbox, mbox_sha1sum or openid"),
        9: ("result.duration", "not an ISO 8601 duration: '4 minutes'"),
        10: ("timestamp", "missing"),
    }
    assert all(json.loads(r["record"])["id"].endswith(f"{r['row_number']:04d}") for r in result.rejects)


def test_fields_are_mapped_from_actor_verb_object_result_and_context():
    events = {e["event_id"][-4:]: e for e in convert(SAMPLE).events}
    video, answer, ada, done = events["0002"], events["0003"], events["0004"], events["0005"]
    assert video["format"] == "video" and video["duration_s"] == 252.0 and video["content_id"].endswith("video-loops-intro")
    assert answer["score"] == 0.75 and answer["hint_used"] is True and answer["duration_s"] == 45.0
    assert answer["question_id"].endswith("problem-for-loop-1") and answer["content_id"] is None
    assert answer["session_id"] == "3b8c9f5e-0c2d-4d8e-9d7e-5f5a1e2b0001"
    assert answer["course_id"] == "course-v1:DevU+PY101+2026", "the Open edX course key, whatever URL carries it"
    assert answer["module_id"].endswith("/unit/loops") and answer["user_id"] == "edx-4417"
    assert answer["timestamp"] == "2026-10-05T08:06:30.250000+00:00"
    # raw/max score; e-mail hashed, never stored; local time converted to UTC
    assert ada["score"] == 0.5 and ada["user_id"].startswith("mbox:") and "ada@" not in ada["user_id"]
    assert ada["timestamp"] == "2026-10-05T07:00:00+00:00"
    assert done["event_type"] == "module_complete" and done["module_id"].endswith("/unit/loops")


def test_json_lines_and_broken_lines(tmp_path):
    stmts = json.loads(SAMPLE.read_text())["statements"][:2]
    for name in ("lrs.jsonl", "lrs.json"):  # JSON Lines with or without the suffix
        path = tmp_path / name
        path.write_text(json.dumps(stmts[0]) + "\n{broken\n" + json.dumps(stmts[1]) + "\n")
        result = convert(path)
        assert len(result.events) == 2
        assert result.rejects[0]["row_number"] == 2 and result.rejects[0]["reason"].startswith("not valid JSON")


def test_a_file_that_is_not_json_is_rejected_whole(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("<xml/>")
    (pos, err), = read_statements(path)
    assert pos == 0 and isinstance(err, StatementError) and err.field == "(file)"


@pytest.mark.parametrize("text, seconds", [("PT45S", 45), ("PT1M30S", 90), ("PT1H", 3600), ("P1DT2H", 93600), ("PT0.5S", 0.5)])
def test_iso_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["P", "PT", "90", "1M30S", ""])
def test_bad_durations(text):
    with pytest.raises(StatementError):
        parse_duration(text)


def test_non_object_statement():
    with pytest.raises(StatementError, match="not a JSON object"):
        map_statement(["not", "a", "statement"])


def test_ingest_lands_events_creates_learners_and_quarantines_rejects(tmp_path, monkeypatch, capsys):
    """`devmentor ingest xapi` takes the one ingest path: the importer's inbox files through the ingest assets."""
    import duckdb

    from orchestration.cli import main

    home = tmp_path / "home"
    monkeypatch.setenv("DEVMENTOR_HOME", str(home))
    assert main(["ingest", "xapi", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "6 statements mapped, 4 rejected" in out and "6 events landed, 0 quarantined" in out
    assert "2 new learners, 1 new courses" in out and "mapped share 60%" in out
    lake = home / "lake"
    con = duckdb.connect()
    events = con.execute(f"SELECT event_type, user_id FROM read_parquet('{lake}/raw/events/**/*.parquet', union_by_name=true)").fetchall()
    rejects = con.execute(f"SELECT row_number, field FROM read_parquet('{lake}/quarantine/xapi/*.parquet') ORDER BY 1").fetchall()
    assert len(events) == 6 and rejects == [(7, "verb.id"), (8, "actor"), (9, "result.duration"), (10, "timestamp")]
    assert main(["ingest", "xapi", str(SAMPLE)]) == 0
    assert "0 new learners" in capsys.readouterr().out
    n = con.execute(f"SELECT count(*) FROM read_parquet('{lake}/raw/events/**/*.parquet', union_by_name=true)").fetchone()[0]
    assert n == 6, "re-ingesting the same file replaces its events, never doubles them"


def _rows(statement, key="k1"):
    return map_statement(statement, key=key)[0][0][1]


def test_direct_identifiers_are_pseudonymised_with_a_keyed_hash():
    import hashlib

    base = {"verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"}, "object": {"id": "http://x/page"},
            "timestamp": "2026-03-01T10:00:00Z"}
    by_mbox = _rows({**base, "actor": {"mbox": "mailto:Ada@Example.org"}})["user_id"]
    by_sha = _rows({**base, "actor": {"mbox_sha1sum": hashlib.sha1(b"mailto:ada@example.org").hexdigest()}})["user_id"]
    assert by_mbox == by_sha and "ada" not in by_mbox.lower()
    # another key, another pseudonym: without the key the hash cannot be matched to an e-mail list
    assert _rows({**base, "actor": {"mbox": "mailto:ada@example.org"}}, key="k2")["user_id"] != by_mbox
    email_account = _rows({**base, "actor": {"account": {"name": "ada@example.org", "homePage": "x"}}})["user_id"]
    assert email_account.startswith("acct:") and "@" not in email_account
    assert _rows({**base, "actor": {"account": {"name": "edx-4417"}}})["user_id"] == "edx-4417"
    assert _rows({**base, "actor": {"openid": "https://ada.example.org/"}})["user_id"].startswith("openid:")


def _statement(i: int, verb: str, obj: dict, ts: str, actor: str = "edx-1", course: str = "course-v1:X+Y+2026", **extra) -> dict:
    return {"id": f"s-{i}", "actor": {"account": {"homePage": "https://lms", "name": actor}},
            "verb": {"id": verb}, "object": obj, "timestamp": ts,
            "context": {"contextActivities": {"grouping": [{"id": course}]}}, **extra}


def test_course_outcomes_become_the_outcomes_entity_latest_wins(tmp_path):
    import pyarrow.parquet as pq

    from devmentor.importers.xapi import import_xapi

    course = {"id": "course-v1:X+Y+2026", "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}
    problem = {"id": "https://lms/problem/1", "definition": {"type": "http://adlnet.gov/expapi/activities/cmi.interaction"}}
    stmts = [
        _statement(1, "http://adlnet.gov/expapi/verbs/failed", course, "2026-10-01T10:00:00Z"),
        _statement(2, "http://adlnet.gov/expapi/verbs/passed", course, "2026-11-01T10:00:00Z"),  # a resit: latest wins
        _statement(3, "http://id.tincanapi.com/verb/unregistered", course, "2026-10-05T10:00:00Z", actor="edx-2"),
        _statement(4, "http://adlnet.gov/expapi/verbs/completed", course, "2026-11-02T10:00:00Z", actor="edx-3"),
        # passed/failed on a problem is an answer, not an outcome; completed on a unit is a module completion
        _statement(5, "http://adlnet.gov/expapi/verbs/failed", problem, "2026-10-01T11:00:00Z", result={"success": False}),
        _statement(6, "http://adlnet.gov/expapi/verbs/completed", {"id": "https://lms/unit/2"}, "2026-10-01T12:00:00Z"),
    ]
    path = tmp_path / "outcomes.json"
    path.write_text(json.dumps({"statements": stmts}))
    result = convert(path)
    assert [(e["event_type"], e["score"]) for e in result.events] == [("quiz_attempt", 0.0), ("module_complete", None)]
    counts = import_xapi(path, tmp_path / "inbox", tmp_path / "lake", "")
    assert counts["outcomes"] == 3 and counts["statements_mapped"] == 6 and counts["statements_rejected"] == 0
    rows = pq.read_table(tmp_path / "inbox" / "outcomes" / "xapi-outcomes.parquet").to_pylist()
    got = {(r["user_id"], r["course_id"]): (r["final_result"], r["result_at"].isoformat()) for r in rows}
    assert got == {
        ("edx-1", "course-v1:X+Y+2026"): ("pass", "2026-11-01T10:00:00+00:00"),
        ("edx-2", "course-v1:X+Y+2026"): ("withdrawn", "2026-10-05T10:00:00+00:00"),
        ("edx-3", "course-v1:X+Y+2026"): ("completed", "2026-11-02T10:00:00+00:00"),
    }


def test_registration_then_withdrawal_and_a_return(tmp_path):
    """registered → an enrolment; unregistered after it → its withdrawn_at and a withdrawn outcome; registering
    again later keeps the enrolment open and drops the stale withdrawal."""
    course = {"id": "course-v1:X+Y+2026", "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}
    reg, unreg = "http://adlnet.gov/expapi/verbs/registered", "http://id.tincanapi.com/verb/unregistered"
    stmts = [_statement(1, reg, course, "2026-09-01T10:00:00Z"), _statement(2, unreg, course, "2026-09-20T10:00:00Z"),
             _statement(3, reg, course, "2026-09-01T10:00:00Z", actor="edx-2"),
             _statement(4, unreg, course, "2026-09-10T10:00:00Z", actor="edx-2"),
             _statement(5, reg, course, "2026-09-15T10:00:00Z", actor="edx-2")]
    path = tmp_path / "enrol.json"
    path.write_text(json.dumps(stmts))
    result = convert(path)
    one, two = result.enrolments[("edx-1", "course-v1:X+Y+2026")], result.enrolments[("edx-2", "course-v1:X+Y+2026")]
    assert (one["enrolled_at"], one["withdrawn_at"]) == ("2026-09-01T10:00:00+00:00", "2026-09-20T10:00:00+00:00")
    assert (two["enrolled_at"], two["withdrawn_at"]) == ("2026-09-15T10:00:00+00:00", None)
    assert {u for u, _ in result.outcomes} == {"edx-1"}
