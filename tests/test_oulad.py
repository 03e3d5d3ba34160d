"""OULAD: the reader on an excerpt of the real files, and features that never look past day N."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from assets.ingest.oulad import OuladError, read_oulad
from models.early_warning import snapshot_features
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
    bbb = snapshot_features(t, "BBB", "2013B", 60)
    assert len(bbb) == 120, "a presentation without a click stream keeps all its students"
    assert bbb["clicks_total"].isna().all() and bbb["assessments_submitted"].notna().all()
    aaa = snapshot_features(t, "AAA", "2013J", 60)
    assert (aaa["clicks_total"] > 0).mean() > 0.8


def test_no_feature_at_day_n_uses_data_after_day_n(excerpt):
    t = read_oulad(excerpt)
    day = 60
    before = snapshot_features(t, "AAA", "2013J", day)
    # Rewrite everything after day N: future clicks multiplied, future scores zeroed, everyone withdrawing later.
    t.clicks.loc[t.clicks["date"] > day, "sum_click"] *= 10
    late = t.student_assessments["date_submitted"] > day
    t.student_assessments.loc[late, "score"] = 0.0
    t.registrations["date_unregistration"] = t.registrations["date_unregistration"].fillna(day + 50)
    after = snapshot_features(t, "AAA", "2013J", day)
    assert before.equals(after)
    # ... while changing data on or before day N does change them (the test can fail).
    t.clicks.loc[t.clicks["date"] <= day, "sum_click"] += 1
    assert not np.allclose(before["clicks_total"], snapshot_features(t, "AAA", "2013J", day)["clicks_total"])


def test_not_an_oulad_directory_is_a_clear_error(tmp_path):
    (tmp_path / "courses.csv").write_text("code_module\n")
    with pytest.raises(OuladError, match="missing assessments.csv"):
        read_oulad(tmp_path)


def test_study_runs_on_the_excerpt_and_reports_each_snapshot(excerpt):
    from assets.training.oulad_study import report, run_study

    t = read_oulad(excerpt)
    rows = run_study(t, [("AAA", ["2013J"], "2014J")], days=(60, "end"))
    assert [r.result.day for r in rows] == [60, "end"]
    for r in rows:
        assert 0 <= r.result.tree_metrics["auc"] <= 1 and r.result.params["max_depth"] <= 5
        assert r.result.rules.startswith("|---")
    assert "AAA | 2013J → 2014J | end" in report(rows)
