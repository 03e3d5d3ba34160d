"""The whole pipeline on a small generated dataset: real DuckDB, dbt, PostgreSQL and MLflow."""

from __future__ import annotations

import json

import duckdb
import psycopg
import pytest

from devmentor.ingest.contract import SEGMENTS
from orchestration.runner import run_pipeline

pytestmark = pytest.mark.e2e

from tests.conftest import E2E_LEARNERS as LEARNERS


def test_run_succeeds_and_materializes_every_asset(pipeline_run):
    settings, url, result, summary = pipeline_run
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    for key in ("raw/events", "raw/profiles", "marts/fct_learner_behavior", "marts/dim_learner",
                "ml/primary_classification", "ml/learner_decisions_scored", "serving/learner_decisions"):
        assert key in materialized


def test_one_decision_per_generated_learner_from_the_champion(pipeline_run):
    settings, url, result, summary = pipeline_run
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT user_id, tree_id, decision_label, decision_version, model_uri, flagged_rules_hit, input_attributes "
            "FROM serving.learner_decisions WHERE tree_id = 'primary_classification'"
        ).fetchall()
        per_tree = dict(conn.execute("SELECT tree_id, count(DISTINCT user_id) FROM serving.learner_decisions GROUP BY 1").fetchall())
    assert per_tree == {"primary_classification": LEARNERS, "intervention_strategy": LEARNERS}
    assert len(rows) == LEARNERS
    assert len({r[0] for r in rows}) == LEARNERS
    assert {r[1] for r in rows} == {"primary_classification"}
    assert {r[2] for r in rows} <= set(SEGMENTS)
    assert len({r[2] for r in rows}) >= 4, "the tree should tell several segments apart on generated data"

    import mlflow

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    champion = mlflow.MlflowClient().get_model_version_by_alias("primary_classification", "champion")
    assert {r[3] for r in rows} == {str(champion.version)}
    assert {r[4] for r in rows} == {f"models:/primary_classification/{champion.version}"}
    # The decision path is non-empty and names real rules; the inputs are the tree's features.
    path = rows[0][5]
    assert path and all(step["rule_id"].startswith("R") and step["rule"] for step in path)
    assert "correct_rate" in rows[0][6]


def test_published_labels_match_the_model_on_the_marts(pipeline_run):
    """Re-score from the warehouse with the registered champion: the published labels must agree."""
    settings, url, result, summary = pipeline_run
    import mlflow
    import pandas as pd

    from devmentor.training.features import LEARNER_FEATURES_SQL
    from models.features import feature_matrix

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    model = mlflow.sklearn.load_model("models:/primary_classification@champion")
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    frame = con.execute(LEARNER_FEATURES_SQL).df()
    con.close()
    expected = pd.Series(model.predict(feature_matrix(frame, list(model.feature_names_in_))), index=frame["user_id"])
    with psycopg.connect(url) as conn:
        published = dict(conn.execute("SELECT user_id, decision_label FROM serving.learner_decisions WHERE tree_id = 'primary_classification'").fetchall())
    assert all(published[u] == expected[u] for u in expected.index)


def test_marts_cover_every_learner_and_event_counts_reconcile(pipeline_run):
    settings, url, result, summary = pipeline_run
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    n_behavior = con.execute("SELECT count(*), count(DISTINCT user_id) FROM marts.fct_learner_behavior").fetchone()
    n_dim = con.execute("SELECT count(*) FROM marts.dim_learner").fetchone()[0]
    n_events = con.execute("SELECT count(*) FROM staging.stg_devmentor__events").fetchone()[0]
    quiz = con.execute(
        "SELECT sum(quiz_attempts) FROM marts.fct_learner_behavior"
    ).fetchone()[0]
    quiz_events = con.execute("SELECT count(*) FROM staging.stg_devmentor__events WHERE event_type = 'quiz_attempt'").fetchone()[0]
    con.close()
    assert n_behavior == (LEARNERS, LEARNERS)
    assert n_dim == LEARNERS
    last_day = sorted(p.stem for p in (settings.inbox / "events").glob("*.parquet"))[-1]
    import pyarrow.parquet as pq

    not_yet = pq.read_metadata(settings.inbox / "events" / f"{last_day}.parquet").num_rows
    assert n_events == summary.events - not_yet, "every event of the processed days lands exactly once"
    assert quiz == quiz_events


