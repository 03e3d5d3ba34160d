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


def ok(client, path, **params) -> dict:
    r = client.get(path, params=params)
    assert r.status_code == 200, (path, params, r.status_code, r.text[:500])
    return r.json()


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
    assert len(operations) >= 13
    assert {"/api/learning/learners", "/api/learning/courses"} <= {op.path for op in operations}
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


# ----------------------------------------------------------------------------------------- issue 21 #4


@pytest.fixture(scope="module")
def bare_app():
    """The app without its database (the lifespan never runs): documentation and schema only."""
    from fastapi.testclient import TestClient

    from devmentor.api.app import create_app

    app = create_app("postgresql://nobody@127.0.0.1:1/none", min_size=0, max_size=1)
    return app, TestClient(app)


def test_docs_and_redoc_load_every_asset_from_this_server(bare_app):
    """/docs and /redoc work offline: the pages reference only local URLs, and those return the bundles."""
    import re

    _, client = bare_app
    for page, needed in (("/docs", {"swagger-ui-bundle.js", "swagger-ui.css"}), ("/redoc", {"redoc.standalone.js"})):
        r = client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        urls = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert not [u for u in urls if re.match(r"^(https?:)?//", u)], urls
        assert {u.rsplit("/", 1)[-1] for u in urls} >= needed, urls
        for url in urls:
            asset = client.get(url)
            assert asset.status_code == 200, url
            kind = "javascript" if url.endswith(".js") else "css" if url.endswith(".css") else "image"
            assert kind in asset.headers["content-type"] and len(asset.content) > 1000, url
        assert "fonts.googleapis" not in r.text and "cdn.jsdelivr" not in r.text
    assert "SwaggerUIBundle" in client.get("/docs-assets/swagger-ui-bundle.js").text[:200_000]


def test_every_operation_has_a_summary_a_description_and_an_example(bare_app):
    app, _ = bare_app
    spec = app.openapi()
    schemas = spec["components"]["schemas"]

    def examples(content: dict) -> list:
        found = [content["example"]] if "example" in content else list(content.get("examples", {}).values())
        ref = content.get("schema", {}).get("$ref")
        if ref:
            found += schemas[ref.rsplit("/", 1)[-1]].get("examples", [])
        return found

    operations = [(path, op) for path, ops in spec["paths"].items() for op in ops.values()]
    assert len(operations) >= 13
    for path, op in operations:
        assert op.get("summary") and len(op.get("description", "")) >= 40, path
        ok = op["responses"]["200"]["content"]
        assert any(examples(c) for c in ok.values()), f"{path}: no example for the 200 response"
        for status, response in op["responses"].items():
            if status != "422":
                assert all(examples(c) for c in response.get("content", {}).values()), (path, status)
    # the examples are valid instances of their models
    from devmentor.api import schemas as models

    for name, schema in schemas.items():
        model = getattr(models, name, None)
        for ex in schema.get("examples", []) if model else []:
            model.model_validate(ex)


def test_learners_are_listed_paged_and_searched(api):
    _, client, url = api
    every = [r[0] for r in rows(url, "SELECT user_id FROM serving.learner_decisions UNION SELECT user_id FROM serving.learner_xp "
                                     "ORDER BY 1")]
    first = ok(client, "/api/learning/learners", limit=7)
    assert first["total"] == len(every) and [x["user_id"] for x in first["items"]] == every[:7]
    second = ok(client, "/api/learning/learners", **{"limit": 7, "offset": 7})
    assert [x["user_id"] for x in second["items"]] == every[7:14]
    one = first["items"][0]
    segment = rows(url, "SELECT decision_label FROM serving.learner_decisions WHERE user_id = %s AND tree_id = 'primary_classification'",
                   one["user_id"])
    assert one["segment"] == (segment[0][0] if segment else None)
    assert one["courses"] == rows(url, "SELECT count(DISTINCT course_id) FROM serving.learning_path WHERE user_id = %s",
                                  one["user_id"])[0][0]
    term = every[3][-3:].upper()  # case-insensitive substring of the id
    found = ok(client, "/api/learning/learners", **{"search": term, "limit": 100})
    assert [x["user_id"] for x in found["items"]] == [u for u in every if term.lower() in u.lower()][:100]
    assert found["total"] == sum(term.lower() in u.lower() for u in every) >= 1
    past = ok(client, "/api/learning/learners", **{"limit": 5, "offset": len(every)})
    assert past["items"] == [] and past["total"] == len(every)
    assert ok(client, "/api/learning/learners", **{"search": "zz-nobody"}) == {
        "total": 0, "limit": 20, "offset": 0, "search": "zz-nobody", "items": []}
    assert client.get("/api/learning/learners", params={"limit": 101}).status_code == 422
    assert client.get("/api/learning/learners", params={"search": "a\x01"}).status_code == 422


