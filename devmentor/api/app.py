"""The Learning Engine read API: the seed's endpoints over the serving tables (FastAPI, port 3005).

    devmentor serve [--port 3005]

Read-only: it connects as the serving reader role (SELECT on schema ``serving`` only) through
an async connection pool, and never calls the pipeline. Every list is paginated
(``limit`` 1-100, ``offset`` ≥ 0); an unknown learner or course is a 404, a bad parameter a
422. Responses are cached for a few seconds per URL and the cache is dropped as soon as a new
publish appears in ``serving.publish_log``.
"""

from __future__ import annotations

import gc
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

API_VERSION = "1"
# Entries live until a new publish lands (checked once a second) or this long, whichever is first.
CACHE_SECONDS = 300.0
CACHE_ENTRIES = 10_000
USER_ID = Path(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$", description="learner id")
COURSE_ID = Path(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$", description="course id")
LIMIT = Query(20, ge=1, le=100, description="page size")
OFFSET = Query(0, ge=0, le=1_000_000, description="rows to skip")


# ----------------------------------------------------------------------------------------- response models


class Error(BaseModel):
    detail: str


LEARNER_ERRORS = {404: {"model": Error, "description": "unknown learner"},
                  503: {"model": Error, "description": "serving database unavailable"}}
COURSE_ERRORS = {404: {"model": Error, "description": "unknown course or board"},
                 503: {"model": Error, "description": "serving database unavailable"}}


class Page(BaseModel):
    total: int
    limit: int
    offset: int


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["reachable", "unreachable"]
    last_publish_at: datetime | None = None
    last_publish_age_seconds: float | None = None
    version: str = API_VERSION


class RuleStep(BaseModel):
    rule_id: str
    rule: str
    feature: str | None = None
    threshold: float | None = None
    overridden: bool | None = None


class Decision(BaseModel):
    tree_id: str
    decision_label: str
    confidence: float | None
    decision_version: str
    decided_at: datetime
    trace_id: str
    reasons: list[RuleStep]
    llm_prompt_output: str | None = None


class Decisions(BaseModel):
    user_id: str
    decisions: list[Decision]


class PathStep(BaseModel):
    course_id: str
    module_id: str
    topo_rank: int
    step: int | None
    status: Literal["mastered", "open", "locked"]
    module_mastery: float | None
    missing_prerequisites: list[str]


class LearningPath(Page):
    user_id: str
    items: list[PathStep]
    algorithm_version: str | None = None


class QuizQuestion(BaseModel):
    position: int
    question_id: str
    module_id: str | None
    skill_id: str | None
    difficulty: float | None
    predicted_success: float | None
    reason: str


class NextQuiz(BaseModel):
    user_id: str
    questions: list[QuizQuestion]
    algorithm_version: str | None = None


class Review(BaseModel):
    priority: int
    skill_id: str
    due_at: datetime
    overdue: bool
    overdue_days: float
    retrievability: float
    stability_days: float


class ReviewQueue(Page):
    user_id: str
    items: list[Review]


class SkillMastery(BaseModel):
    skill_id: str
    course_id: str | None
    p_known: float
    skill_score: float
    mastered: bool
    attempts: int
    last_attempt_at: datetime | None


class Progress(Page):
    user_id: str
    skills_mastered: int
    skills_total: int
    items: list[SkillMastery]


class Badge(BaseModel):
    badge_id: str
    name: str
    earned_at: datetime


class Challenge(BaseModel):
    challenge_id: str
    description: str
    progress: int
    target: int
    completed: bool


class XP(BaseModel):
    user_id: str
    xp_total: int
    level: int
    xp_to_next_level: int
    xp_this_week: int
    current_streak: int
    longest_streak: int
    badges: list[Badge]
    challenges: list[Challenge]


class Recommendation(BaseModel):
    rank: int
    content_id: str
    module_id: str | None
    skill_id: str | None
    format: str | None
    score: float
    reason: str
    reason_detail: str | None


class Recommendations(Page):
    user_id: str
    items: list[Recommendation]


class LeaderboardRow(BaseModel):
    position: int
    user_id: str
    xp: int


class Leaderboard(Page):
    scope: str
    period: str
    items: list[LeaderboardRow]


class SkillSummary(BaseModel):
    skill_id: str
    learners: int
    mean_p_known: float
    mastered_share: float


class CourseAnalytics(BaseModel):
    course_id: str
    learners: int
    segments: dict[str, int]
    weakest_skills: list[SkillSummary]
    path_status: dict[str, int]
    top_learners: list[LeaderboardRow]


# ----------------------------------------------------------------------------------------- metrics and cache


class Metrics:
    BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        self.errors: dict[str, int] = {}
        self.latency: dict[str, list[float]] = {}
        self.latency_sum: dict[str, float] = {}
        self.cache_hits = 0
        self.cache_misses = 0

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests[(route, status)] = self.requests.get((route, status), 0) + 1
        if status >= 500:
            self.errors[route] = self.errors.get(route, 0) + 1
        counts = self.latency.setdefault(route, [0] * (len(self.BUCKETS) + 1))
        for i, b in enumerate(self.BUCKETS):
            if seconds <= b:
                counts[i] += 1
        counts[-1] += 1
        self.latency_sum[route] = self.latency_sum.get(route, 0.0) + seconds

    def render(self) -> str:
        out = ["# HELP devmentor_api_requests_total Requests by route and status.",
               "# TYPE devmentor_api_requests_total counter"]
        out += [f'devmentor_api_requests_total{{route="{r}",status="{s}"}} {n}' for (r, s), n in sorted(self.requests.items())]
        out += ["# HELP devmentor_api_errors_total Server errors by route.", "# TYPE devmentor_api_errors_total counter"]
        out += [f'devmentor_api_errors_total{{route="{r}"}} {n}' for r, n in sorted(self.errors.items())]
        out += ["# HELP devmentor_api_request_seconds Request latency.", "# TYPE devmentor_api_request_seconds histogram"]
        for route, counts in sorted(self.latency.items()):
            for b, n in zip(self.BUCKETS, counts):
                out.append(f'devmentor_api_request_seconds_bucket{{route="{route}",le="{b}"}} {n}')
            out.append(f'devmentor_api_request_seconds_bucket{{route="{route}",le="+Inf"}} {counts[-1]}')
            out.append(f'devmentor_api_request_seconds_sum{{route="{route}"}} {self.latency_sum[route]:.6f}')
            out.append(f'devmentor_api_request_seconds_count{{route="{route}"}} {counts[-1]}')
        out += ["# HELP devmentor_api_cache_hits_total Responses served from the cache.",
                "# TYPE devmentor_api_cache_hits_total counter", f"devmentor_api_cache_hits_total {self.cache_hits}",
                "# HELP devmentor_api_cache_misses_total Responses computed from the database.",
                "# TYPE devmentor_api_cache_misses_total counter", f"devmentor_api_cache_misses_total {self.cache_misses}"]
        return "\n".join(out) + "\n"


class Cache:
    """A small TTL cache, dropped whole when the latest publish id changes."""

    def __init__(self, seconds: float = CACHE_SECONDS, entries: int = CACHE_ENTRIES) -> None:
        self.seconds, self.entries = seconds, entries
        self.data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self.publish_id: str | None = None
        self.checked_at = 0.0

    def get(self, key: str):
        hit = self.data.get(key)
        if hit and time.monotonic() - hit[0] < self.seconds:
            return hit[1]
        return None

    def put(self, key: str, value) -> None:
        self.data[key] = (time.monotonic(), value)
        self.data.move_to_end(key)
        while len(self.data) > self.entries:
            self.data.popitem(last=False)


# ----------------------------------------------------------------------------------------- the app


def create_app(database_url: str, min_size: int = 2, max_size: int = 10) -> FastAPI:
    """The API over the serving tables at ``database_url`` (connect as the read-only role)."""
    metrics = Metrics()
    cache = Cache()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        gc.freeze()  # the app's long-lived objects leave the collector's young generations: fewer pauses
        pool = AsyncConnectionPool(database_url, min_size=min_size, max_size=max_size, open=False,
                                   kwargs={"autocommit": True, "row_factory": dict_row})
        await pool.open(wait=False)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="DevMentor Learning Engine read API", version=API_VERSION, lifespan=lifespan,
                  description="Read-only access to the per-learner tables the batch pipeline publishes.")

    @app.middleware("http")
    async def observe(request: Request, call_next):
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            route = request.scope.get("route")
            metrics.observe(route.path if route else "unmatched", 500, time.perf_counter() - started)
            raise
        route = request.scope.get("route")
        metrics.observe(route.path if route else "unmatched", response.status_code, time.perf_counter() - started)
        return response

    async def fetch(sql: str, *params) -> list[dict]:
        try:
            async with app.state.pool.connection(timeout=5) as conn:
                cur = await conn.execute(sql, params)
                return await cur.fetchall()
        except HTTPException:
            raise
        except Exception as exc:  # database down, table not published yet, ...
            raise HTTPException(503, f"serving database unavailable or not yet published: {type(exc).__name__}") from None

    async def fresh_cache() -> None:
        """Drop cached responses when a new publish has landed (checked at most once a second)."""
        now = time.monotonic()
        if now - cache.checked_at < 1.0:
            return
        cache.checked_at = now
        # publish_log is append-only: its size and newest time change with every publish
        rows = await fetch("SELECT count(*) || ':' || coalesce(max(published_at)::text, '') AS p FROM serving.publish_log")
        latest = rows[0]["p"] if rows else None
        if latest != cache.publish_id:
            cache.data.clear()
            cache.publish_id = latest

    async def cached(key: str, compute) -> Response:
        """The response for ``key`` as JSON bytes: rendered once per publish, then served as is."""
        await fresh_cache()
        hit = cache.get(key)
        if hit is not None:
            metrics.cache_hits += 1
            return Response(hit, media_type="application/json")
        metrics.cache_misses += 1
        body = (await compute()).model_dump_json().encode()
        cache.put(key, body)
        return Response(body, media_type="application/json")

    async def require_learner(user_id: str) -> None:
        rows = await fetch(
            "SELECT 1 FROM serving.learner_xp WHERE user_id = %s UNION ALL "
            "SELECT 1 FROM serving.learner_decisions WHERE user_id = %s LIMIT 1", user_id, user_id)
        if not rows:
            raise HTTPException(404, f"unknown learner {user_id!r}")

    @app.get("/health", response_model=Health, tags=["operations"], responses={503: {"model": Health, "description": "database unreachable"}})
    async def health() -> Health | JSONResponse:
        try:
            async with app.state.pool.connection(timeout=2) as conn:
                cur = await conn.execute("SELECT max(published_at) AS at FROM serving.publish_log")
                row = await cur.fetchone()
        except Exception:
            return JSONResponse(Health(status="degraded", database="unreachable").model_dump(mode="json"), status_code=503)
        at = row["at"] if row else None
        age = (datetime.now(at.tzinfo) - at).total_seconds() if at else None
        return Health(status="ok", database="reachable", last_publish_at=at, last_publish_age_seconds=age)

    @app.get("/metrics", response_class=PlainTextResponse, tags=["operations"])
    async def prometheus() -> str:
        return metrics.render()

    @app.get("/api/learning/decisions/{user_id}", response_model=Decisions, tags=["learning"], responses=LEARNER_ERRORS)
    async def decisions(user_id: str = USER_ID) -> Decisions:
        async def compute():
            rows = await fetch(
                """SELECT tree_id, decision_label, confidence, decision_version, decided_at, trace_id, flagged_rules_hit,
                          llm_prompt_output FROM serving.learner_decisions WHERE user_id = %s ORDER BY tree_id""", user_id)
            if not rows:
                raise HTTPException(404, f"unknown learner {user_id!r}")
            return Decisions(user_id=user_id, decisions=[
                Decision(**{k: r[k] for k in ("tree_id", "decision_label", "confidence", "decision_version", "decided_at",
                                              "trace_id", "llm_prompt_output")},
                         reasons=[RuleStep(**{k: s.get(k) for k in RuleStep.model_fields}) for s in (r["flagged_rules_hit"] or [])])
                for r in rows])
        return await cached(f"decisions:{user_id}", compute)

    @app.get("/api/learning/paths/{user_id}", response_model=LearningPath, tags=["learning"], responses=LEARNER_ERRORS)
    async def paths(user_id: str = USER_ID, course_id: str | None = Query(None, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$"),
                    limit: int = LIMIT, offset: int = OFFSET) -> LearningPath:
        async def compute():
            await require_learner(user_id)
            rows = await fetch(
                """SELECT course_id, module_id, topo_rank, step, status, module_mastery, missing_prerequisites, algorithm_version,
                          count(*) OVER () AS total
                   FROM serving.learning_path WHERE user_id = %s AND (%s::text IS NULL OR course_id = %s)
                   ORDER BY course_id, topo_rank LIMIT %s OFFSET %s""", user_id, course_id, course_id, limit, offset)
            return LearningPath(user_id=user_id, total=rows[0]["total"] if rows else 0, limit=limit, offset=offset,
                                algorithm_version=rows[0]["algorithm_version"] if rows else None,
                                items=[PathStep(**{k: r[k] for k in ("course_id", "module_id", "topo_rank", "step", "status", "module_mastery")},
                                                missing_prerequisites=[p for p in (r["missing_prerequisites"] or "").split(";") if p])
                                       for r in rows])
        return await cached(f"paths:{user_id}:{course_id}:{limit}:{offset}", compute)

    @app.get("/api/learning/quiz/{user_id}/next", response_model=NextQuiz, tags=["learning"], responses=LEARNER_ERRORS)
    async def next_quiz(user_id: str = USER_ID) -> NextQuiz:
        async def compute():
            await require_learner(user_id)
            rows = await fetch(
                """SELECT position, question_id, module_id, skill_id, difficulty, predicted_success, reason, algorithm_version
                   FROM serving.next_quiz WHERE user_id = %s ORDER BY position""", user_id)
            return NextQuiz(user_id=user_id, algorithm_version=rows[0]["algorithm_version"] if rows else None,
                            questions=[QuizQuestion(**{k: r[k] for k in QuizQuestion.model_fields}) for r in rows])
        return await cached(f"quiz:{user_id}", compute)

    @app.get("/api/learning/quiz/{user_id}/reviews", response_model=ReviewQueue, tags=["learning"], responses=LEARNER_ERRORS)
    async def reviews(user_id: str = USER_ID, limit: int = LIMIT, offset: int = OFFSET) -> ReviewQueue:
        async def compute():
            await require_learner(user_id)
            rows = await fetch(
                """SELECT priority, skill_id, due_at, overdue, overdue_days, retrievability, stability_days, count(*) OVER () AS total
                   FROM serving.review_queue WHERE user_id = %s ORDER BY priority LIMIT %s OFFSET %s""", user_id, limit, offset)
            return ReviewQueue(user_id=user_id, total=rows[0]["total"] if rows else 0, limit=limit, offset=offset,
                               items=[Review(**{k: r[k] for k in Review.model_fields}) for r in rows])
        return await cached(f"reviews:{user_id}:{limit}:{offset}", compute)

    @app.get("/api/learning/progress/{user_id}", response_model=Progress, tags=["learning"], responses=LEARNER_ERRORS)
    async def progress(user_id: str = USER_ID, limit: int = LIMIT, offset: int = OFFSET) -> Progress:
        async def compute():
            await require_learner(user_id)
            rows = await fetch(
                """SELECT skill_id, course_id, p_known, skill_score, mastered, attempts, last_attempt_at,
                          count(*) OVER () AS total, count(*) FILTER (WHERE mastered) OVER () AS n_mastered
                   FROM serving.mastery WHERE user_id = %s ORDER BY course_id, skill_id LIMIT %s OFFSET %s""", user_id, limit, offset)
            total = rows[0]["total"] if rows else 0
            return Progress(user_id=user_id, total=total, limit=limit, offset=offset, skills_total=total,
                            skills_mastered=rows[0]["n_mastered"] if rows else 0,
                            items=[SkillMastery(**{k: r[k] for k in SkillMastery.model_fields}) for r in rows])
        return await cached(f"progress:{user_id}:{limit}:{offset}", compute)

    @app.get("/api/learning/xp/{user_id}", response_model=XP, tags=["gamification"], responses=LEARNER_ERRORS)
    async def xp(user_id: str = USER_ID) -> XP:
        async def compute():
            rows = await fetch(
                """SELECT x.xp_total, x.level, x.xp_to_next_level, x.xp_this_week,
                          coalesce(s.current_streak, 0) AS current_streak, coalesce(s.longest_streak, 0) AS longest_streak
                   FROM serving.learner_xp x LEFT JOIN serving.streaks s USING (user_id) WHERE x.user_id = %s""", user_id)
            if not rows:
                raise HTTPException(404, f"unknown learner {user_id!r}")
            badges = await fetch("SELECT badge_id, name, earned_at FROM serving.badges WHERE user_id = %s ORDER BY earned_at, badge_id", user_id)
            challenges = await fetch(
                "SELECT challenge_id, description, progress, target, completed FROM serving.weekly_challenges WHERE user_id = %s ORDER BY challenge_id",
                user_id)
            return XP(user_id=user_id, **rows[0], badges=[Badge(**b) for b in badges], challenges=[Challenge(**c) for c in challenges])
        return await cached(f"xp:{user_id}", compute)

    @app.get("/api/learning/recommendations/{user_id}", response_model=Recommendations, tags=["learning"], responses=LEARNER_ERRORS)
    async def recommendations(user_id: str = USER_ID, limit: int = LIMIT, offset: int = OFFSET) -> Recommendations:
        async def compute():
            await require_learner(user_id)
            rows = await fetch(
                """SELECT rank, content_id, module_id, skill_id, format, score, reason, reason_detail, count(*) OVER () AS total
                   FROM serving.recommendations WHERE user_id = %s ORDER BY rank LIMIT %s OFFSET %s""", user_id, limit, offset)
            return Recommendations(user_id=user_id, total=rows[0]["total"] if rows else 0, limit=limit, offset=offset,
                                   items=[Recommendation(**{k: r[k] for k in Recommendation.model_fields}) for r in rows])
        return await cached(f"recs:{user_id}:{limit}:{offset}", compute)

    @app.get("/api/learning/leaderboards", response_model=Leaderboard, tags=["gamification"], responses=COURSE_ERRORS)
    async def leaderboard(scope: str = Query("overall", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$"),
                          period: Literal["all_time", "week"] = Query("all_time"),
                          limit: int = LIMIT, offset: int = OFFSET) -> Leaderboard:
        async def compute():
            rows = await fetch(
                """SELECT position, user_id, xp, count(*) OVER () AS total FROM serving.leaderboards
                   WHERE scope = %s AND period = %s ORDER BY position LIMIT %s OFFSET %s""", scope, period, limit, offset)
            if not rows and offset == 0:
                raise HTTPException(404, f"no leaderboard for scope {scope!r} and period {period!r}")
            return Leaderboard(scope=scope, period=period, total=rows[0]["total"] if rows else 0, limit=limit, offset=offset,
                               items=[LeaderboardRow(position=r["position"], user_id=r["user_id"], xp=r["xp"]) for r in rows])
        return await cached(f"board:{scope}:{period}:{limit}:{offset}", compute)

    @app.get("/api/learning/analytics/{course_id}", response_model=CourseAnalytics, tags=["analytics"], responses=COURSE_ERRORS)
    async def analytics(course_id: str = COURSE_ID) -> CourseAnalytics:
        async def compute():
            learners = await fetch("SELECT count(DISTINCT user_id) AS n FROM serving.mastery WHERE course_id = %s", course_id)
            if not learners or not learners[0]["n"]:
                raise HTTPException(404, f"unknown course {course_id!r}")
            segments = await fetch(
                """SELECT d.decision_label, count(*) AS n FROM serving.learner_decisions d
                   WHERE d.tree_id = 'primary_classification'
                     AND d.user_id IN (SELECT DISTINCT user_id FROM serving.mastery WHERE course_id = %s)
                   GROUP BY 1 ORDER BY 1""", course_id)
            skills = await fetch(
                """SELECT skill_id, count(*) AS learners, avg(p_known) AS mean_p_known, avg(mastered::int) AS mastered_share
                   FROM serving.mastery WHERE course_id = %s GROUP BY skill_id ORDER BY avg(p_known), skill_id LIMIT 5""", course_id)
            status = await fetch("SELECT status, count(*) AS n FROM serving.learning_path WHERE course_id = %s GROUP BY 1", course_id)
            top = await fetch(
                """SELECT position, user_id, xp FROM serving.leaderboards WHERE scope = %s AND period = 'all_time'
                   ORDER BY position LIMIT 10""", course_id)
            return CourseAnalytics(
                course_id=course_id, learners=learners[0]["n"], segments={r["decision_label"]: r["n"] for r in segments},
                weakest_skills=[SkillSummary(skill_id=s["skill_id"], learners=s["learners"], mean_p_known=round(float(s["mean_p_known"]), 4),
                                             mastered_share=round(float(s["mastered_share"]), 4)) for s in skills],
                path_status={r["status"]: r["n"] for r in status},
                top_learners=[LeaderboardRow(**t) for t in top])
        return await cached(f"analytics:{course_id}", compute)

    return app


def serve(database_url: str, host: str = "127.0.0.1", port: int = 3005, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run(create_app(database_url), host=host, port=port, log_level="warning", access_log=False)