def test_training_is_logged_to_mlflow_with_rules_and_metrics(pipeline_run):
    settings, url, result, summary = pipeline_run
    import mlflow

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias("primary_classification", "champion")
    run = client.get_run(champion.run_id)
    assert run.data.metrics["holdout_macro_f1"] > 0.6
    assert run.data.tags["label_source"] == "instructor_annotations"
    assert len(run.data.tags["data_fingerprint"]) == 64
    artifacts = {a.path for a in client.list_artifacts(champion.run_id)}
    assert {"rules.txt", "rule_table.csv", "tree.png"} <= artifacts
    rules = mlflow.artifacts.load_text(f"runs:/{champion.run_id}/rules.txt")
    assert "class:" in rules and "<=" in rules
    # The artifact store is inside the data directory, never ./mlruns.
    assert str(settings.mlflow_artifact_root) in run.info.artifact_uri


def test_second_run_publishes_new_version_and_keeps_history(pipeline_run):
    settings, url, result, summary = pipeline_run
    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM serving.decision_log").fetchone()[0]
    again = run_pipeline(settings, select="key:ml/* or key:serving/*")
    assert again.success
    with psycopg.connect(url) as conn:
        after = conn.execute("SELECT count(*) FROM serving.decision_log").fetchone()[0]
        current = conn.execute("SELECT count(*), count(DISTINCT publish_id) FROM serving.learner_decisions").fetchone()
        publishes = conn.execute("SELECT count(*) FROM serving.publish_log WHERE table_name = 'learner_decisions'").fetchone()[0]
    assert after == before + 2 * LEARNERS
    assert current == (2 * LEARNERS, 1)
    assert publishes >= 2
    # The same data gives a model that is not worse, so the gate promotes it.
    meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in again.get_asset_materialization_events()}
    assert meta["ml/primary_classification"]["promoted_to_champion"].value is True
    assert json.loads(json.dumps(meta["ml/primary_classification"]["gate_reason"].value)).startswith("not worse")


def test_daily_run_ingests_the_new_day_and_republishes(pipeline_run):
    settings, url, result, summary = pipeline_run
    last_day = sorted(p.stem for p in (settings.inbox / "events").glob("*.parquet"))[-1]
    daily = run_pipeline(settings, days=(last_day, last_day))
    assert daily.success
    raw = [e for e in daily.get_asset_materialization_events() if e.asset_key.to_user_string() == "raw/events"]
    assert raw and raw[0].materialization.metadata["files_ingested"].value == 1
    checks = {(c.asset_key.to_user_string(), c.check_name): c.passed for c in daily.get_asset_check_evaluations()}
    assert checks[("raw/events", "quarantine_share_within_limit")]
    assert checks[("raw/events", "raw_events_expectations")]
    assert checks[("marts/fct_learner_behavior", "behavior_mart_expectations")]
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    n_events = con.execute("SELECT count(*) FROM staging.stg_devmentor__events").fetchone()[0]
    n_attempts = con.execute("SELECT count(*) FROM intermediate.int_quiz_attempts_enriched").fetchone()[0]
    quiz_events = con.execute("SELECT count(*) FROM staging.stg_devmentor__events WHERE event_type = 'quiz_attempt'").fetchone()[0]
    con.close()
    assert n_events == summary.events
    assert n_attempts == quiz_events, "the incremental window added the new day's attempts exactly once"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM serving.learner_decisions").fetchone()[0] == 2 * LEARNERS
    _assert_published_equals_the_lake(settings, url, daily.run_id)


def _rows(table) -> list[tuple]:
    import datetime as dt
    import math

    def norm(v):
        if isinstance(v, float) and math.isnan(v):
            return "NaN"
        if isinstance(v, dt.datetime) and v.tzinfo is None:  # a lake timestamp published into a date column
            return v.date() if v.time() == dt.time() else v
        return v

    return sorted((tuple(norm(v) for v in row) for row in table), key=repr)


