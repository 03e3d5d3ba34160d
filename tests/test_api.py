"""The read API against the real PostgreSQL after a small pipeline run, connected as the read-only role."""

from __future__ import annotations

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(pipeline_run):
    from fastapi.testclient import TestClient

    from devmentor.api.app import create_app
    from devmentor.serving.publish import reader_url

    _, url, _, _ = pipeline_run
    app = create_app(reader_url(url), min_size=1, max_size=4)
    with TestClient(app) as client:
        yield app, client, url


@pytest.fixture(scope="module")
def learner(api):
    _, _, url = api
    with psycopg.connect(url) as conn:
        return conn.execute(
            """SELECT r.user_id FROM serving.recommendations r JOIN serving.review_queue q USING (user_id)
               JOIN serving.badges b USING (user_id) GROUP BY 1 HAVING count(DISTINCT r.rank) >= 6 ORDER BY 1 LIMIT 1""").fetchone()[0]


def rows(url, sql, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_health_reports_database_and_publish_age(api):
    _, client, _ = api
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] == "reachable"
    assert 0 <= body["last_publish_age_seconds"] < 3600


def test_every_learner_endpoint_returns_what_the_tables_hold(api, learner):
    _, client, url = api
    d = client.get(f"/api/learning/decisions/{learner}").json()
    assert {x["tree_id"]: x["decision_label"] for x in d["decisions"]} == dict(
        rows(url, "SELECT tree_id, decision_label FROM serving.learner_decisions WHERE user_id = %s", learner))
    assert all(x["reasons"] and x["reasons"][0]["rule_id"].startswith("R") for x in d["decisions"])

    p = client.get(f"/api/learning/paths/{learner}", params={"limit": 100}).json()
    assert [(i["module_id"], i["status"]) for i in p["items"]] == rows(
        url, "SELECT module_id, status FROM serving.learning_path WHERE user_id = %s ORDER BY course_id, topo_rank", learner)
    assert p["total"] == len(p["items"])

    q = client.get(f"/api/learning/quiz/{learner}/next").json()
    assert [x["question_id"] for x in q["questions"]] == [r[0] for r in rows(
        url, "SELECT question_id FROM serving.next_quiz WHERE user_id = %s ORDER BY position", learner)]

    rv = client.get(f"/api/learning/quiz/{learner}/reviews").json()
    assert [x["skill_id"] for x in rv["items"]] == [r[0] for r in rows(
        url, "SELECT skill_id FROM serving.review_queue WHERE user_id = %s ORDER BY priority", learner)]

    pr = client.get(f"/api/learning/progress/{learner}", params={"limit": 100}).json()
    mastery = rows(url, "SELECT skill_id, p_known, mastered FROM serving.mastery WHERE user_id = %s ORDER BY course_id, skill_id", learner)
    assert [(x["skill_id"], x["p_known"], x["mastered"]) for x in pr["items"]] == mastery
    assert pr["skills_mastered"] == sum(m[2] for m in mastery) and pr["skills_total"] == len(mastery)

    xp = client.get(f"/api/learning/xp/{learner}").json()
    (total, level), = rows(url, "SELECT xp_total, level FROM serving.learner_xp WHERE user_id = %s", learner)
    assert (xp["xp_total"], xp["level"]) == (total, level)
    assert {b["badge_id"] for b in xp["badges"]} == {r[0] for r in rows(url, "SELECT badge_id FROM serving.badges WHERE user_id = %s", learner)}
    assert len(xp["challenges"]) == 3


def test_lists_are_paginated(api, learner):
    _, client, url = api
    page = client.get(f"/api/learning/recommendations/{learner}", params={"limit": 3, "offset": 2}).json()
    assert [x["rank"] for x in page["items"]] == [3, 4, 5]
    assert page["total"] == rows(url, "SELECT count(*) FROM serving.recommendations WHERE user_id = %s", learner)[0][0]
    board = client.get("/api/learning/leaderboards", params={"scope": "overall", "period": "all_time", "limit": 5, "offset": 5}).json()
    assert [x["position"] for x in board["items"]] == [6, 7, 8, 9, 10]
    assert board["total"] == rows(url, "SELECT count(*) FROM serving.leaderboards WHERE scope = 'overall' AND period = 'all_time'")[0][0]


