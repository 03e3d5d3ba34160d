"""OULAD: the reader on an excerpt of the real files, and features that never look past day N."""

from __future__ import annotations

import duckdb
import pytest

from devmentor.importers.oulad import OuladError, read_oulad
from tests.conftest import requires_shared


@pytest.fixture(scope="module")
def excerpt(tmp_path_factory):
    """AAA's first 120 students of each presentation, plus BBB 2013B without any clicks, copied to a temp dir."""
    src = requires_shared("oulad")
    out = tmp_path_factory.mktemp("oulad")
    con = duckdb.connect()
    q = lambda name: f"read_csv('{src / name}', header=true, all_varchar=true)"  # noqa: E731
    con.execute(f"""CREATE TABLE keep AS
        SELECT code_module, code_presentation, id_student FROM (
            SELECT *, row_number() OVER (PARTITION BY code_module, code_presentation ORDER BY id_student) AS n
            FROM {q('studentInfo.csv')} WHERE code_module = 'AAA' OR (code_module = 'BBB' AND code_presentation = '2013B'))
        WHERE n <= 120""")
    for name in ("studentInfo.csv", "studentRegistration.csv"):
        con.execute(f"COPY (SELECT s.* FROM {q(name)} s SEMI JOIN keep USING (code_module, code_presentation, id_student)) TO '{out / name}' (HEADER)")
    for name in ("courses.csv", "assessments.csv", "vle.csv"):
        con.execute(f"COPY (SELECT * FROM {q(name)} WHERE code_module IN ('AAA', 'BBB')) TO '{out / name}' (HEADER)")
    con.execute(f"""COPY (SELECT sa.* FROM {q('studentAssessment.csv')} sa
                         WHERE id_student IN (SELECT id_student FROM keep)
                           AND id_assessment IN (SELECT id_assessment FROM {q('assessments.csv')} WHERE code_module IN ('AAA', 'BBB')))
                   TO '{out / 'studentAssessment.csv'}' (HEADER)""")
    con.execute(f"""COPY (SELECT v.* FROM read_csv('{src / 'studentVle.csv.gz'}', header=true, all_varchar=true) v
                         SEMI JOIN keep USING (code_module, code_presentation, id_student))
                   TO '{out / 'studentVle.csv.gz'}' (HEADER, COMPRESSION gzip)""")
    return out


def test_reader_handles_missing_values_and_presentations_without_clicks(excerpt):
    t = read_oulad(excerpt)
    assert set(t.student_info["code_module"]) == {"AAA", "BBB"}
    # '?' imd_band and empty scores/unregistration dates are missing values, not errors
    assert t.registrations["date_unregistration"].isna().any()
    assert t.student_assessments["score"].dtype.kind == "f"
    assert set(t.clicks["code_module"]) == {"AAA"}


def test_not_an_oulad_directory_is_a_clear_error(tmp_path):
    (tmp_path / "courses.csv").write_text("code_module\n")
    with pytest.raises(OuladError, match="missing assessments.csv"):
        read_oulad(tmp_path)


