"""OULAD: the reader on an excerpt of the real files, and features that never look past day N."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from devmentor.importers.oulad import OuladError, read_oulad
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
    from devmentor.studies.oulad import report, run_study

    t = read_oulad(excerpt)
    rows = run_study(t, [("AAA", ["2013J"], "2014J")], days=(60, "end"))
    assert [r.result.day for r in rows] == [60, "end"]
    for r in rows:
        assert 0 <= r.result.tree_metrics["auc"] <= 1 and r.result.params["max_depth"] <= 5
        assert r.result.rules.startswith("|---")
    assert "AAA | 2013J → 2014J | end" in report(rows)


def test_ingest_oulad_maps_into_the_contract_and_lands_in_the_lake(excerpt, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DEVMENTOR_HOME": str(tmp_path / "home")}
    r = subprocess.run([sys.executable, "-m", "orchestration.cli", "ingest", "oulad", str(excerpt)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    con = duckdb.connect()
    lake = tmp_path / "home" / "lake"
    src = duckdb.connect()
    n_clicks = src.execute(f"SELECT count(*) FROM read_csv('{excerpt}/studentVle.csv.gz', header=true)").fetchone()[0]
    n_results = src.execute(f"SELECT count(*) FROM read_csv('{excerpt}/studentAssessment.csv', header=true, nullstr=['?', ''])").fetchone()[0]
    by_type = dict(con.execute(f"SELECT event_type, count(*) FROM read_parquet('{lake}/raw/events/**/*.parquet', union_by_name=true) GROUP BY 1").fetchall())
    quarantined = con.execute(f"SELECT count(*) FROM read_parquet('{lake}/quarantine/events/*.parquet') WHERE reason = 'required when event_type = quiz_attempt'").fetchone()[0]
    assert by_type["content_view"] == n_clicks
    assert by_type["quiz_attempt"] + quarantined == n_results, "every result lands or is quarantined with its reason"
    enrol = con.execute(f"SELECT count(*), count(withdrawn_at) FROM read_parquet('{lake}/raw/enrolments/**/*.parquet', union_by_name=true)").fetchone()
    assert enrol[0] == 360 and enrol[1] > 0  # 3 presentations × 120 students; withdrawals kept
    bbb = con.execute(f"SELECT count(*) FROM read_parquet('{lake}/raw/events/**/*.parquet', union_by_name=true) WHERE course_id = 'BBB-2013B'").fetchone()[0]
    assert bbb > 0, "a presentation without clicks still brings its assessment results"
    assert "landed" in r.stdout


def test_study_runs_on_a_click_stream_of_another_module_without_code_changes(excerpt, tmp_path):
    """Relabel the excerpt so the click stream belongs to module ZZZ: the same code studies ZZZ."""
    import shutil

    from devmentor.studies.oulad import default_splits, run_study

    other = tmp_path / "other"
    shutil.copytree(excerpt, other)
    con = duckdb.connect()
    for name in ("courses.csv", "assessments.csv", "vle.csv", "studentInfo.csv", "studentRegistration.csv"):
        con.execute(f"COPY (SELECT * REPLACE (replace(code_module, 'AAA', 'ZZZ') AS code_module) FROM read_csv('{excerpt / name}', header=true, all_varchar=true)) TO '{other / name}' (HEADER)")
    con.execute(f"COPY (SELECT * REPLACE (replace(code_module, 'AAA', 'ZZZ') AS code_module) FROM read_csv('{excerpt / 'studentVle.csv.gz'}', header=true, all_varchar=true)) TO '{other / 'studentVle.csv.gz'}' (HEADER, COMPRESSION gzip)")
    t = read_oulad(other)
    splits = default_splits(t, modules=["ZZZ"])
    assert splits == [("ZZZ", ["2013J"], "2014J")]
    rows = run_study(t, splits, days=(60,))
    assert any(f.startswith("clicks_") for f in rows[0].result.features)


def test_each_snapshot_is_logged_to_mlflow(excerpt, tmp_path):
    from devmentor.studies.oulad import run_study
    from devmentor.training.mlflow_store import MlflowStore

    ml = MlflowStore(tracking_uri=f"sqlite:///{tmp_path / 'm.db'}", artifact_root=tmp_path / "a",
                     experiment="oulad_early_warning").setup()
    try:
        run_study(read_oulad(excerpt), [("AAA", ["2013J"], "2014J")], days=(30, "end"), mlflow=ml)
        runs = ml.search_runs(experiment_names=["oulad_early_warning"])
        assert sorted(runs["tags.snapshot_day"]) == ["30", "end"]
        for metric in ("tree_auc", "tree_f1", "tree_precision", "tree_recall", "baseline_auc", "baseline_f1"):
            assert runs[f"metrics.{metric}"].notna().all(), metric
        artifacts = {a.path for a in ml.MlflowClient().list_artifacts(runs["run_id"].iloc[0])}
        assert {"rules.txt", "fairness_by_group.json"} <= artifacts
        assert any(c.startswith("metrics.fairness_gap_recall_") for c in runs.columns)
    finally:
        ml.set_tracking_uri(None)


def test_fairness_report_covers_every_group_of_the_test_students(excerpt):
    from devmentor.studies.oulad import run_study
    from models.fairness import GROUP_ATTRIBUTES, largest_gaps

    rows = run_study(read_oulad(excerpt), [("AAA", ["2013J"], "2014J")], days=("end",))
    fair = rows[0].fairness
    assert set(fair["attribute"]) == set(GROUP_ATTRIBUTES)
    for attr, part in fair.groupby("attribute"):
        assert part["n"].sum() == rows[0].result.test_rows, attr  # every test student in exactly one group
    assert fair[["recall", "false_positive_rate"]].stack().between(0, 1).all()
    gaps = largest_gaps(fair)
    assert (gaps["gap"] >= 0).all() and gaps["gap"].is_monotonic_decreasing


def test_group_metrics_hand_computed():
    import numpy as np
    import pandas as pd

    from models.fairness import group_metrics

    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.6, 0.1, 0.8, 0.3])
    t = group_metrics(y, p, pd.DataFrame({"gender": ["F", "F", "F", "M", "M", "M"]})).set_index("group")
    assert t.loc["F", "recall"] == 0.5 and t.loc["F", "false_positive_rate"] == 1.0 and t.loc["F", "precision"] == 0.5
    assert t.loc["M", "recall"] == 1.0 and t.loc["M", "false_positive_rate"] == 0.0 and t.loc["M", "auc"] == 1.0
