"""Ingest validation: every kind of bad row is quarantined with file, row, field and reason; good rows go on."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from devmentor.ingest.contract import BY_NAME, ENTITIES
from devmentor.ingest.validate import PER_DAY_COPIES, ingest_entity

PROFILES_CSV = """user_id,age,learner_level,format_preference,format_comfort_rating_text,gpa,timezone
u1,20,basic,text,3,3.1,UTC
u2,25,advanced,video,5,3.9,Europe/Berlin
u3,31,intermediate,image,4,2.5,
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _quarantine(lake: Path, entity: str) -> list[dict]:
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT source_file, row_number, field, reason, errors, record FROM read_parquet('{lake}/quarantine/{entity}/*.parquet') ORDER BY source_file, row_number"
    ).fetchall()
    return [dict(zip(("source_file", "row_number", "field", "reason", "errors", "record"), r)) for r in rows]


def _raw(lake: Path, entity: str, column: str) -> list:
    con = duckdb.connect()
    return [r[0] for r in con.execute(f"SELECT {column} FROM read_parquet('{lake}/raw/{entity}/**/*.parquet') ORDER BY 1").fetchall()]


@pytest.fixture
def inbox_lake(tmp_path):
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    _write(inbox / "profiles" / "profiles.csv", PROFILES_CSV)
    _write(inbox / "catalog" / "courses" / "courses.csv", "course_id,title\nC1,Python\n")
    ingest_entity(BY_NAME["profiles"], inbox, lake)
    ingest_entity(BY_NAME["courses"], inbox, lake)
    return inbox, lake


def test_each_kind_of_bad_event_row_is_quarantined_with_its_reason(inbox_lake):
    inbox, lake = inbox_lake
    header = "event_id,user_id,event_type,timestamp,session_id,course_id,question_id,score,format,content_id,duration_s,retries,hint_used"
    rows = [
        "e1,u1,quiz_attempt,2026-10-01T10:00:00Z,s1,C1,q1,0.8,,,,0,false",  # good
        "e2,u1,quiz_attempt,2026-10-01T10:01:00Z,s1,C1,q2,1.7,,,,0,false",  # score out of range
        "e3,u1,teleport,2026-10-01T10:02:00Z,s1,C1,,,,,,,",  # unknown enum
        "e4,u9,session_start,2026-10-01T10:03:00Z,s1,C1,,,,,,,",  # unknown learner
        "e1,u1,session_end,2026-10-01T10:04:00Z,s1,C1,,,,,,,",  # duplicate event id
        "e6,u1,session_start,2999-01-01T00:00:00Z,s1,C1,,,,,,,",  # future timestamp
        "e7,u1,session_start,not-a-time,s1,C1,,,,,,,",  # wrong type
        "e8,u1,quiz_attempt,2026-10-01T10:05:00Z,s1,C1,q3,,,,,0,false",  # quiz without score
        "e9,u1,content_view,2026-10-01T10:06:00Z,s1,C1,,,text,L1,60,,",  # good
        "e10,u1,session_start,2026-10-01T10:07:00Z,s1,C9,,,,,,,",  # unknown course
        "e11,u2,quiz_attempt,2026-10-01T10:08:00Z,s2,C1,q4,0.5,,,,three,false",  # retries not an integer
        ",u2,session_start,2026-10-01T10:09:00Z,s2,C1,,,,,,,",  # missing event id
    ]
    path = _write(inbox / "events" / "2026-10-01.csv", "\n".join([header, *rows]) + "\n")
    result = ingest_entity(BY_NAME["events"], inbox, lake)
    assert result.rows_good == 2
    assert result.rows_quarantined == 10
    q = {r["row_number"]: r for r in _quarantine(lake, "events")}
    expected = {
        2: ("score", "out of range"),
        3: ("event_type", "unknown value 'teleport'"),
        4: ("user_id", "unknown user_id 'u9'"),
        5: ("event_id", "duplicate event_id (first seen at row 1)"),
        6: ("timestamp", "timestamp in the future"),
        7: ("timestamp", "not a valid timestamptz"),
        8: ("score", "required when event_type = quiz_attempt"),
        10: ("course_id", "unknown course_id 'C9'"),
        11: ("retries", "not a valid integer: three"),
        12: ("event_id", "required field is missing"),
    }
    assert set(q) == set(expected)
    for row, (field, reason) in expected.items():
        assert q[row]["field"] == field, (row, q[row])
        assert reason in q[row]["reason"], (row, q[row])
        assert q[row]["source_file"] == str(path)
        assert json.loads(q[row]["record"])  # the raw record is kept, nothing is lost
    assert _raw(lake, "events", "event_id") == ["e1", "e9"]