def _assert_published_equals_the_lake(settings, url, run_id):
    """The daily run publishes the learning and gamification groups as the rows that changed (delta): what is then
    in PostgreSQL must equal, table by table and row by row, the whole outputs the run wrote to the lake."""
    import pyarrow.parquet as pq

    from devmentor.serving.tables import GAMIFICATION_TABLES, LEARNING_TABLES

    modes = {}
    with psycopg.connect(url) as conn:
        for folder, specs in (("learning", LEARNING_TABLES), ("gamification", GAMIFICATION_TABLES)):
            for spec in specs:
                cols = [c.name for c in spec.columns if c.name != "publish_id"]
                lake = pq.read_table(settings.lake / "ml" / folder / f"{spec.name}.parquet").select(cols)
                live = conn.execute(f"SELECT {', '.join(cols)} FROM serving.{spec.name}").fetchall()
                assert _rows(live) == _rows(zip(*(lake.column(c).to_pylist() for c in cols))), spec.name
                modes[spec.name] = conn.execute(
                    "SELECT mode, rows_written, row_count FROM serving.publish_log WHERE table_name = %s AND run_id = %s",
                    (spec.name, run_id)).fetchone()
    # the tables a new day barely touches were written as their changed rows only (this run also refits the models,
    # whose version every learning-engine row carries, and moves the as-of day, so those are swapped whole)
    for name in ("badges", "reward_log"):
        mode, written, total = modes[name]
        assert mode == "delta" and written < total, str(modes)


def test_a_bad_partition_stops_publication_and_keeps_the_last_good_tables(pipeline_run):
    settings, url, result, summary = pipeline_run
    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT publish_id, count(*) FROM serving.learner_decisions GROUP BY 1").fetchall()
    bad_day = "2026-11-05"
    lines = ["event_id,user_id,event_type,timestamp,session_id,course_id"]
    lines += [f"bad{i},nobody{i},session_start,{bad_day}T10:00:00Z,s{i},C01" for i in range(40)]  # unknown learners
    lines += [f"ok{i},u000001,session_start,{bad_day}T11:00:00Z,t{i},C01" for i in range(10)]
    (settings.inbox / "events" / f"{bad_day}.csv").write_text("\n".join(lines) + "\n")
    run = run_pipeline(settings, days=(bad_day, bad_day))
    assert not run.success
    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in run.get_asset_check_evaluations()}
    share_check = checks[("raw/events", "quarantine_share_within_limit")]
    assert share_check.passed is False
    assert share_check.metadata["quarantined_share"].value == 0.8
    materialized = {e.asset_key.to_user_string() for e in run.get_asset_materialization_events()}
    assert "serving/learner_decisions" not in materialized and "ml/primary_classification" not in materialized
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT publish_id, count(*) FROM serving.learner_decisions GROUP BY 1").fetchall() == before
    # Nothing is lost: the 40 rows are in quarantine with the reason, the 10 good ones in the lake.
    con = duckdb.connect()
    q = con.execute(f"SELECT count(*), min(reason) FROM read_parquet('{settings.lake}/quarantine/events/*.parquet') WHERE source_file LIKE '%{bad_day}.csv'").fetchone()
    good = con.execute(f"SELECT count(*) FROM read_parquet('{settings.lake}/raw/events/**/*.parquet', union_by_name=true) WHERE event_id LIKE 'ok%'").fetchone()[0]
    assert q[0] == 40 and q[1].startswith("unknown user_id")
    assert good == 10


