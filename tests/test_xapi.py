"""xAPI statements → contract events; unknown verbs and malformed statements quarantined with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devmentor.importers.xapi import (
    StatementError,
    convert,
    map_statement,
    parse_duration,
    read_statements,
)

SAMPLE = Path(__file__).parent / "data" / "xapi_openedx_sample.json"


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
    assert answer["course_id"] == "https://courses.example.edu/course-v1:DevU+PY101+2026"
    assert answer["module_id"].endswith("/unit/loops") and answer["user_id"] == "edx-4417"
    assert answer["timestamp"] == "2026-10-05T08:06:30.250000+00:00"
    # raw/max score; e-mail hashed, never stored; local time converted to UTC
    assert ada["score"] == 0.5 and ada["user_id"].startswith("mbox:") and "ada@" not in ada["user_id"]
    assert ada["timestamp"] == "2026-10-05T07:00:00+00:00"
    assert done["event_type"] == "module_complete"


def test_json_lines_and_broken_lines(tmp_path):
    stmts = json.loads(SAMPLE.read_text())["statements"][:2]
    path = tmp_path / "lrs.jsonl"
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
    assert "2 new learners, 1 new courses" in out
    lake = home / "lake"
    con = duckdb.connect()
    events = con.execute(f"SELECT event_type, user_id FROM read_parquet('{lake}/raw/events/**/*.parquet', union_by_name=true)").fetchall()
    rejects = con.execute(f"SELECT row_number, field FROM read_parquet('{lake}/quarantine/xapi/*.parquet') ORDER BY 1").fetchall()
    assert len(events) == 6 and rejects == [(7, "verb.id"), (8, "actor"), (9, "result.duration"), (10, "timestamp")]
    assert main(["ingest", "xapi", str(SAMPLE)]) == 0
    assert "0 new learners" in capsys.readouterr().out
    n = con.execute(f"SELECT count(*) FROM read_parquet('{lake}/raw/events/**/*.parquet', union_by_name=true)").fetchone()[0]
    assert n == 6, "re-ingesting the same file replaces its events, never doubles them"


def test_direct_identifiers_are_pseudonymised_with_a_keyed_hash():
    import hashlib

    from devmentor.importers.xapi import map_statement

    base = {"verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"}, "object": {"id": "http://x/page"},
            "timestamp": "2026-03-01T10:00:00Z"}
    by_mbox = map_statement({**base, "actor": {"mbox": "mailto:Ada@Example.org"}}, key="k1")["user_id"]
    by_sha = map_statement({**base, "actor": {"mbox_sha1sum": hashlib.sha1(b"mailto:ada@example.org").hexdigest()}}, key="k1")["user_id"]
    assert by_mbox == by_sha and "ada" not in by_mbox.lower()
    # another key, another pseudonym: without the key the hash cannot be matched to an e-mail list
    assert map_statement({**base, "actor": {"mbox": "mailto:ada@example.org"}}, key="k2")["user_id"] != by_mbox
    email_account = map_statement({**base, "actor": {"account": {"name": "ada@example.org", "homePage": "x"}}}, key="k1")["user_id"]
    assert email_account.startswith("acct:") and "@" not in email_account
    assert map_statement({**base, "actor": {"account": {"name": "edx-4417"}}}, key="k1")["user_id"] == "edx-4417"
    assert map_statement({**base, "actor": {"openid": "https://ada.example.org/"}}, key="k1")["user_id"].startswith("openid:")


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
