"""Feature marts with real dbt on DuckDB: hand-computed values on a tiny fixture; incremental partitions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from devmentor.generator import generate
from devmentor.ingest.contract import ENTITIES
from devmentor.ingest.days import window_for_days
from devmentor.ingest.validate import ingest_entity
from devmentor.settings import TELEMETRY_ENV


def run_dbt(lake: Path, warehouse: Path, *args: str):
    """``dbt build`` of the project on this lake and warehouse, the way the pipeline runs dbt (assets.features)."""
    from assets.features import run_dbt as dbt

    env = {**TELEMETRY_ENV, "DEVMENTOR_LAKE": str(lake), "DEVMENTOR_WAREHOUSE": str(warehouse)}
    invocation = dbt(["build", *args], env, warehouse.parent / "dbt-target")
    assert invocation.is_successful(), invocation.get_error()
    return invocation


def ingest_all(inbox: Path, lake: Path) -> None:
    for entity in ENTITIES:
        ingest_entity(entity, inbox, lake)


def query(warehouse: Path, sql: str):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ------------------------------------------------------------------------------ hand-built fixture
TINY = {
    "profiles/p.csv": "user_id,learner_level,format_preference,timezone\nA,basic,video,America/New_York\nB,advanced,text,UTC\n",
    "catalog/courses/c.csv": "course_id,title\nC1,Course\n",
    "catalog/modules/m.csv": "module_id,course_id,position,title,prerequisites\nM1,C1,1,One,\nM2,C1,2,Two,M1\n",
    "catalog/content_items/ci.csv": "content_id,module_id,course_id,kind,format,topic_id,skill_tag,difficulty\n"
    "L1,M1,C1,lesson,video,T1,S1,0.5\nL2,M2,C1,lesson,text,T2,S2,0.5\n",
    "catalog/questions/q.csv": "question_id,module_id,course_id,topic_id,skill_tag,objective_tag,difficulty\n"
    "Q1,M1,C1,T1,S1,O1,0.3\nQ2,M1,C1,T1,S1,O1,0.6\nQ3,M2,C1,T2,S2,O2,0.5\n",
    "enrolments/e.csv": "user_id,course_id,enrolled_at\nA,C1,2026-09-30T00:00:00Z\nB,C1,2026-09-30T00:00:00Z\n",
    # Learner A, one session on 2026-10-01 02:00-02:30 UTC (22:00 local in New York, previous day):
    #   views: L1 video 600 s (on path), L2 text 300 s (module 2 before completing 1: deviation)
    #   quiz: Q1 score 1.0 no hint; Q2 score 0.4 with hint, 2 retries; Q1 again score 1.0 no hint
    #   hint request, module_complete M1, session_end with duration 1800 s.
    # Learner B: one session on 2026-10-02 10:00 UTC, Q3 score 0.5, one view L2 text 120 s, end 600 s.
    "events/2026-10-01.csv": "event_id,user_id,event_type,timestamp,session_id,course_id,module_id,content_id,format,duration_s,question_id,score,skill_tag,objective_tag,retries,hint_used,confidence,topic_id\n"
    "a1,A,session_start,2026-10-01T02:00:00Z,sA,C1,M1,,,,,,,,,,,\n"
    "a2,A,content_view,2026-10-01T02:01:00Z,sA,C1,M1,L1,video,600,,,,,,,,\n"
    "a3,A,content_view,2026-10-01T02:11:00Z,sA,C1,M2,L2,text,300,,,,,,,,\n"
    "a4,A,quiz_attempt,2026-10-01T02:16:00Z,sA,C1,M1,,video,60,Q1,1.0,S1,O1,0,false,0.9,T1\n"
    "a5,A,quiz_attempt,2026-10-01T02:17:00Z,sA,C1,M1,,video,60,Q2,0.4,S1,O1,2,true,0.3,T1\n"
    "a6,A,hint_request,2026-10-01T02:17:30Z,sA,C1,M1,,,,Q2,,,,,,,\n"
    "a7,A,quiz_attempt,2026-10-01T02:18:00Z,sA,C1,M1,,video,60,Q1,1.0,S1,O1,0,false,0.6,T1\n"
    "a8,A,module_complete,2026-10-01T02:25:00Z,sA,C1,M1,,,,,,,,,,,\n"
    "a9,A,session_end,2026-10-01T02:30:00Z,sA,C1,M1,,,1800,,,,,,,,\n",
    "events/2026-10-02.csv": "event_id,user_id,event_type,timestamp,session_id,course_id,module_id,content_id,format,duration_s,question_id,score,skill_tag,objective_tag,retries,hint_used,confidence,topic_id\n"
    "b1,B,session_start,2026-10-02T10:00:00Z,sB,C1,M1,,,,,,,,,,,\n"
    "b2,B,content_view,2026-10-02T10:01:00Z,sB,C1,M1,L1,text,120,,,,,,,,\n"
    "b3,B,quiz_attempt,2026-10-02T10:05:00Z,sB,C1,M2,,text,30,Q3,0.5,S2,O2,0,false,0.5,T2\n"
    "b4,B,session_end,2026-10-02T10:10:00Z,sB,C1,M1,,,600,,,,,,,,\n",
    # One good row (B flags topic T1 before their session ends) among bad ones.
    "events/2026-10-02-extra.csv": "event_id,user_id,event_type,timestamp,session_id,course_id,module_id,topic_id,score,flag_reason\n"
    "x1,B,topic_flag,2026-10-02T10:03:00Z,sB,C1,M1,T1,,confusing\n"
    "x2,Z,topic_flag,2026-10-02T10:04:00Z,sZ,C1,M1,T1,,confusing\n"
    "x3,B,quiz_attempt,2026-10-02T10:05:00Z,sB,C1,M1,,1.5,\n"
    "x4,B,topic_flag,2999-10-02T10:06:00Z,sB,C1,M1,T1,,confusing\n",
    "chat/2026-10-01.csv": "message_id,user_id,session_id,timestamp,message_direction,message_text,contextual_topic_id\n"
    "m1,A,sA,2026-10-01T02:05:00Z,user,Can I get a hint on recursion? Recursion confuses me.,T1\n"
    "m2,A,sA,2026-10-01T02:05:05Z,system,Here are two hints about loops.,T1\n"
    "m3,A,sA,2026-10-01T02:06:00Z,user,What is a loop?,T1\n",
    "chat/2026-10-02.csv": "message_id,user_id,session_id,timestamp,message_direction,message_text,contextual_topic_id\n"
    "m4,B,sB,2026-10-02T10:02:00Z,user,Recursion is clear now thanks,T2\n",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    for rel, text in TINY.items():
        p = root / "inbox" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    ingest_all(root / "inbox", root / "lake")
    run_dbt(root / "lake", root / "wh.duckdb")
    return root / "wh.duckdb"


def test_behaviour_mart_equals_hand_computed_values(tiny):
    (row,) = query(
        tiny,
        """SELECT total_courses, avg_score, correct_rate, quiz_attempts, dominant_format, total_time_spent_min,
                  content_type_engagement, hint_rate, module_order_deviation_rate, retention_span_min,
                  active_time_distribution, exploratory_behavior_score, modules_completed, last_activity_date,
                  days_since_last_activity, peak_local_hour
           FROM marts.fct_learner_behavior WHERE user_id = 'A'""",
    )
    (total_courses, avg_score, correct_rate, attempts, dominant, total_min, cte, hint_rate, deviation,
     retention, atd, explore, completed, last_date, days_since, peak) = row
    assert total_courses == 1
    assert avg_score == pytest.approx(0.8)  # (1.0 + 0.4 + 1.0) / 3
    assert correct_rate == pytest.approx(0.6667)  # 2 of 3 at score >= 0.5
    assert attempts == 3
    assert dominant == "video"  # 600 s video vs 300 s text
    assert total_min == 30.0  # reported session duration 1800 s
    assert cte == {"quiz_time": 3.0, "video_time": 10.0, "reading_time": 5.0, "image_time": 0.0, "hint_usage_count": 1}
    assert hint_rate == pytest.approx(0.3333)
    assert deviation == 0.5  # L2 (module 2) viewed while module 1 expected
    assert retention == 30.0
    assert atd == {"morning": 0.0, "afternoon": 0.0, "evening": 0.0, "night": 1.0}  # 22:00 in New York
    assert peak == 22
    assert explore == pytest.approx(0.75)  # 0.5 * 0.5 deviation + 0.5 * (2 distinct / 2 views)
    assert completed == 1
    assert str(last_date) == "2026-10-01"
    assert days_since == 1  # as of B's last event on 2026-10-02


def test_engagement_marts_equal_hand_computed_values(tiny):
    (row,) = query(
        tiny,
        """SELECT quiz_attempts, pmi, topic_scores, skill_scores, redo_topics, confidence_score_by_topic,
                  completion_rate, sessions, time_spent_min
           FROM marts.fct_course_engagement WHERE user_id = 'A' AND course_id = 'C1'""",
    )
    attempts, pmi, topics, skills, redo, conf, completion, sessions, minutes = row
    assert attempts == 3
    # PMI: mean of 1.0, 0.4 * 0.5 / (1 + 2), 1.0 = (2 + 0.0666667) / 3 → 68.89
    assert pmi == pytest.approx(68.89)
    assert topics == {"T1": 0.8}
    assert skills == {"S1": 8.0}
    assert redo == ["T1"]  # Q1 attempted twice and Q2 retried
    assert conf == {"T1": 0.6}
    assert completion == 0.5  # 1 of 2 modules
    assert (sessions, minutes) == (1, 30.0)
    mods = dict(query(tiny, "SELECT module_id, is_completed FROM marts.fct_module_engagement WHERE user_id = 'A'"))
    assert mods == {"M1": True, "M2": False}
    (log,) = query(tiny, "SELECT quiz_attempts_log FROM marts.fct_module_engagement WHERE user_id = 'A' AND module_id = 'M1'")[0]
    assert [(a["question_id"], float(a["score"]), a["retries"], a["hint_used"]) for a in log] == [
        ("Q1", 1.0, 0, False), ("Q2", 0.4, 2, True), ("Q1", 1.0, 0, False)]


# ----------------------------------------------------------------------------- incremental partitions
MARTS = {
    "marts.fct_learner_behavior": "user_id",
    "marts.fct_course_engagement": "user_id, course_id",
    "marts.fct_module_engagement": "user_id, course_id, module_id",
    "marts.dim_learner": "user_id",
    "marts.fct_chat_features": "user_id",
    "marts.fct_module_visits": "event_id",
    "marts.fct_content_views": "event_id",
    "marts.fct_module_completions": "event_id",
    "marts.fct_learner_active_days": "user_id, local_date",
    "marts.fct_learning_attempts": "event_id",
    "intermediate.int_sessions_summarized": "session_id",
    "intermediate.int_quiz_attempts_enriched": "event_id",
}


def snapshot(warehouse: Path) -> dict[str, list]:
    con = duckdb.connect(str(warehouse), read_only=True)
    out = {t: [tuple(map(str, r)) for r in con.execute(f"SELECT * FROM {t} ORDER BY {k}").fetchall()] for t, k in MARTS.items()}
    con.close()
    return out


@pytest.fixture(scope="module")
def partitions(tmp_path_factory):
    root = tmp_path_factory.mktemp("incr")
    generate(root / "all", learners=150, days=6, seed=21)
    inbox = root / "inbox"
    shutil.copytree(root / "all", inbox)
    last = sorted((root / "all" / "events").glob("*.parquet"))[-1].stem
    for folder in ("events", "chat"):
        (inbox / folder / f"{last}.parquet").unlink()
    ingest_all(inbox, root / "lake")
    run_dbt(root / "lake", root / "incr.duckdb")
    before = snapshot(root / "incr.duckdb")
    for folder in ("events", "chat"):
        shutil.copy(root / "all" / folder / f"{last}.parquet", inbox / folder / f"{last}.parquet")
    ingest_all(inbox, root / "lake")
    window = json.dumps(window_for_days(last, last))
    run_dbt(root / "lake", root / "incr.duckdb", "--vars", window)
    after = snapshot(root / "incr.duckdb")
    return root, last, window, before, after


def test_new_partition_adds_its_rows_and_leaves_earlier_days_alone(partitions):
    root, last, window, before, after = partitions
    old_attempts = set(before["intermediate.int_quiz_attempts_enriched"])
    new_attempts = set(after["intermediate.int_quiz_attempts_enriched"])
    assert old_attempts < new_attempts, "earlier attempts are kept unchanged and new ones are added"
    added_ids = {r[0] for r in new_attempts - old_attempts}  # event_id is the first column
    days = dict(query(root / "incr.duckdb", "SELECT event_id, CAST(event_date AS VARCHAR) FROM intermediate.int_quiz_attempts_enriched"))
    assert last in {days[i] for i in added_ids}
    from_new_file = {r[0] for r in query(root / "incr.duckdb", f"SELECT event_id FROM staging.stg_devmentor__events WHERE event_type = 'quiz_attempt' AND source_file LIKE '%{last}.parquet'")}
    assert added_ids == from_new_file, "exactly the new file's attempts were added, including those dated the next UTC day"
    # Learners with no events on the new day keep their engagement rows exactly.
    active = {r[0] for r in query(root / "incr.duckdb", f"SELECT DISTINCT user_id FROM staging.stg_devmentor__events WHERE event_date = DATE '{last}'")}
    b = {r[:3]: r for r in before["marts.fct_module_engagement"] if r[0] not in active}
    a = {r[:3]: r for r in after["marts.fct_module_engagement"] if r[0] not in active}
    assert a == b and len(a) > 0


def test_rerunning_a_partition_is_idempotent(partitions):
    root, last, window, before, after = partitions
    run_dbt(root / "lake", root / "incr.duckdb", "--vars", window)
    assert snapshot(root / "incr.duckdb") == after


def test_incremental_build_equals_a_full_build(partitions):
    root, last, window, before, after = partitions
    run_dbt(root / "lake", root / "full.duckdb")
    assert snapshot(root / "full.duckdb") == snapshot(root / "incr.duckdb")


def test_learner_marts_recompute_only_the_learners_whose_input_changed(partitions):
    """An incremental build of a learner-grain mart (macros/learner_incremental.sql) replaces the rows of the
    learners with input that reached the lake after the mart's mark, and leaves everyone else's rows as they
    were: a sentinel written into an unchanged learner's row survives the build, a changed learner's is replaced."""
    root, last, window, before, after = partitions
    wh = root / "marked.duckdb"
    run_dbt(root / "lake", wh)  # full build: every learner, and each mart's mark
    con = duckdb.connect(str(wh))
    mark = con.execute("SELECT ingested_through FROM learner_marks.marts__fct_module_engagement").fetchone()[0]
    newest = [con.execute(f"SELECT max(ingested_at) FROM staging.stg_devmentor__{t}").fetchone()[0]
              for t in ("events", "chat_messages", "profiles", "enrolments", "courses", "modules", "content_items", "questions")]
    assert mark == max(newest)  # the newest input row the build read
    # move the mark back to before the last day's file reached the lake: its learners are the changed ones
    first_ingest = con.execute(f"SELECT min(ingested_at) - INTERVAL 1 MICROSECOND FROM staging.stg_devmentor__events "
                               f"WHERE source_file LIKE '%{last}.parquet'").fetchone()[0]
    changed = {r[0] for t in ("events", "chat_messages") for r in con.execute(
        f"SELECT DISTINCT user_id FROM staging.stg_devmentor__{t} WHERE ingested_at > ?", [first_ingest]).fetchall()}
    users = [r[0] for r in con.execute("SELECT DISTINCT user_id FROM marts.fct_module_engagement ORDER BY 1").fetchall()]
    kept, redone = next(u for u in users if u not in changed), next(u for u in users if u in changed)
    for table in ("fct_module_engagement", "fct_module_visits"):
        con.execute(f"UPDATE learner_marks.marts__{table} SET ingested_through = ?", [first_ingest])
    con.execute("UPDATE marts.fct_module_engagement SET quiz_attempts = -1 WHERE user_id IN (?, ?)", [kept, redone])
    con.execute("UPDATE marts.fct_module_visits SET from_module = 'sentinel' WHERE user_id IN (?, ?)", [kept, redone])
    con.close()
    run_dbt(root / "lake", wh)
    sentinels = dict(query(wh, "SELECT user_id, min(quiz_attempts) FROM marts.fct_module_engagement GROUP BY user_id"))
    assert sentinels[kept] == -1, "an unchanged learner's rows are carried forward, not recomputed"
    assert sentinels[redone] >= 0, "a changed learner's rows are recomputed"
    visits = dict(query(wh, "SELECT user_id, count(*) FILTER (WHERE from_module = 'sentinel') FROM marts.fct_module_visits GROUP BY 1"))
    assert visits[kept] > 0 and visits[redone] == 0
    assert query(wh, "SELECT ingested_through FROM learner_marks.marts__fct_module_engagement") == [(mark,)]
    # a mark made by other SQL (the mart's SQL file changed since) is no mark: every learner is recomputed
    con = duckdb.connect(str(wh))
    con.execute("UPDATE learner_marks.marts__fct_module_engagement SET sql_checksum = 'older sql'")
    con.execute("UPDATE marts.fct_module_engagement SET quiz_attempts = -1 WHERE user_id = ?", [kept])
    con.close()
    run_dbt(root / "lake", wh)
    assert dict(query(wh, "SELECT user_id, min(quiz_attempts) FROM marts.fct_module_engagement GROUP BY 1"))[kept] >= 0


def test_a_learner_mart_whose_sql_changed_gains_the_column_for_every_learner(partitions, tmp_path):
    """Changed SQL (here a new column) on an incremental build: the table gains the column (sync_all_columns) and,
    the mark's checksum being another SQL's, every learner is recomputed, so no row keeps it empty."""
    import os
    import subprocess
    import sys

    from devmentor.settings import DBT_PROJECT_DIR

    root, last, window, before, after = partitions
    wh = tmp_path / "changed.duckdb"
    run_dbt(root / "lake", wh)
    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "marts" / "fct_chat_features.sql"
    model.write_text(model.read_text().replace("select * from final", "select *, 1 as probe_column from final"))
    env = {**os.environ, **TELEMETRY_ENV, "DEVMENTOR_LAKE": str(root / "lake"), "DEVMENTOR_WAREHOUSE": str(wh)}
    dbt = Path(sys.executable).with_name("dbt")
    done = subprocess.run([str(dbt), "run", "--select", "fct_chat_features", "--project-dir", str(project),
                           "--profiles-dir", str(project)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    rows = query(wh, "SELECT count(*), count(*) FILTER (WHERE probe_column = 1) FROM marts.fct_chat_features")
    assert rows[0][0] > 0 and rows[0][0] == rows[0][1]


def test_chat_search_ranks_by_bm25_and_filters_by_learner(tiny):
    from devmentor.features.chat_search import search

    hits = search(tiny, "recursion")
    # m1 says "recursion" twice, m4 once: both match, m1 first; messages without the term do not appear.
    assert list(hits["message_id"]) == ["m1", "m4"]
    assert hits["score"].iloc[0] > hits["score"].iloc[1] > 0
    assert list(search(tiny, "recursion", learner="B")["message_id"]) == ["m4"]
    # The query is tokenized like the index: plural stripped ("hints" finds "hint"), stop words ignored.
    assert set(search(tiny, "the hints")["message_id"]) == {"m1", "m2"}
    assert search(tiny, "the a of").empty
    with pytest.raises(ValueError, match="empty"):
        search(tiny, "   ")


def test_chat_features_on_the_fixture(tiny):
    rows = dict((r[0], r[1:]) for r in query(tiny, "SELECT user_id, user_messages, chat_hint_requests, chat_confusion_signals FROM marts.fct_chat_features"))
    assert rows == {"A": (2, 1, 1), "B": (1, 0, 0)}  # "confuses" counts as confusion; system messages are not the learner's


def test_bad_rows_are_in_quarantine_and_the_good_row_reaches_the_marts(tiny):
    reasons = dict(query(tiny, "SELECT CAST(row_number AS INTEGER), field || ': ' || reason FROM staging.stg_devmentor__quarantine WHERE source_file LIKE '%extra.csv'"))
    assert reasons == {
        2: "user_id: unknown user_id 'Z' (not in profiles)",
        3: "score: out of range [0, 1]: 1.5",
        4: "timestamp: timestamp in the future: 2999-10-02 10:06:00+00",
    }
    assert query(tiny, "SELECT topic_flags FROM marts.fct_learner_behavior WHERE user_id = 'B'") == [(1,)]
    assert query(tiny, "SELECT flagged_topics FROM marts.fct_module_engagement WHERE user_id = 'B' AND module_id = 'M1'") == [(["T1"],)]


def test_processes_loading_the_definitions_at_once_parse_the_project_once(tmp_path):
    """On a fresh clone every pytest worker (or every step process of the multiprocess executor) imports the
    dbt assets at the same moment: they must not all run ``dbt parse`` into one manifest.json (interleaved
    writes left a manifest orjson could not read)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout
    clone = tmp_path / "clone"
    for name in tracked.splitlines():
        if name.startswith(("assets/", "devmentor/", "models/", "dbt_project/")):
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, clone / name)
    assert not (clone / "dbt_project" / "target").exists()
    code = "import assets.features as f, pathlib; assert pathlib.Path(f.__file__).is_relative_to(pathlib.Path.cwd())"
    loaders = [subprocess.Popen([sys.executable, "-c", code], cwd=clone, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    for loader in loaders:
        out, _ = loader.communicate(timeout=300)
        assert loader.returncode == 0, out
    target = clone / "dbt_project" / "target"
    json.loads((target / "manifest.json").read_text())
    assert (target / "dbt.log").read_text().count("Running with dbt") == 1


def test_the_manifest_goes_stale_on_a_model_change_and_dbt_output_folders_are_never_walked(tmp_path):
    """What decides whether the definitions re-parse the dbt project: the newest .sql/.yml file or folder, never
    dbt's target/ or logs/ (a folder per invocation there once made every step process slower with each run)."""
    import os

    from assets.features import _newest_source_mtime

    (tmp_path / "models" / "marts").mkdir(parents=True)
    model = tmp_path / "models" / "marts" / "m.sql"
    model.write_text("select 1")
    (tmp_path / "README.md").write_text("not a source")
    for folder in ("target/run-1", "logs"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "compiled.sql").write_text("select 1")
    os.utime(model, (1_000, 1_000))
    for p in (tmp_path / "models", tmp_path / "models" / "marts"):
        os.utime(p, (900, 900))
    os.utime(tmp_path / "README.md", (5_000, 5_000))
    for folder in ("target", "target/run-1", "target/run-1/compiled.sql", "logs", "logs/compiled.sql"):
        os.utime(tmp_path / folder, (9_000, 9_000))
    assert _newest_source_mtime(tmp_path) == 1_000  # dbt's outputs and non-source files do not count
    os.utime(model, (2_000, 2_000))
    assert _newest_source_mtime(tmp_path) == 2_000  # an edited model
    (tmp_path / "models" / "marts" / "gone.sql").write_text("select 2")
    (tmp_path / "models" / "marts" / "gone.sql").unlink()
    assert _newest_source_mtime(tmp_path) > 2_000  # a deleted model moves its folder's mtime


def test_a_dbt_command_starts_dbt_once_and_opens_no_adapter_in_process(tmp_path, monkeypatch):
    """dagster-dbt's resource ran ``dbt --version`` (a second dbt start and a PyPI lookup, 4.8 s) and opened a dbt
    adapter in-process (4.4 s) before every dbt command; the project's resource does neither, and dbt still runs."""
    import dagster_dbt.core.resource as resource

    from assets.features import run_dbt as dbt

    def no_second_dbt(args, *a, **k):
        raise AssertionError(f"a second dbt process was started: {args}")

    monkeypatch.setattr(resource, "check_output", no_second_dbt)
    env = {**TELEMETRY_ENV, "DEVMENTOR_LAKE": str(tmp_path / "lake"), "DEVMENTOR_WAREHOUSE": str(tmp_path / "w.duckdb")}
    invocation = dbt(["ls", "--resource-type", "source", "--output", "name", "--quiet"], env, tmp_path / "target")
    assert invocation.is_successful(), invocation.get_error()
    assert invocation.adapter is None
    sources = {s["name"] for s in invocation.get_artifact("manifest.json")["sources"].values()}
    assert {"events", "profiles"} <= sources
