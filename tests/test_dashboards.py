"""Every dashboard page under Streamlit's AppTest, against the tables of a real small pipeline run."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import psycopg
import pytest

from dashboards.labels import fields, label, path_words, relative_path
from tests.conftest import E2E_LEARNERS, PROJECT_ROOT

pytestmark = pytest.mark.e2e

PAGES = ("views/overview.py", "views/at_risk.py", "views/learner.py", "views/skills.py", "views/engagement.py",
         "views/model_registry.py", "views/quality.py")


@pytest.fixture()
def app(pipeline_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    settings, url, _, _ = pipeline_run
    monkeypatch.setenv("DEVMENTOR_HOME", str(settings.home))
    monkeypatch.setenv("DEVMENTOR_DATABASE_URL", url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    monkeypatch.setenv("DEVMENTOR_DRIFT_PSI", "0.17")  # the drift chart must draw the threshold the settings hold
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(PROJECT_ROOT / "dashboards" / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at, url


def q(url, sql, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def wq(settings, sql, *params) -> pd.DataFrame:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def metrics(at):
    return {m.label: m for m in at.metric}


def frames(at) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe]


def goto(at, page):
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart_specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_overview_counts_learners_and_at_risk_with_no_change_on_a_first_run(app):
    at, url = app
    at_risk = q(url, "SELECT count(*) FROM serving.learner_decisions WHERE tree_id = 'primary_classification' "
                     "AND decision_label IN ('Struggling Novice', 'Disengaging')")[0][0]
    m = metrics(at)
    assert m["Learners"].value == f"{E2E_LEARNERS:,}"
    assert m["At risk"].value == f"{at_risk:,}"
    # One publish of the decisions so far: nothing to compare with, so no "+N since last run".
    assert q(url, "SELECT count(DISTINCT publish_id) FROM serving.publish_log WHERE table_name = 'learner_decisions'")[0][0] == 1
    assert not m["At risk"].delta
    assert len(chart_specs(at)) >= 2


def test_seven_day_activity_is_a_calendar_window_ending_at_the_data_as_of(app, pipeline_run):
    at, url = app
    as_of = pd.Timestamp(q(url, "SELECT max(as_of) FROM serving.learner_decisions")[0][0])
    sessions = wq(pipeline_run[0], "SELECT user_id, started_at, session_date FROM intermediate.int_sessions_summarized "
                                   "WHERE course_id IS NOT NULL")
    started = pd.to_datetime(sessions["started_at"], utc=True)
    inside = sessions[(started > as_of - pd.Timedelta(days=7)) & (started <= as_of)]
    expected = len(inside[["user_id", "session_date"]].drop_duplicates()) / 7
    assert metrics(at)["Daily active (last 7 days)"].value == f"{expected:,.1f}"


def test_filters_persist_across_pages_and_engagement_applies_the_cohort(app, pipeline_run):
    at, url = app
    settings = pipeline_run[0]
    cohorts = wq(settings, "SELECT strftime(signed_up_at, '%Y-%m') AS c, count(*) AS n FROM staging.stg_devmentor__profiles "
                           "GROUP BY 1 ORDER BY n DESC")
    cohort = cohorts["c"].iloc[0]
    at.sidebar.selectbox(key="course").select("C01").run()
    at.sidebar.selectbox(key="cohort").select(cohort).run()
    for page in PAGES[1:]:
        goto(at, page)
        assert at.sidebar.selectbox(key="course").value == "C01", page
        assert at.sidebar.selectbox(key="cohort").value == cohort, page
    goto(at, "views/engagement.py")
    expected = wq(settings, "SELECT sum(f.attempts) AS n FROM intermediate.int_format_performance f "
                            "JOIN staging.stg_devmentor__profiles p ON p.user_id = f.user_id "
                            "WHERE f.course_id = 'C01' AND f.study_format IS NOT NULL "
                            "AND strftime(p.signed_up_at, '%Y-%m') = ?", cohort)["n"].iloc[0]
    everyone = wq(settings, "SELECT sum(attempts) AS n FROM intermediate.int_format_performance "
                            "WHERE course_id = 'C01' AND study_format IS NOT NULL")["n"].iloc[0]
    shown = frames(at)[-1][label("attempts")].sum()
    assert shown == expected and 0 < expected < everyone


def test_at_risk_table_lists_exactly_the_learners_the_decisions_mark(app):
    at, url = app
    goto(at, "views/at_risk.py")
    expected = {r[0] for r in q(url, "SELECT user_id FROM serving.learner_decisions WHERE tree_id = 'primary_classification' "
                                     "AND decision_label IN ('Struggling Novice', 'Disengaging')")}
    table = frames(at)[0]
    assert set(table[label("user_id")]) == expected
    assert table[label("why")].str.len().min() > 0 and table[label("suggested_intervention")].notna().all()
    segs = table[label("segment")].tolist()  # riskiest first: every Disengaging learner before every Struggling Novice
    assert segs == sorted(segs, key=lambda s: 0 if s == "Disengaging" else 1)
    assert len(at.get("download_button")) == 1
    # The generated courses are self-paced: the page says why there are no early-warning scores.
    assert any("calendar" in i.value for i in at.info)


def test_learner_search_narrows_the_list_and_the_profile_hides_empty_fields(app, pipeline_run):
    at, url = app
    goto(at, "views/learner.py")
    at.text_input(key="learner_search").input("01").run()
    options = at.selectbox(key="learner").options
    matching = [u for u in q(url, "SELECT DISTINCT user_id FROM serving.learner_decisions") if "01" in u[0]]
    assert options and all("01" in o for o in options) and len(options) == min(len(matching), 200)
    # A learner with blank profile fields (no chat text, so no writing metrics), found by typing the whole id.
    blank = wq(pipeline_run[0], "SELECT * FROM marts.dim_learner WHERE avg_sentence_length IS NULL ORDER BY user_id LIMIT 1")
    assert len(blank), "the generated data should have a learner without writing metrics"
    user = blank["user_id"].iloc[0]
    at.text_input(key="learner_search").input(user).run()
    assert at.selectbox(key="learner").value == user
    seg = q(url, "SELECT decision_label FROM serving.learner_decisions WHERE user_id = %s AND tree_id = 'primary_classification'", user)[0][0]
    assert metrics(at)["Learner segment"].value == seg
    profile = next(f for f in frames(at) if list(f.columns) == ["Field", "Value"])
    raw = blank.iloc[0].to_dict()
    empty = [k for k, v in raw.items() if v is None or (isinstance(v, float) and pd.isna(v))]
    assert "avg_sentence_length" in empty and not set(profile["Field"]) & {label(k) for k in empty}
    assert label("gpa") in set(profile["Field"]) or pd.isna(raw["gpa"])
    assert not profile["Value"].isin(["None", "nan", "", "NaT"]).any()
    assert not any("_" in f for f in profile["Field"])
    mastery_rows = q(url, "SELECT count(*) FROM serving.mastery WHERE user_id = %s", user)[0][0]
    assert any(len(f) == mastery_rows and label("p_known") in f.columns for f in frames(at))
    assert any(label("reason_detail") in f.columns for f in frames(at))


def test_every_page_uses_human_labels_and_no_absolute_path(app, pipeline_run):
    at, url = app
    home = str(pipeline_run[0].home)
    for page in PAGES:
        goto(at, page)
        for frame in frames(at):
            assert not [c for c in frame.columns if "_" in str(c)], (page, list(frame.columns))
            assert not frame.astype(str).apply(lambda col: col.str.contains(home, regex=False)).any().any(), page
        for spec in chart_specs(at):
            text = json.dumps(spec)
            titles = [e.get("title") for layer in [spec, *spec.get("layer", [])]
                      for e in layer.get("encoding", {}).values() if isinstance(e, dict)]
            assert all(t is None or "_" not in t for t in titles), (page, titles)
            assert home not in text
        shown = " ".join(str(e.value) for kind in ("markdown", "caption", "info", "warning") for e in at.get(kind))
        assert home not in shown, page


def test_skill_matrix_lists_the_weakest_skill_first(app):
    at, url = app
    goto(at, "views/skills.py")
    weakest = q(url, "SELECT skill_id FROM serving.mastery GROUP BY 1 ORDER BY avg(p_known), 1 LIMIT 1")[0][0]
    assert frames(at)[0][label("skill_id")].iloc[0] == weakest


def test_engagement_page_shows_format_performance(app):
    at, url = app
    goto(at, "views/engagement.py")
    table = frames(at)[-1]
    assert set(table[label("study_format")]) <= {"text", "image", "video"} and table[label("attempts")].sum() > 0


def test_models_page_draws_each_champion_tree_the_drift_threshold_and_the_rules_warning(app):
    at, url = app
    goto(at, "views/model_registry.py")
    versions = frames(at)[0]
    assert set(versions[label("tree_id")]) == {"Learner segment", "Next intervention"}
    assert versions[label("champion")].sum() == 2 and versions[label("metrics.holdout_macro_f1")].between(0, 1).all()
    # The intervention tree learns our own policy: its figures are agreement with the rules, and the page warns.
    row = versions[versions[label("tree_id")] == "Next intervention"].iloc[0]
    assert row[label("measures")] == "agreement with our own rules"
    assert any("Next intervention" in w.value and "agreement" in w.value for w in at.warning)
    assert len(at.get("graphviz_chart")) == 2
    for tree in ("primary_classification", "intervention_strategy"):
        decided = q(url, "SELECT count(*) FROM serving.learner_decisions WHERE tree_id = %s", tree)[0][0]
        leaves = q(url, "SELECT count(DISTINCT flagged_rules_hit -> -1 ->> 'rule_id') FROM serving.learner_decisions "
                        "WHERE tree_id = %s", tree)[0][0]
        paths = [f for f in frames(at) if label("leaf_path") in f.columns]
        assert any(f[label("learners_now")].sum() == decided and (f[label("learners_now")] > 0).sum() == leaves for f in paths)
        assert all(not p.startswith("R") for f in paths for p in f[label("leaf_path")])
    rules = [s for s in chart_specs(at) if any((layer.get("mark") or {}).get("type") == "rule" for layer in s.get("layer", []))]
    assert rules and "0.17" in json.dumps(rules[0])
    assert metrics(at)["Next-response AUC (held-out learners)"].value.startswith("0.")


def test_quality_page_shows_check_results(app):
    at, url = app
    goto(at, "views/quality.py")
    m = metrics(at)
    assert int(m["Checks"].value) >= 3 and m["Failing"].value == "0"


def test_labels_hide_empty_fields_and_paths_are_relative(tmp_path):
    shown = fields({"user_id": "u1", "gpa": 3.2, "avg_sentence_length": float("nan"), "timezone": None,
                    "signed_up_at": pd.Timestamp("2025-01-02", tz="UTC"), "writing_style_category": "unknown",
                    "module_order_log": ["M1", "M2"]})
    assert dict(zip(shown["Field"], shown["Value"])) == {"GPA": "3.2", "Signed up": "2025-01-02",
                                                        "Modules in the order visited": "M1, M2"}
    # A feature bounded twice on one path is said once, at the tighter bound; the early-warning copies have words.
    words = path_words([("p_at_risk", ">", 0.37), ("correct_rate", "<=", 0.6), ("p_at_risk", ">", 0.77),
                        ("ew_weighted_score", "<=", 0.66)])
    assert words == ("P(fail or withdraw) from the early-warning model more than 0.77 and share of quiz answers correct "
                     "at most 0.6 and weighted assessment score (current enrolment) at most 0.66")
    home = tmp_path / "home"
    assert relative_path(str(home / "inbox" / "events" / "a.parquet"), [home]) == "inbox/events/a.parquet"
    assert relative_path("/elsewhere/b.csv", [home]) == "b.csv"


def test_tree_paths_and_picture_match_the_rule_evaluation():
    """Every leaf's path from the rule table is the path models.trees.decide_leaves sends its rows down."""
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier

    from dashboards.tree_view import label_leaves, leaves, rules_frame, tree_dot
    from models.trees import decide_leaves, leaf_labels, rule_table

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"correct_rate": rng.random(300), "hint_rate": rng.random(300), "ew_weighted_score": rng.random(300)})
    y = np.where(X["correct_rate"] < 0.4, "Struggling Novice", np.where(X["hint_rate"] > 0.7, "Disengaging", "Fast Tracker"))
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    table = rule_table(model, list(X.columns))
    rules = rules_frame(table.to_dict("records"))
    paths = leaves(rules)
    node, truth = decide_leaves(rules, X)
    assert {p.leaf: p.rule_ids for p in paths.itertuples()} == truth
    assert not paths["leaf_path"].str.contains("_").any() and paths["leaf_path"].str.len().min() > 0
    # The decisions say which leaf each learner is in (the last rule of the path) and its label.
    labels = leaf_labels(model)
    last = {leaf: ids[-1] for leaf, ids in truth.items()}
    decided = pd.DataFrame({"leaf": node}).value_counts().rename("learners").reset_index()
    decided = decided.assign(decision_label=decided["leaf"].map(labels), last_rule=decided["leaf"].map(last))
    labelled = label_leaves(paths, rules, decided[["decision_label", "last_rule", "learners"]])
    assert labelled["learners_now"].sum() == len(X)
    assert dict(zip(labelled["leaf"], labelled["decision_label"])) == {n: labels[n] for n in truth}
    dot = tree_dot(rules, labelled, ("Struggling Novice",))
    assert dot.count("[label=yes]") == dot.count("[label=no]") == rules["node_id"].nunique()
    assert all(f"n{leaf} [label=" in dot for leaf in truth)
    assert "current enrolment" in " ".join(paths["leaf_path"]) or "ew_weighted_score" not in set(table["feature"])