def test_rerun_is_idempotent_and_changed_file_replaces_its_rows(inbox_lake):
    inbox, lake = inbox_lake
    header = "event_id,user_id,event_type,timestamp,session_id,course_id"
    path = _write(inbox / "events" / "2026-10-02.csv", f"{header}\nx1,u1,session_start,2026-10-02T08:00:00Z,s1,C1\nx2,u2,session_start,2026-10-02T09:00:00Z,s2,C1\n")
    first = ingest_entity(BY_NAME["events"], inbox, lake)
    assert first.rows_good == 2
    second = ingest_entity(BY_NAME["events"], inbox, lake)
    assert second.files_ingested == 0
    forced = ingest_entity(BY_NAME["events"], inbox, lake, force=True)
    assert forced.rows_good == 2
    assert _raw(lake, "events", "event_id") == ["x1", "x2"], "a forced rerun must not double count"
    path.write_text(f"{header}\nx1,u1,session_start,2026-10-02T08:00:00Z,s1,C1\n")
    ingest_entity(BY_NAME["events"], inbox, lake)
    assert _raw(lake, "events", "event_id") == ["x1"]


@pytest.mark.parametrize("days", [2, 7])  # a daily file (a COPY per day), an import's history (one partitioned COPY)
def test_events_land_in_their_utc_day_folders_in_file_order(inbox_lake, days):
    inbox, lake = inbox_lake
    header = "event_id,user_id,event_type,timestamp,session_id,course_id"
    # a late event of the day before, then two per day, the second of each late in the UTC day (23:30 in Berlin is
    # still the UTC day before: the folder is the UTC day)
    lines = ["p0,u1,session_start,2026-09-30T23:59:00Z,s1,C1"]
    for d in range(days):
        day = f"2026-10-{d + 1:02d}"
        lines += [f"a{d},u1,session_start,{day}T08:00:00Z,s1,C1", f"b{d},u2,session_end,{day}T23:30:00+01:00,s2,C1"]
    _write(inbox / "events" / "2026-10-01.csv", header + "\n" + "\n".join(lines) + "\n")
    result = ingest_entity(BY_NAME["events"], inbox, lake)
    assert result.rows_good == len(lines) and result.rows_quarantined == 0
    con = duckdb.connect()
    landed = con.execute(
        f"SELECT split_part(split_part(filename, 'event_date=', 2), '/', 1) AS folder, event_date, event_id, _source_row "
        f"FROM read_parquet('{lake}/raw/events/event_date=*/*.parquet', filename=true, hive_partitioning=false)"
    ).fetchall()
    by_folder: dict = {}
    for folder, event_date, event_id, row in landed:
        assert folder == event_date.isoformat(), f"{event_id} of {event_date} landed in {folder}"
        by_folder.setdefault(folder, []).append(row)
    assert sorted(r for rows in by_folder.values() for r in rows) == list(range(1, len(lines) + 1))
    if days + 1 <= PER_DAY_COPIES:  # a COPY per day keeps the file's order (the partitioned COPY does not)
        assert all(rows == sorted(rows) for rows in by_folder.values())
    utc_days = ["2026-09-30"] + [f"2026-10-{d + 1:02d}" for d in range(days)]
    assert sorted(by_folder) == utc_days
    # the "+01:00" event of each day is at 22:30 UTC: same UTC day as its morning event
    assert [len(by_folder[d]) for d in utc_days] == [1] + [2] * days


def test_duplicate_of_an_event_from_another_file_is_quarantined(inbox_lake):
    inbox, lake = inbox_lake
    header = "event_id,user_id,event_type,timestamp,session_id,course_id"
    _write(inbox / "events" / "a.csv", f"{header}\nd1,u1,session_start,2026-10-02T08:00:00Z,s1,C1\n")
    ingest_entity(BY_NAME["events"], inbox, lake)
    _write(inbox / "events" / "b.csv", f"{header}\nd1,u1,session_start,2026-10-02T08:00:00Z,s1,C1\nd2,u1,session_end,2026-10-02T08:30:00Z,s1,C1\n")
    result = ingest_entity(BY_NAME["events"], inbox, lake)
    assert result.rows_good == 1
    (bad,) = [r for r in _quarantine(lake, "events") if r["source_file"].endswith("b.csv")]
    assert bad["row_number"] == 1 and "already ingested from" in bad["reason"] and bad["reason"].endswith("a.csv")