def test_every_decision_carries_the_seed_decision_log_attributes(pipeline_run):
    settings, url, result, summary = pipeline_run
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT d.user_id, d.tree_id, d.decision_label, d.llm_prompt_output, d.thresholds_at_time, d.flagged_rules_hit,
                      d.trace_id, d.event_source, s.rules
               FROM serving.learner_decisions d
               JOIN serving.threshold_snapshots s ON s.snapshot_id = d.thresholds_at_time->>'snapshot_id'"""
        ).fetchall()
        outbox = conn.execute("SELECT count(*), count(DISTINCT trace_id) FROM serving.decision_outbox").fetchone()
        logged = conn.execute("SELECT count(*) FROM serving.decision_log").fetchone()[0]
        delivered = conn.execute("SELECT count(*), min(response_status), max(response_status) FROM serving.delivery_log").fetchone()
        retraining = dict(conn.execute("SELECT tree_id, count(*) FROM serving.retraining_log GROUP BY 1").fetchall())
    assert len(rows) == 2 * LEARNERS, "every decision points at a stored threshold snapshot"
    labels = {}
    for user_id, tree_id, label, prompt, thresholds, path, trace_id, source, snapshot_rules in rows:
        labels[(user_id, tree_id)] = label
        assert user_id in prompt and label in prompt
        rules = {r["rule_id"]: r["threshold"] for r in snapshot_rules}
        assert thresholds["rules_on_path"] == {step["rule_id"]: step["threshold"] for step in path}
        assert all(rules[r] == t for r, t in thresholds["rules_on_path"].items())
        assert len(trace_id) == 32 and source == "batch_scoring"
    # The prompt names both of the learner's decisions.
    user_id, _, _, prompt, *_ = rows[0]
    assert labels[(user_id, "primary_classification")] in prompt and labels[(user_id, "intervention_strategy")] in prompt
    assert outbox[0] == logged and outbox[1] == logged, "outbox rows are written with the decisions, one per decision"
    assert delivered[0] == logged and delivered[1] == delivered[2] == "queued"  # no NATS here: nothing delivered yet
    assert set(retraining) == {"primary_classification", "intervention_strategy"}


def test_retraining_sensor_skips_when_stable_and_requests_a_run_on_new_data(pipeline_run, monkeypatch):
    import dataclasses
    import json

    import dagster as dg

    from devmentor.training.features import load_learner_features
    from devmentor.training.trees import reference_path, write_reference
    from models.drift import reference_profile
    from models.features import feature_matrix
    from orchestration.resources import build_resources
    from orchestration.sensors import retrain_on_drift_or_new_data

    settings, url, result, summary = pipeline_run
    resources = build_resources(settings)
    # As right after a promotion: the champions' references describe today's data.
    frame = load_learner_features(resources["warehouse"])
    for tree_id in ("primary_classification", "intervention_strategy"):
        ref = json.loads(reference_path(resources["lake"], tree_id).read_text())
        ref["features"] = reference_profile(feature_matrix(frame, list(ref["features"])))
        ref["events_at_training"] = int(frame["event_count"].sum())
        write_reference(resources["lake"], tree_id, ref)
    context = dg.build_sensor_context(resources={k: resources[k] for k in ("lake", "warehouse", "settings")})
    stable = retrain_on_drift_or_new_data(context)
    assert isinstance(stable, dg.SkipReason) and "no drift" in stable.skip_message
    eager = dataclasses.replace(settings, retrain_new_data_share=-0.5)  # any amount of data counts as enough
    context = dg.build_sensor_context(resources={"lake": resources["lake"], "warehouse": resources["warehouse"],
                                                 "settings": eager})
    request = retrain_on_drift_or_new_data(context)
    assert isinstance(request, dg.RunRequest)
    assert "new data" in request.tags["retrain_reason"]
    assert retrain_on_drift_or_new_data(context).run_key == request.run_key, "same state, same run key: no duplicate runs"


def test_jobs_split_daily_work_from_retraining(pipeline_run):
    from orchestration.definitions import build_defs

    settings = pipeline_run[0]
    defs = build_defs(settings)
    daily = {k.to_user_string() for k in defs.resolve_job_def("devmentor_daily").asset_layer.selected_asset_keys}
    retrain = {k.to_user_string() for k in defs.resolve_job_def("retrain_trees").asset_layer.selected_asset_keys}
    assert "ml/primary_classification" not in daily and "serving/learner_decisions" in daily and "raw/events" in daily
    assert "ml/mastery_model" not in daily and "ml/learning_engine" in daily
    assert {"ml/primary_classification", "ml/intervention_strategy", "ml/learner_decisions_scored",
            "serving/learner_decisions", "ml/mastery_model", "ml/learning_engine", "serving/learning_engine",
            "ml/gamification", "serving/gamification", "analytics/skill_matrix", "analytics/predicted_outcomes"} == retrain


def test_instructor_override_changes_decisions_and_is_recorded(pipeline_run, tmp_path):
    from dataclasses import replace

    settings, url, result, summary = pipeline_run
    with psycopg.connect(url) as conn:
        before = dict(conn.execute(
            "SELECT user_id, flagged_rules_hit->0->>'rule_id' FROM serving.learner_decisions WHERE tree_id = 'primary_classification'"
        ).fetchall())
        root = conn.execute(
            "SELECT r->>'feature', (r->>'threshold')::float FROM serving.threshold_snapshots s, jsonb_array_elements(s.rules) r "
            "WHERE s.snapshot_id = (SELECT thresholds_at_time->>'snapshot_id' FROM serving.learner_decisions "
            "WHERE tree_id = 'primary_classification' LIMIT 1) AND r->>'rule_id' = 'R0L'"
        ).fetchone()
    feature, threshold = root
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    values = sorted(v for (v,) in con.execute(f"SELECT {feature if feature != 'learner_level_ordinal' else 'gpa'} FROM marts.fct_learner_behavior b JOIN marts.dim_learner d USING (user_id)").fetchall() if v is not None and v > threshold)
    con.close()
    new_threshold = float(values[len(values) // 3]) if feature != "learner_level_ordinal" else threshold + 1
    overrides = tmp_path / "overrides.yml"
    overrides.write_text(
        f"version: 42\noverrides:\n  primary_classification:\n    - rule_id: R0L\n      new_threshold: {new_threshold}\n"
        f"      reason: test\n      author: tester\n"
    )
    run = run_pipeline(replace(settings, threshold_overrides=overrides), select="key:ml/learner_decisions_scored or key:serving/*", days=None)
    assert run.success
    with psycopg.connect(url) as conn:
        after = conn.execute(
            "SELECT user_id, flagged_rules_hit->0, thresholds_at_time FROM serving.learner_decisions WHERE tree_id = 'primary_classification'"
        ).fetchall()
        snapshot = conn.execute(
            "SELECT overrides_version, overrides FROM serving.threshold_snapshots WHERE snapshot_id = %s",
            (after[0][2]["snapshot_id"],),
        ).fetchone()
    moved = [u for u, first, _ in after if first["rule_id"] != before[u]]
    assert moved, "learners between the old and the new threshold took the other branch"
    assert all(before[u] == "R0R" for u in moved), "only learners right of the old threshold can move left"
    for u, first, thresholds in after:
        assert thresholds["overrides_version"] == "42"
        assert thresholds["rules_on_path"][first["rule_id"]] == new_threshold
        assert first["overridden"] is True and first["trained_threshold"] == threshold
    assert snapshot[0] == "42" and snapshot[1][0]["applied"] is True and snapshot[1][0]["author"] == "tester"


LEARNING_TABLES = ("mastery", "review_queue", "learning_path", "recommendations", "next_quiz")


def test_learning_engine_tables_are_published_together_and_consistent(pipeline_run):
    settings, url, result, summary = pipeline_run
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    expected_mastery_rows = con.execute(
        """SELECT count(*) FROM (SELECT DISTINCT e.user_id, q.skill_tag FROM staging.stg_devmentor__enrolments e
           JOIN staging.stg_devmentor__questions q USING (course_id) WHERE NOT e.is_withdrawn)""").fetchone()[0]
    # attempts on the skills of courses the learner is still enrolled in (withdrawn courses leave the engine)
    attempts = con.execute(
        """SELECT count(*) FROM intermediate.int_quiz_attempts_enriched a
           WHERE EXISTS (SELECT 1 FROM staging.stg_devmentor__enrolments e JOIN staging.stg_devmentor__questions q USING (course_id)
                         WHERE NOT e.is_withdrawn AND e.user_id = a.user_id AND q.skill_tag = a.skill_tag)""").fetchone()[0]
    con.close()
    with psycopg.connect(url) as conn:
        def q(sql):
            return conn.execute(sql).fetchall()

        # one publish id for all five tables: they were swapped in together
        ids = q("SELECT table_name, publish_id FROM serving.publish_log WHERE publish_id = "
                "(SELECT publish_id FROM serving.publish_log WHERE table_name = 'mastery' ORDER BY published_at DESC LIMIT 1)")
        assert {t for t, _ in ids} == set(LEARNING_TABLES)
        assert q("SELECT count(*) FROM serving.mastery")[0][0] == expected_mastery_rows
        assert q("SELECT sum(attempts) FROM serving.mastery")[0][0] == attempts
        assert q("SELECT min(p_known) >= 0 AND max(p_known) <= 1 AND bool_and(abs(skill_score - p_known * 10) <= 0.0501) FROM serving.mastery")[0][0]
        assert q("SELECT count(*) FROM serving.mastery WHERE mastered AND (p_known < 0.95 OR attempts < 3)")[0][0] == 0
        versions = {v for (v,) in q("SELECT DISTINCT algorithm_version FROM serving.mastery")}
        assert len(versions) == 1 and next(iter(versions)).startswith("bkt-forget|bkt-forget:")
        # review queue: at most the daily limit, contiguous priorities, overdue before due-today
        assert q("SELECT max(n) FROM (SELECT count(*) n FROM serving.review_queue GROUP BY user_id) t")[0][0] <= 20
        assert q("""SELECT count(*) FROM (SELECT user_id, priority, overdue, lag(overdue) OVER w prev_overdue,
                    retrievability, lag(retrievability) OVER w prev_r, row_number() OVER w rn
                    FROM serving.review_queue WINDOW w AS (PARTITION BY user_id ORDER BY priority)) t
                    WHERE priority <> rn OR (prev_overdue = false AND overdue) OR (prev_overdue = overdue AND retrievability < prev_r)""")[0][0] == 0
        # learning path: every open module's prerequisites are mastered
        assert q("""SELECT count(*) FROM serving.learning_path p
                    CROSS JOIN LATERAL unnest(string_to_array(coalesce(p.missing_prerequisites, ''), ';')) AS m(pre)
                    WHERE p.status = 'open' AND m.pre <> ''""")[0][0] == 0
        # ... checked against the catalog's own prerequisite lists (not the path's), for every open module
        wh = duckdb.connect(str(settings.warehouse_path), read_only=True)
        prereqs = {m: list(p or []) for m, p in wh.execute(
            "SELECT module_id, prerequisite_module_ids FROM staging.stg_devmentor__modules").fetchall()}
        wh.close()
        status = {(u, m): st for u, m, st in q("SELECT user_id, module_id, status FROM serving.learning_path")}
        open_rows = [(u, m) for (u, m), st in status.items() if st == "open"]
        assert open_rows and any(prereqs.get(m) for _, m in open_rows), "the check must see open modules with prerequisites"
        open_prereqs_unmastered = [(u, m, pre) for u, m in open_rows for pre in prereqs.get(m, [])
                                   if status.get((u, pre)) != "mastered"]
        assert open_prereqs_unmastered == []
        assert {s for (s,) in q("SELECT DISTINCT status FROM serving.learning_path")} <= {"mastered", "open", "locked"}
        # quizzes and recommendations
        assert q("SELECT max(n) FROM (SELECT count(*) n FROM serving.next_quiz GROUP BY user_id) t")[0][0] <= 5
        assert q("""SELECT count(*) FROM serving.next_quiz z JOIN serving.learning_path p
                    ON p.user_id = z.user_id AND p.module_id = z.module_id WHERE p.status = 'locked'""")[0][0] == 0
        recs = q("SELECT count(DISTINCT user_id), max(rank) FROM serving.recommendations")[0]
        assert recs[0] >= 0.9 * LEARNERS and recs[1] <= 10
        reasons = {r for (r,) in q("SELECT DISTINCT reason FROM serving.recommendations")}
        assert reasons <= {"review_due", "format_match", "mastery_gap", "desirable_difficulty", "continue_path", "popular"}
        assert len(reasons) >= 3
    import mlflow

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    runs = mlflow.search_runs(experiment_names=["mastery_bkt"])
    assert len(runs) >= 1 and runs["metrics.holdout_auc"].max() > 0.65


def test_learning_engine_continues_incrementally_with_the_same_model(pipeline_run):
    import pyarrow.parquet as pq

    settings, url, result, summary = pipeline_run
    before = pq.read_table(settings.lake / "ml" / "learning" / "mastery.parquet").to_pandas()
    again = run_pipeline(settings, select="key:ml/learning_engine")
    assert again.success
    meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in again.get_asset_materialization_events()}
    assert meta["ml/learning_engine"]["mastery_mode"].value == "incremental"
    after = pq.read_table(settings.lake / "ml" / "learning" / "mastery.parquet").to_pandas()
    cols = ["user_id", "skill_id", "p_known", "attempts", "mastered"]
    import pandas as pd

    pd.testing.assert_frame_equal(before[cols].sort_values(cols[:2]).reset_index(drop=True),
                                  after[cols].sort_values(cols[:2]).reset_index(drop=True))


def test_gamification_tables_reconcile_with_the_reward_log(pipeline_run):
    settings, url, result, summary = pipeline_run
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    opted_out = {u for (u,) in con.execute(
        "SELECT user_id FROM staging.stg_devmentor__profiles WHERE leaderboard_opt_out OR analytics_opt_out").fetchall()}
    con.close()
    assert opted_out, "the generator marks some learners as opted out"
    with psycopg.connect(url) as conn:
        def q(sql):
            return conn.execute(sql).fetchall()

        assert q("SELECT count(*) FROM serving.learner_xp")[0][0] == LEARNERS
        # XP totals equal the reward log, learner by learner
        assert q("""SELECT count(*) FROM serving.learner_xp x LEFT JOIN
                    (SELECT user_id, sum(xp) xp FROM serving.reward_log WHERE kind = 'xp' GROUP BY user_id) r USING (user_id)
                    WHERE x.xp_total <> coalesce(r.xp, 0)""")[0][0] == 0
        assert q("SELECT count(*) FROM serving.learner_xp WHERE level_floor_xp > xp_total OR next_level_xp <= xp_total")[0][0] == 0
        # the farming cap: never more than one quiz grant per learner and question
        assert q("""SELECT count(*) FROM (SELECT user_id, split_part(reason, ' to ', 2) q, count(*) n FROM serving.reward_log
                    WHERE rule = 'quiz_correct' GROUP BY 1, 2 HAVING count(*) > 1) t""")[0][0] == 0
        assert q("SELECT max(s) FROM (SELECT sum(xp) s FROM serving.reward_log WHERE kind = 'xp' GROUP BY user_id, local_date) t")[0][0] <= 300
        # badges once each, also in the log
        assert q("SELECT count(*) FROM serving.badges")[0][0] == q("SELECT count(*) FROM serving.reward_log WHERE kind = 'badge'")[0][0] > 0
        on_boards = {u for (u,) in q("SELECT DISTINCT user_id FROM serving.leaderboards")}
        assert on_boards and not (on_boards & opted_out)
        assert q("""SELECT count(*) FROM (SELECT scope, period, position, row_number() OVER (PARTITION BY scope, period ORDER BY position) rn
                    FROM serving.leaderboards) t WHERE position <> rn""")[0][0] == 0
        assert q("SELECT count(*) FROM serving.streaks WHERE current_streak > longest_streak")[0][0] == 0
        assert q("SELECT count(DISTINCT challenge_id) FROM serving.weekly_challenges")[0][0] == 3
    import pandas as pd

    matrix = pd.read_parquet(settings.lake / "analytics" / "skill_matrix.parquet")
    assert (matrix["weakness_rank"] == 1).sum() == matrix["course_id"].nunique()
    outcomes = pd.read_parquet(settings.lake / "analytics" / "predicted_outcomes.parquet")
    assert outcomes.groupby("tree_id")["learners"].sum().to_dict() == {"primary_classification": LEARNERS, "intervention_strategy": LEARNERS}


def test_gamification_rerun_awards_no_badge_twice(pipeline_run):
    settings, url, result, summary = pipeline_run
    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT user_id, badge_id, earned_at FROM serving.badges ORDER BY 1, 2").fetchall()
    again = run_pipeline(settings, select="key:ml/gamification or key:serving/gamification")
    assert again.success
    with psycopg.connect(url) as conn:
        after = conn.execute("SELECT user_id, badge_id, earned_at FROM serving.badges ORDER BY 1, 2").fetchall()
    assert after == before
