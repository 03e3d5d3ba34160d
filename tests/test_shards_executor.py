"""Learner shards on a real multiprocess executor: the three per-learner stages as one step per shard, each
in its own process, publish what one shard does (its own generated data set, not the shared pipeline run, so
xdist can run it beside the files that share that run)."""

from __future__ import annotations

from tests.test_shards import _ordered


def _pipeline_job():
    """The pipeline job as a launched run builds it (module level, for dg.reconstructable: each step of the
    multiprocess executor rebuilds it from the environment in its own process)."""
    from devmentor.settings import load_settings
    from orchestration.definitions import build_defs

    return build_defs(load_settings()).resolve_job_def("devmentor_pipeline")


def test_four_shards_on_the_multiprocess_executor_publish_what_one_shard_does(tmp_path, pg_url, monkeypatch):
    import dagster as dg
    import pandas as pd
    import psycopg

    from devmentor.generator import generate
    from devmentor.settings import load_settings
    from orchestration.instance import project_instance
    from orchestration.runner import run_pipeline

    env = {"DEVMENTOR_HOME": str(tmp_path / "home"), "DEVMENTOR_DATABASE_URL": pg_url, "DEVMENTOR_ENV": "test"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = load_settings(env)
    settings.ensure_dirs()
    generate(settings.inbox, learners=200, days=10, seed=5)
    assert run_pipeline(settings).success  # one shard, in process: the reference
    decisions = settings.lake / "ml" / "learner_decisions.parquet"
    drop = ["trace_id", "decided_at"]  # a fresh id per row, and the instant the scoring ran
    key = ["tree_id", "user_id"]
    sql = ("SELECT user_id, tree_id, decision_label, confidence, decision_version, flagged_rules_hit::text, "
           "thresholds_at_time::text, llm_prompt_output, as_of FROM serving.learner_decisions ORDER BY tree_id, user_id")

    def published():
        with psycopg.connect(pg_url) as conn:
            return conn.execute(sql).fetchall()

    def learner_tables():  # the engine's and gamification's lake outputs, and what serving published of them
        from devmentor.serving.tables import GAMIFICATION_TABLES, LEARNING_TABLES

        lake = {f"{folder}/{t.name}": _ordered(pd.read_parquet(settings.lake / "ml" / folder / f"{t.name}.parquet"))
                for folder, tables in (("learning", LEARNING_TABLES), ("gamification", GAMIFICATION_TABLES))
                for t in tables}
        with psycopg.connect(pg_url) as conn:
            served = {t.name: conn.execute(  # every column but the publication's own id
                f"SELECT count(*), md5(string_agg(r, '|' ORDER BY r)) FROM "
                f"(SELECT (to_jsonb(t) - 'publish_id')::text AS r FROM serving.{t.name} AS t)").fetchone()
                      for t in (*LEARNING_TABLES, *GAMIFICATION_TABLES)}
        return lake, served

    one = pd.read_parquet(decisions).drop(columns=drop).sort_values(key).reset_index(drop=True)
    one_published = published()
    one_lake, one_served = learner_tables()
    monkeypatch.setenv("DEVMENTOR_SHARDS", "4")
    with project_instance(settings) as instance:
        run = dg.execute_job(dg.reconstructable(_pipeline_job), instance=instance, asset_selection=[
            dg.AssetKey(["ml", "learner_decisions_scored"]), dg.AssetKey(["serving", "learner_decisions"]),
            dg.AssetKey(["ml", "learning_engine"]), dg.AssetKey(["ml", "gamification"]),
            dg.AssetKey(["serving", "learning_engine"]), dg.AssetKey(["serving", "gamification"])])
        assert run.success
        steps = {s.step_key for s in instance.get_run_step_stats(run.run_id)}
        engine = " ".join(e.message or "" for e in instance.all_logs(run.run_id) if e.dagster_event
                          and e.dagster_event.event_type_value == "ENGINE_EVENT")
    for stage, step in (("learner_decisions_scored", "score"), ("learning_engine", "engine"),
                        ("gamification", "gamification")):
        assert {f"ml__{stage}.{step}_shard[shard_{i}]" for i in range(4)} <= steps, steps
    assert "multiprocess" in engine.lower()  # each step ran in its own process
    four = pd.read_parquet(decisions).drop(columns=drop).sort_values(key).reset_index(drop=True)
    assert len(four) == len(one) == 2 * one["user_id"].nunique() > 0
    pd.testing.assert_frame_equal(four, one)
    assert published() == one_published
    four_lake, four_served = learner_tables()
    for name, table in one_lake.items():
        assert len(table) > 0, name
        pd.testing.assert_frame_equal(four_lake[name], table, obj=name)
    assert four_served == one_served and all(n > 0 for n, _ in one_served.values())
