"""Every dashboard page under Streamlit's AppTest, against the tables of a real small pipeline run."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import E2E_LEARNERS, PROJECT_ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture()
def app(pipeline_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    settings, url, _, _ = pipeline_run
    monkeypatch.setenv("DEVMENTOR_HOME", str(settings.home))
    monkeypatch.setenv("DEVMENTOR_DATABASE_URL", url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(PROJECT_ROOT / "dashboards" / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at, url


def q(url, sql, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def metrics(at):
    return {m.label: m.value for m in at.metric}


def test_overview_counts_learners_and_at_risk(app):
    at, url = app
    at_risk = q(url, "SELECT count(*) FROM serving.learner_decisions WHERE tree_id = 'primary_classification' "
                     "AND decision_label IN ('Struggling Novice', 'Disengaging')")[0][0]
    m = metrics(at)
    assert m["Learners"] == f"{E2E_LEARNERS:,}"
    assert m["At risk"] == f"{at_risk:,}"
    assert len(at.get("arrow_vega_lite_chart")) >= 2 or len(at.get("vega_lite_chart")) >= 2 or at.markdown


def test_overview_filters_by_course(app, pipeline_run):
    at, url = app
    import duckdb

    settings = pipeline_run[0]
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    enrolled = con.execute("SELECT count(DISTINCT user_id) FROM staging.stg_devmentor__enrolments WHERE course_id = 'C01'").fetchone()[0]
    con.close()
    at.sidebar.selectbox(key="course").select("C01").run()
    assert not at.exception
    assert metrics(at)["Learners"] == f"{enrolled:,}"


def test_at_risk_table_lists_exactly_the_learners_the_decisions_mark(app):
    at, url = app
    at.switch_page("pages/at_risk.py").run()
    assert not at.exception, [e.value for e in at.exception]
    expected = {r[0] for r in q(url, "SELECT user_id FROM serving.learner_decisions WHERE tree_id = 'primary_classification' "
                                     "AND decision_label IN ('Struggling Novice', 'Disengaging')")}
    table = at.dataframe[0].value
    assert set(table["user_id"]) == expected
    assert table["why"].str.len().min() > 0 and table["suggested_intervention"].notna().all()
    # riskiest first: every Disengaging learner before every Struggling Novice
    segs = table["segment"].tolist()
    assert segs == sorted(segs, key=lambda s: 0 if s == "Disengaging" else 1)
    assert len(at.get("download_button")) == 1


def test_learner_drill_down_shows_that_learners_tables(app):
    at, url = app
    at.switch_page("pages/learner.py").run()
    assert not at.exception, [e.value for e in at.exception]
    user = at.selectbox(key="learner").value
    seg = q(url, "SELECT decision_label FROM serving.learner_decisions WHERE user_id = %s AND tree_id = 'primary_classification'", user)[0][0]
    assert metrics(at)["Segment"] == seg
    frames = [d.value for d in at.dataframe]
    mastery_rows = q(url, "SELECT count(*) FROM serving.mastery WHERE user_id = %s", user)[0][0]
    assert any(len(f) == mastery_rows and "p_known" in f.columns for f in frames)
    assert any("reason_detail" in f.columns for f in frames)


def test_skill_matrix_lists_the_weakest_skill_first(app):
    at, url = app
    at.switch_page("pages/skills.py").run()
    assert not at.exception, [e.value for e in at.exception]
    weakest = q(url, "SELECT skill_id FROM serving.mastery GROUP BY 1 ORDER BY avg(p_known), 1 LIMIT 1")[0][0]
    assert at.dataframe[0].value["skill_id"].iloc[0] == weakest


def test_engagement_page_shows_format_performance(app, pipeline_run):
    at, url = app
    at.switch_page("pages/engagement.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert set(table["study_format"]) <= {"text", "image", "video"} and table["attempts"].sum() > 0


def test_models_page_shows_versions_rules_drift_and_mastery(app):
    at, url = app
    at.switch_page("pages/model_registry.py").run()
    assert not at.exception, [e.value for e in at.exception]
    versions = at.dataframe[0].value
    assert set(versions["tree_id"]) == {"primary_classification", "intervention_strategy"}
    assert versions["champion"].sum() == 2 and versions["metrics.holdout_macro_f1"].between(0, 1).all()
    assert metrics(at)["Next-response AUC (held-out learners)"].startswith("0.")
    assert any("psi" in d.value.columns for d in at.dataframe)


def test_quality_page_shows_check_results(app):
    at, url = app
    at.switch_page("pages/quality.py").run()
    assert not at.exception, [e.value for e in at.exception]
    m = metrics(at)
    assert int(m["Checks"]) >= 3 and m["Failing"] == "0"