@pytest.fixture(scope="module")
def excerpt_home(excerpt, tmp_path_factory):
    """`devmentor ingest oulad` on the excerpt, once: a data directory whose lake holds it."""
    import os
    import subprocess
    import sys

    home = tmp_path_factory.mktemp("oulad-home") / "home"
    env = {**os.environ, "DEVMENTOR_HOME": str(home)}
    env.pop("DEVMENTOR_AS_OF", None)
    r = subprocess.run([sys.executable, "-m", "orchestration.cli", "ingest", "oulad", str(excerpt)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return home, r.stdout


def test_ingest_oulad_maps_into_the_contract_and_lands_in_the_lake(excerpt, excerpt_home):
    home, stdout = excerpt_home
    con = duckdb.connect()
    lake = home / "lake"
    src = duckdb.connect()
    n_clicks = src.execute(f"SELECT count(*) FROM read_csv('{excerpt}/studentVle.csv.gz', header=true)").fetchone()[0]
    n_results = src.execute(f"SELECT count(*) FROM read_csv('{excerpt}/studentAssessment.csv', header=true, nullstr=['?', ''])").fetchone()[0]
    by_type = dict(con.execute(f"SELECT event_type, count(*) FROM read_parquet('{lake}/raw/events/**/*.parquet', union_by_name=true) GROUP BY 1").fetchall())
    quarantined = con.execute(f"SELECT count(*) FROM read_parquet('{lake}/quarantine/events/*.parquet') WHERE reason = 'required when event_type = quiz_attempt'").fetchone()[0]
    assert by_type["content_view"] == n_clicks
    assert by_type["quiz_attempt"] + quarantined == n_results, "every result lands or is quarantined with its reason"
    enrol = con.execute(f"SELECT count(*), count(withdrawn_at), count(credits) FROM read_parquet('{lake}/raw/enrolments/**/*.parquet', union_by_name=true)").fetchone()
    assert enrol[0] == 360 and enrol[1] > 0 and enrol[2] == 360  # 3 presentations × 120 students; withdrawals kept
    bbb = con.execute(f"SELECT count(*) FROM read_parquet('{lake}/raw/events/**/*.parquet', union_by_name=true) WHERE course_id = 'BBB-2013B'").fetchone()[0]
    assert bbb > 0, "a presentation without clicks still brings its assessment results"
    outcomes = dict(con.execute(f"SELECT final_result, count(*) FROM read_parquet('{lake}/raw/outcomes/**/*.parquet') GROUP BY 1").fetchall())
    truth = src.execute(f"SELECT lower(final_result), count(*) FROM read_csv('{excerpt}/studentInfo.csv', header=true) GROUP BY 1").fetchall()
    assert outcomes == dict(truth), "every enrolment's final result is an outcome"
    calendar = con.execute(f"SELECT count(*), count(starts_at), count(ends_at), min(ends_at > starts_at) FROM read_parquet('{lake}/raw/courses/**/*.parquet')").fetchone()
    assert calendar[0] == calendar[1] == calendar[2] and calendar[3]
    due = con.execute(f"SELECT count(due_at), count(weight) FROM read_parquet('{lake}/raw/questions/**/*.parquet')").fetchone()
    assert due[0] > 0 and due[1] > 0
    # the summary counts each event once (a step over many day partitions reports its counts once per day)
    import re

    landed = sum(by_type.values())
    said = re.search(r"events: ([\d,]+) rows landed, ([\d,]+) quarantined", stdout)
    assert said and int(said[1].replace(",", "")) == landed, (said and said[0], landed)
    # OULAD has no chat: the run left the chat partitions out instead of recording 882 empty days
    assert not (home / "inbox" / "chat").exists() or not any((home / "inbox" / "chat").iterdir())
    assert "raw__chat_messages" not in stdout and "raw__events " in stdout


def test_study_on_the_dags_mart_reports_each_day_with_fairness(excerpt, excerpt_home):
    from devmentor.studies.oulad import as_json, load_study_frame, report, run_study
    from models.fairness import GROUP_ATTRIBUTES
    from orchestration.study import build_oulad_study

    home, _ = excerpt_home
    frame = load_study_frame(build_oulad_study(excerpt, home, lambda m: None))
    assert set(frame["snapshot_name"]) == {"30", "60", "90", "120", "end"}
    info = read_oulad(excerpt).student_info
    demo = info.assign(user_id="oulad-" + info["id_student"].astype(str),
                       course_id=info["code_module"] + "-" + info["code_presentation"])
    rows = run_study(frame, ["AAA-2013J", "BBB-2013B"], ["AAA-2014J"], days=("60", "end"), demographics=demo)
    assert [r["day"] for r in rows] == ["60", "end"]
    for r in rows:
        assert 0 <= r["tree_auc"] <= 1 and 0 <= r["baseline_auc"] <= 1 and r["depth"] <= 6
        test = frame[(frame["course_id"] == "AAA-2014J") & (frame["snapshot_name"] == r["day"])]
        assert r["n_test"] == len(test) < 120 + 1  # only enrolments still registered that day
        fair = r["fairness"]
        assert set(fair["attribute"]) == set(GROUP_ATTRIBUTES)
        for attr, part in fair.groupby("attribute"):
            assert part["n"].sum() == r["n_test"], attr
    assert rows[1]["n_test"] <= rows[0]["n_test"]  # withdrawals between day 60 and the end leave the cohort
    out = as_json(rows, ["AAA-2013J"], ["AAA-2014J"])
    assert set(out["days"]["60"]) >= {"tree_auc", "baseline_auc", "n_test"}
    assert "| end |" in report(rows, ["AAA-2013J"], ["AAA-2014J"])


def test_group_metrics_hand_computed():
    import numpy as np
    import pandas as pd

    from models.fairness import group_metrics

    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.6, 0.1, 0.8, 0.3])
    t = group_metrics(y, p, pd.DataFrame({"gender": ["F", "F", "F", "M", "M", "M"]})).set_index("group")
    assert t.loc["F", "recall"] == 0.5 and t.loc["F", "false_positive_rate"] == 1.0 and t.loc["F", "precision"] == 0.5
    assert t.loc["M", "recall"] == 1.0 and t.loc["M", "false_positive_rate"] == 0.0 and t.loc["M", "auc"] == 1.0