def test_course_analytics(api):
    _, client, url = api
    course = rows(url, "SELECT course_id FROM serving.mastery ORDER BY 1 LIMIT 1")[0][0]
    a = client.get(f"/api/learning/analytics/{course}").json()
    assert a["learners"] == rows(url, "SELECT count(DISTINCT user_id) FROM serving.mastery WHERE course_id = %s", course)[0][0]
    assert sum(a["path_status"].values()) == rows(url, "SELECT count(*) FROM serving.learning_path WHERE course_id = %s", course)[0][0]
    assert a["weakest_skills"] and a["weakest_skills"][0]["mean_p_known"] <= a["weakest_skills"][-1]["mean_p_known"]


@pytest.mark.parametrize("path", ["decisions/nobody", "paths/nobody", "quiz/nobody/next", "quiz/nobody/reviews",
                                  "progress/nobody", "xp/nobody", "recommendations/nobody", "analytics/NOCOURSE"])
def test_unknown_learner_or_course_is_404(api, path):
    _, client, _ = api
    r = client.get(f"/api/learning/{path}")
    assert r.status_code == 404 and "unknown" in r.json()["detail"]


@pytest.mark.parametrize("path,params", [
    ("recommendations/u000001", {"limit": 0}), ("recommendations/u000001", {"limit": 101}),
    ("recommendations/u000001", {"offset": -1}), ("paths/u000001", {"limit": "ten"}),
    ("leaderboards", {"period": "decade"}), ("xp/u 1", {}), ("leaderboards", {"scope": "a b"}),
])
def test_bad_parameters_are_422(api, path, params):
    _, client, _ = api
    assert client.get(f"/api/learning/{path}", params=params).status_code == 422


def test_metrics_count_requests_latencies_and_cache_hits(api, learner):
    _, client, _ = api
    for _ in range(3):
        assert client.get(f"/api/learning/decisions/{learner}").status_code == 200
    text = client.get("/metrics").text
    assert 'devmentor_api_requests_total{route="/api/learning/decisions/{user_id}",status="200"}' in text
    assert "devmentor_api_request_seconds_bucket" in text
    hits = int(next(line.split()[-1] for line in text.splitlines() if line.startswith("devmentor_api_cache_hits_total")))
    assert hits >= 2


def test_schemathesis_finds_no_server_error(api):
    """Every operation of the OpenAPI schema, fuzzed from the schema: no 5xx, responses match the schema."""
    from hypothesis import given

    app, _, _ = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    calls = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    def fuzz(op):
        calls[op.label] = 0

        @given(case=op.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            calls[op.label] += 1
            case.call_and_validate()

        run()

    for op in operations:
        fuzz(op)
    assert sum(calls.values()) >= 200, calls


def test_cache_is_dropped_by_every_new_publish(pg_url):
    """Even when the new publish id sorts before the old one (ids are random hex)."""
    import time
    from datetime import datetime, timezone

    import pyarrow as pa
    from fastapi.testclient import TestClient

    from devmentor.api.app import create_app
    from devmentor.serving.publish import publish, reader_url
    from devmentor.serving.tables import LEARNER_DECISIONS

    def decisions(label: str) -> pa.Table:
        cols = {c.name: [None] for c in LEARNER_DECISIONS.columns if c.name != "publish_id"}
        cols.update(user_id=["u1"], tree_id=["primary_classification"], decision_label=[label], decision_version=["1"],
                    model_uri=["models:/p/1"], decided_at=[datetime.now(timezone.utc)], trace_id=["t1"], event_source=["test"],
                    flagged_rules_hit=["[]"])
        return pa.table(cols)

    with psycopg.connect(pg_url, autocommit=True) as conn:
        publish(conn, LEARNER_DECISIONS, decisions("Fast Tracker"), publish_id="f" * 32)
    with TestClient(create_app(reader_url(pg_url), min_size=1, max_size=2)) as client:
        first = client.get("/api/learning/decisions/u1").json()["decisions"][0]["decision_label"]
        assert first == "Fast Tracker"
        assert client.get("/api/learning/decisions/u1").json()["decisions"][0]["decision_label"] == first  # cached
        with psycopg.connect(pg_url, autocommit=True) as conn:
            publish(conn, LEARNER_DECISIONS, decisions("Disengaging"), publish_id="0" * 32)
        time.sleep(1.1)  # the publish log is checked at most once a second
        assert client.get("/api/learning/decisions/u1").json()["decisions"][0]["decision_label"] == "Disengaging"