def test_courses_are_listed_with_their_catalog_and_searched_by_title(api, pipeline_run):
    import duckdb

    settings = pipeline_run[0]
    _, client, url = api
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    catalog = con.execute("SELECT course_id, course_title FROM staging.stg_devmentor__courses ORDER BY 1").fetchall()
    enrolled = dict(con.execute("SELECT course_id, count(DISTINCT user_id) FROM staging.stg_devmentor__enrolments "
                                "WHERE NOT is_withdrawn GROUP BY 1").fetchall())
    con.close()
    page = ok(client, "/api/learning/courses", **{"limit": 100})
    assert [(c["course_id"], c["title"]) for c in page["items"]] == catalog and page["total"] == len(catalog)
    assert all(c["enrolled_learners"] == enrolled.get(c["course_id"], 0) and c["modules"] > 0 for c in page["items"])
    course_id, title = catalog[1]
    by_title = ok(client, "/api/learning/courses", **{"search": title[1:4].lower()})
    assert course_id in [c["course_id"] for c in by_title["items"]]
    assert all(title[1:4].lower() in (c["title"] + c["course_id"]).lower() for c in by_title["items"])
    assert [c["course_id"] for c in ok(client, "/api/learning/courses", **{"search": course_id.lower()})["items"]] == [course_id]
    assert ok(client, "/api/learning/courses", **{"limit": 1, "offset": 1})["items"][0]["course_id"] == catalog[1][0]
    assert rows(url, "SELECT count(*) FROM serving.courses")[0][0] == len(catalog)


def test_tutor_prompt_names_the_course_and_leaves_out_what_is_unknown():
    """Unit (no database): a course that is not programming and a learner with unknown preferences."""
    from models.prompts import render_prompt

    base = dict(segment="Disengaging", segment_version="2", segment_reasons=["days since last activity above 7"],
                intervention="Re-engagement Nudge", intervention_version="1", intervention_reasons=[])
    learner = {"user_id": "u7", "learner_level": None, "format_preference": "unknown", "writing_style_category": "unknown",
               "correct_rate": float("nan"), "hint_rate": 0.25, "days_since_last_activity": 9.0, "modules_completed": 2.0,
               "dominant_format": None, "weak_topics": None}
    prompt = render_prompt(learner, course={"course_id": "ART1", "title": "Art History", "subject": "humanities"}, **base)
    assert prompt.startswith('You are DevMentor, a patient tutor for the course "Art History" (humanities).')
    assert "programming" not in prompt and "unknown" not in prompt and "prefers" not in prompt
    assert "Learner: u7\n" in prompt and "2 modules completed" in prompt and "last active 9 days ago" in prompt
    assert "uses hints on 25% of questions" in prompt and "0.0" not in prompt and "correct on average" not in prompt
    one = render_prompt({**learner, "modules_completed": 1, "days_since_last_activity": 1, "writing_style_category": "informal"},
                        course={"title": "OULAD AAA 2013J", "subject": "oulad"}, **base)
    assert '"OULAD AAA 2013J". ' in one and "(oulad)" not in one  # a subject the title already names is not repeated
    assert "1 module completed" in one and "last active 1 day ago" in one and "writes in an informal style" in one
    assert render_prompt(learner, **base).startswith("You are DevMentor, a patient tutor. ")  # no course known


def test_published_prompts_name_each_learners_course(api, pipeline_run):
    import duckdb

    settings = pipeline_run[0]
    _, client, url = api
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    titles = {r[0] for r in con.execute("SELECT course_title FROM staging.stg_devmentor__courses").fetchall()}
    con.close()
    prompts = [r[0] for r in rows(url, "SELECT llm_prompt_output FROM serving.learner_decisions WHERE tree_id = 'primary_classification'")]
    assert prompts
    for prompt in prompts:
        assert "programming tutor" not in prompt and "unknown" not in prompt and ".0 module" not in prompt, prompt
        assert any(f'tutor for the course "{t}"' in prompt for t in titles), prompt.splitlines()[0]