def test_jsonl_malformed_line_and_non_object_are_quarantined_by_row(inbox_lake):
    inbox, lake = inbox_lake
    lines = [
        json.dumps({"event_id": "j1", "user_id": "u1", "event_type": "session_start", "timestamp": "2026-10-03T08:00:00+00:00", "session_id": "s", "course_id": "C1"}),
        '{"event_id": "j2", "user_id": "u1", ',  # truncated JSON
        "[1, 2, 3]",
        json.dumps({"event_id": "j4", "user_id": "u1", "event_type": "content_view", "timestamp": "2026-10-03T08:05:00Z", "session_id": "s", "course_id": "C1", "content_id": "L1", "format": "video", "duration_s": 12.5}),
    ]
    _write(inbox / "events" / "2026-10-03.jsonl", "\n".join(lines) + "\n")
    result = ingest_entity(BY_NAME["events"], inbox, lake)
    assert result.rows_good == 2
    q = {r["row_number"]: r for r in _quarantine(lake, "events")}
    assert q[2]["reason"] == "line is not valid JSON" and q[2]["record"].startswith('{"event_id": "j2"')
    assert q[3]["reason"] == "line is not a JSON object"


def test_corrupt_parquet_is_quarantined_whole_and_other_files_go_on(inbox_lake):
    inbox, lake = inbox_lake
    good = pa.table({"event_id": ["p1"], "user_id": ["u1"], "event_type": ["session_start"],
                     "timestamp": pa.array([1_790_000_000_000_000], pa.timestamp("us", tz="UTC")),
                     "session_id": ["s"], "course_id": ["C1"]})
    (inbox / "events").mkdir(parents=True, exist_ok=True)
    pq.write_table(good, inbox / "events" / "good.parquet")
    data = (inbox / "events" / "good.parquet").read_bytes()
    (inbox / "events" / "truncated.parquet").write_bytes(data[: len(data) // 2])
    result = ingest_entity(BY_NAME["events"], inbox, lake)
    by_file = {Path(f.source_file).name: f for f in result.files}
    assert by_file["good.parquet"].rows_good == 1
    assert by_file["truncated.parquet"].file_error.startswith("file could not be read as parquet")
    (rejected,) = [r for r in _quarantine(lake, "events") if r["source_file"].endswith("truncated.parquet")]
    assert rejected["field"] == "(file)" and rejected["row_number"] is None


def test_missing_required_column_rejects_the_file_with_the_column_named(inbox_lake):
    inbox, lake = inbox_lake
    _write(inbox / "events" / "nocol.csv", "event_id,user_id,timestamp\nz1,u1,2026-10-01T00:00:00Z\n")
    result = ingest_entity(BY_NAME["events"], inbox, lake)
    (f,) = result.files
    assert f.file_error == "missing required column(s): event_type, session_id"
    assert f.rows_quarantined == 1


def test_profile_ranges_and_enums(tmp_path):
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    _write(
        inbox / "profiles" / "p.csv",
        "user_id,age,gpa,format_comfort_rating_video,format_comprehension_score_text,learner_purpose\n"
        "ok,20,3.0,4,0.5,revising\n"
        "old,140,3.0,4,0.5,revising\n"
        "rate,20,3.0,6,0.5,revising\n"
        "comp,20,3.0,4,1.5,revising\n"
        "purp,20,3.0,4,0.5,sightseeing\n",
    )
    result = ingest_entity(BY_NAME["profiles"], inbox, lake)
    assert result.rows_good == 1
    fields = {r["row_number"]: r["field"] for r in _quarantine(lake, "profiles")}
    assert fields == {2: "age", 3: "format_comfort_rating_video", 4: "format_comprehension_score_text", 5: "learner_purpose"}


def test_every_entity_has_a_schema_file_even_without_input(tmp_path):
    ingest_entity(BY_NAME["courses"], tmp_path / "inbox", tmp_path / "lake")
    con = duckdb.connect()
    for entity in ENTITIES:
        cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{tmp_path}/lake/raw/{entity.name}/**/*.parquet', union_by_name=true)").fetchall()}
        assert set(entity.field_names) <= cols


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_generated_data_in_every_format_ingests_without_quarantine(tmp_path, fmt):
    from devmentor.generator import generate

    summary = generate(tmp_path / "inbox", learners=60, days=2, seed=4, fmt=fmt)
    results = {e.name: ingest_entity(e, tmp_path / "inbox", tmp_path / "lake") for e in ENTITIES}
    assert results["events"].rows_good == summary.events
    assert results["chat_messages"].rows_good == summary.chat_messages
    assert sum(r.rows_quarantined for r in results.values()) == 0


def test_identifiers_in_chat_text_are_masked_at_ingest(tmp_path):
    import duckdb

    from devmentor.ingest.contract import BY_NAME
    from devmentor.ingest.validate import ingest_entity

    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    (inbox / "profiles").mkdir(parents=True)
    (inbox / "profiles" / "p.csv").write_text("user_id\nu1\n")
    (inbox / "chat").mkdir()
    (inbox / "chat" / "2026-03-01.csv").write_text(
        "message_id,user_id,session_id,timestamp,message_direction,message_text\n"
        "m1,u1,s1,2026-03-01T10:00:00Z,user,mail me at ada.l@example.org or call +44 20 7946 0958 about loops\n"
        "m2,u1,s1,2026-03-01T10:01:00Z,user,for loop 3 times in 2026\n")
    ingest_entity(BY_NAME["profiles"], inbox, lake)
    result = ingest_entity(BY_NAME["chat_messages"], inbox, lake)
    assert result.rows_good == 2
    texts = dict(duckdb.connect().execute(
        f"SELECT message_id, message_text FROM read_parquet('{lake}/raw/chat_messages/**/*.parquet')").fetchall())
    assert texts["m1"] == "mail me at [email] or call [phone] about loops"
    assert texts["m2"] == "for loop 3 times in 2026"


@pytest.mark.parametrize("crash_at", [1, 2, 3])
def test_a_crash_mid_ingest_is_rolled_forward_never_half_old_half_new(tmp_path, monkeypatch, crash_at):
    """Issue 19 #12: a source re-ingested with new content, killed at the k-th file move of its swap: the next
    ingest finishes the swap, and the lake holds exactly the new rows (no day partial, none twice)."""
    import os

    from devmentor.ingest.validate import ingest_entity, recover_interrupted

    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    for entity, rel, text in (
        ("profiles", "profiles/p.csv", "user_id\nu1\n"),
        ("courses", "catalog/courses/c.csv", "course_id,title\nC1,C\n"),
    ):
        (inbox / rel).parent.mkdir(parents=True, exist_ok=True)
        (inbox / rel).write_text(text)
        ingest_entity(BY_NAME[entity], inbox, lake)

    def events(version: int) -> str:
        rows = [f"e{d}-{i},u1,session_start,2026-10-0{d}T10:00:00Z,s{d},C1" for d in (1, 2, 3) for i in range(version)]
        return "event_id,user_id,event_type,timestamp,session_id,course_id\n" + "\n".join(rows) + "\n"

    path = inbox / "events" / "batch.csv"  # one source spanning three days (three partitions)
    path.parent.mkdir(parents=True)
    path.write_text(events(1))
    ingest_entity(BY_NAME["events"], inbox, lake)
    path.write_text(events(2))
    real, calls = os.replace, {"n": 0}

    def killed(src, dst):
        calls["n"] += 1
        if calls["n"] == crash_at + 1:  # the first rename is the journal's own
            raise OSError("killed")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(OSError):
        ingest_entity(BY_NAME["events"], inbox, lake)
    monkeypatch.setattr(os, "replace", real)
    assert recover_interrupted(lake) == 1
    con = duckdb.connect()
    got = con.execute(f"SELECT event_date, count(*) FROM read_parquet('{lake}/raw/events/**/*.parquet') GROUP BY 1 ORDER BY 1").fetchall()
    assert [n for _, n in got] == [2, 2, 2]


def _ensure_schema_files_at_once(lake: str, barrier, results) -> None:
    from devmentor.ingest.validate import ensure_schema_files

    barrier.wait()
    try:
        ensure_schema_files(Path(lake))
        results.put(None)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(repr(exc)[:300])


def test_ingest_steps_starting_at_once_on_a_fresh_lake_do_not_collide(tmp_path):
    """The multiprocess executor starts independent ingest steps together; each writes the schema files of a fresh
    lake (two COPYs to one file collided on DuckDB's file lock: 18 failures in 10 rounds of 4 before the fix)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    failures = []
    for round_no in range(5):
        lake = tmp_path / f"lake{round_no}"
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_ensure_schema_files_at_once, args=(str(lake), barrier, results)) for _ in range(4)]
        for p in procs:
            p.start()
        failures += [r for r in (results.get(timeout=60) for _ in procs) if r is not None]
        for p in procs:
            p.join()
        assert len(list(lake.rglob("_schema.parquet"))) == 2 * len(ENTITIES)
        assert not list(lake.rglob("*.tmp"))
    assert failures == []
