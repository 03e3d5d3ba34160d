"""The read API's routes: operations (health, metrics) and the learning-engine reads, each over one serving table."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse, PlainTextResponse

from devmentor.api.schemas import (
    COURSE_ERRORS,
    COURSE_ID,
    LEARNER_ERRORS,
    LIMIT,
    OFFSET,
    SEARCH,
    USER_ID,
    XP,
    Badge,
    Challenge,
    CourseAnalytics,
    Courses,
    CourseSummary,
    Decision,
    Decisions,
    Health,
    Leaderboard,
    LeaderboardRow,
    Learners,
    LearnerSummary,
    LearningPath,
    NextQuiz,
    PathStep,
    Progress,
    QuizQuestion,
    Recommendation,
    Recommendations,
    Review,
    ReviewQueue,
    RuleStep,
    SkillMastery,
    SkillSummary,
)
from devmentor.api.service import Serving, serving
from models.decision_trees import INTERVENTION_TREE, SEGMENT_TREE

operations = APIRouter()
learning = APIRouter()


@operations.get("/health", response_model=Health, tags=["operations"], summary="Liveness and publish age",
                responses={503: {"model": Health, "description": "database unreachable"}})
async def health(srv: Serving = Depends(serving)) -> Health | JSONResponse:
    """Whether the serving database answers, and when the pipeline last published (its age in seconds).
    A 503 with ``status: degraded`` means the database is unreachable; the pipeline is never called."""
    try:
        async with srv.pool.connection(timeout=2) as conn:
            cur = await conn.execute("SELECT max(published_at) AS at FROM serving.publish_log")
            row = await cur.fetchone()
    except Exception:
        return JSONResponse(Health(status="degraded", database="unreachable").model_dump(mode="json"), status_code=503)
    at = row["at"] if row else None
    age = (datetime.now(at.tzinfo) - at).total_seconds() if at else None
    return Health(status="ok", database="reachable", last_publish_at=at, last_publish_age_seconds=age)

@operations.get("/metrics", response_class=PlainTextResponse, tags=["operations"], summary="Prometheus metrics",
                responses={200: {"description": "Prometheus text exposition format", "content": {"text/plain": {"example": (
                    '# TYPE devmentor_api_requests_total counter\n'
                    'devmentor_api_requests_total{route="/health",status="200"} 3\n'
                    'devmentor_api_cache_hits_total 12\n')}}}})
async def prometheus(srv: Serving = Depends(serving)) -> str:
    """Requests by route and status, server errors, latency histograms and response-cache hits, in the
    Prometheus text format (scrape it every 15-60 s)."""
    return srv.metrics.render()

@learning.get("/api/learning/decisions/{user_id}", response_model=Decisions, tags=["learning"], responses=LEARNER_ERRORS,
              summary="A learner's decisions")
async def decisions(user_id: str = USER_ID, srv: Serving = Depends(serving)) -> Decisions:
    """The learner's current decision from each tree (segment and intervention): label, confidence, model
    version, trace id, the rule path that led there (``reasons``) and the tutor prompt built from it."""
    async def compute():
        rows = await srv.fetch(
            """SELECT tree_id, decision_label, confidence, decision_version, decided_at, trace_id, flagged_rules_hit,
                      llm_prompt_output FROM serving.learner_decisions WHERE user_id = %s ORDER BY tree_id""", user_id)
        if not rows:
            raise HTTPException(404, f"unknown learner {user_id!r}")
        return Decisions(user_id=user_id, decisions=[
            Decision(**{k: r[k] for k in ("tree_id", "decision_label", "confidence", "decision_version", "decided_at",
                                          "trace_id", "llm_prompt_output")},
                     reasons=[RuleStep(**{k: s.get(k) for k in RuleStep.model_fields}) for s in (r["flagged_rules_hit"] or [])])
            for r in rows])
    return await srv.cached(f"decisions:{user_id}", compute)

@learning.get("/api/learning/paths/{user_id}", response_model=LearningPath, tags=["learning"], responses=LEARNER_ERRORS,
              summary="A learner's learning path")
async def paths(user_id: str = USER_ID, course_id: str | None = Query(None, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$",
                                                                     description="only this course", examples=["C01"]),
                limit: int = LIMIT, offset: int = OFFSET, srv: Serving = Depends(serving)) -> LearningPath:
    """The learner's modules in prerequisite order, per course: mastered, open (next to study, ``step`` gives
    the order) or locked (``missing_prerequisites`` names what to master first)."""
    async def compute():
        await srv.require_learner(user_id)
        rows = await srv.fetch(
            """SELECT course_id, module_id, topo_rank, step, status, module_mastery, missing_prerequisites, algorithm_version,
                      count(*) OVER () AS total
               FROM serving.learning_path WHERE user_id = %s AND (%s::text IS NULL OR course_id = %s)
               ORDER BY course_id, topo_rank LIMIT %s OFFSET %s""", user_id, course_id, course_id, limit, offset)
        return LearningPath(user_id=user_id, total=rows[0]["total"] if rows else 0, limit=limit, offset=offset,
                            algorithm_version=rows[0]["algorithm_version"] if rows else None,
                            items=[PathStep(**{k: r[k] for k in ("course_id", "module_id", "topo_rank", "step", "status", "module_mastery")},
                                            missing_prerequisites=[p for p in (r["missing_prerequisites"] or "").split(";") if p])
                                   for r in rows])
    return await srv.cached(f"paths:{user_id}:{course_id}:{limit}:{offset}", compute)

async def _learner_page(srv: Serving, key: str, user_id: str, limit: int, offset: int, page, item, sql: str):
    """One page of a learner's rows of a serving table (``sql`` takes user_id, limit, offset and selects ``total``
    as ``count(*) OVER ()``), as ``page`` of ``item``s, cached under ``key``."""
    async def compute():
        await srv.require_learner(user_id)
        rows = await srv.fetch(sql, user_id, limit, offset)
        return page(user_id=user_id, total=rows[0]["total"] if rows else 0, limit=limit, offset=offset,
                    items=[item(**{k: r[k] for k in item.model_fields}) for r in rows])
    return await srv.cached(key, compute)

@learning.get("/api/learning/quiz/{user_id}/next", response_model=NextQuiz, tags=["learning"], responses=LEARNER_ERRORS,
              summary="A learner's next quiz")
async def next_quiz(user_id: str = USER_ID, srv: Serving = Depends(serving)) -> NextQuiz:
    """The questions of the learner's next quiz, on weak skills at about 70% predicted success and not asked
    in the last days, each with the reason it was chosen."""
    async def compute():
        await srv.require_learner(user_id)
        rows = await srv.fetch(
            """SELECT position, question_id, module_id, skill_id, difficulty, predicted_success, reason, algorithm_version
               FROM serving.next_quiz WHERE user_id = %s ORDER BY position""", user_id)
        return NextQuiz(user_id=user_id, algorithm_version=rows[0]["algorithm_version"] if rows else None,
                        questions=[QuizQuestion(**{k: r[k] for k in QuizQuestion.model_fields}) for r in rows])
    return await srv.cached(f"quiz:{user_id}", compute)

@learning.get("/api/learning/quiz/{user_id}/reviews", response_model=ReviewQueue, tags=["learning"], responses=LEARNER_ERRORS,
              summary="A learner's spaced-repetition reviews")
async def reviews(user_id: str = USER_ID, limit: int = LIMIT, offset: int = OFFSET, srv: Serving = Depends(serving)) -> ReviewQueue:
    """Today's review queue (FSRS) in priority order: when each skill was due, how overdue, and the modelled
    probability of recall (``retrievability``)."""
    return await _learner_page(
        srv, f"reviews:{user_id}:{limit}:{offset}", user_id, limit, offset, ReviewQueue, Review,
        """SELECT priority, skill_id, due_at, overdue, overdue_days, retrievability, stability_days, count(*) OVER () AS total
           FROM serving.review_queue WHERE user_id = %s ORDER BY priority LIMIT %s OFFSET %s""")

@learning.get("/api/learning/progress/{user_id}", response_model=Progress, tags=["learning"], responses=LEARNER_ERRORS,
              summary="A learner's mastery per skill")
async def progress(user_id: str = USER_ID, limit: int = LIMIT, offset: int = OFFSET, srv: Serving = Depends(serving)) -> Progress:
    """Mastery per skill (BKT): P(known), the 0-10 skill score, mastered or not, attempts; with the counts of
    skills mastered and in total."""
    async def compute():
        await srv.require_learner(user_id)
        rows = await srv.fetch(
            """SELECT skill_id, course_id, p_known, skill_score, mastered, attempts, last_attempt_at,
                      count(*) OVER () AS total, count(*) FILTER (WHERE mastered) OVER () AS n_mastered
               FROM serving.mastery WHERE user_id = %s ORDER BY course_id, skill_id LIMIT %s OFFSET %s""", user_id, limit, offset)
        total = rows[0]["total"] if rows else 0
        return Progress(user_id=user_id, total=total, limit=limit, offset=offset, skills_total=total,
                        skills_mastered=rows[0]["n_mastered"] if rows else 0,
                        items=[SkillMastery(**{k: r[k] for k in SkillMastery.model_fields}) for r in rows])
    return await srv.cached(f"progress:{user_id}:{limit}:{offset}", compute)

@learning.get("/api/learning/xp/{user_id}", response_model=XP, tags=["gamification"], responses=LEARNER_ERRORS,
              summary="A learner's XP, level, streak, badges and challenges")
async def xp(user_id: str = USER_ID, srv: Serving = Depends(serving)) -> XP:
    """XP total and level (50·n·(n−1) XP for level n), this week's XP, current and longest streak, badges
    earned and this week's challenges with their progress."""
    async def compute():
        rows = await srv.fetch(
            """SELECT x.xp_total, x.level, x.xp_to_next_level, x.xp_this_week,
                      coalesce(s.current_streak, 0) AS current_streak, coalesce(s.longest_streak, 0) AS longest_streak
               FROM serving.learner_xp x LEFT JOIN serving.streaks s USING (user_id) WHERE x.user_id = %s""", user_id)
        if not rows:
            raise HTTPException(404, f"unknown learner {user_id!r}")
        badges = await srv.fetch("SELECT badge_id, name, earned_at FROM serving.badges WHERE user_id = %s ORDER BY earned_at, badge_id", user_id)
        challenges = await srv.fetch(
            "SELECT challenge_id, description, progress, target, completed FROM serving.weekly_challenges WHERE user_id = %s ORDER BY challenge_id",
            user_id)
        return XP(user_id=user_id, **rows[0], badges=[Badge(**b) for b in badges], challenges=[Challenge(**c) for c in challenges])
    return await srv.cached(f"xp:{user_id}", compute)

@learning.get("/api/learning/recommendations/{user_id}", response_model=Recommendations, tags=["learning"], responses=LEARNER_ERRORS,
              summary="A learner's recommended next content")
async def recommendations(user_id: str = USER_ID, limit: int = LIMIT, offset: int = OFFSET, srv: Serving = Depends(serving)) -> Recommendations:
    """Ranked next content, each with a reason code (``reason``) and a sentence for the learner
    (``reason_detail``)."""
    return await _learner_page(
        srv, f"recs:{user_id}:{limit}:{offset}", user_id, limit, offset, Recommendations, Recommendation,
        """SELECT rank, content_id, module_id, skill_id, format, score, reason, reason_detail, count(*) OVER () AS total
           FROM serving.recommendations WHERE user_id = %s ORDER BY rank LIMIT %s OFFSET %s""")

@learning.get("/api/learning/leaderboards", response_model=Leaderboard, tags=["gamification"], responses=COURSE_ERRORS,
              summary="An XP leaderboard")
async def leaderboard(scope: str = Query("overall", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$",
                                         description="``overall`` or a course id", examples=["overall"]),
                      period: Literal["all_time", "week"] = Query("all_time", description="all time or this week"),
                      limit: int = LIMIT, offset: int = OFFSET, srv: Serving = Depends(serving)) -> Leaderboard:
    """Learners by XP, overall or in one course, all time or this week. Ties go to whoever reached the total
    first; learners who opted out never appear."""
    async def compute():
        rows = await srv.fetch(
            """SELECT position, user_id, xp, count(*) OVER () AS total FROM serving.leaderboards
               WHERE scope = %s AND period = %s ORDER BY position LIMIT %s OFFSET %s""", scope, period, limit, offset)
        if not rows and offset == 0:
            raise HTTPException(404, f"no leaderboard for scope {scope!r} and period {period!r}")
        return Leaderboard(scope=scope, period=period, total=rows[0]["total"] if rows else 0, limit=limit, offset=offset,
                           items=[LeaderboardRow(position=r["position"], user_id=r["user_id"], xp=r["xp"]) for r in rows])
    return await srv.cached(f"board:{scope}:{period}:{limit}:{offset}", compute)

@learning.get("/api/learning/analytics/{course_id}", response_model=CourseAnalytics, tags=["analytics"], responses=COURSE_ERRORS,
              summary="A course at a glance")
async def analytics(course_id: str = COURSE_ID, srv: Serving = Depends(serving)) -> CourseAnalytics:
    """Learners in the course, their segments, the five weakest skills, module status counts along the
    learning paths and the course's top ten by XP."""
    async def compute():
        learners = await srv.fetch("SELECT count(DISTINCT user_id) AS n FROM serving.mastery WHERE course_id = %s", course_id)
        if not learners or not learners[0]["n"]:
            raise HTTPException(404, f"unknown course {course_id!r}")
        segments = await srv.fetch(
            """SELECT d.decision_label, count(*) AS n FROM serving.learner_decisions d
               WHERE d.tree_id = %s
                 AND d.user_id IN (SELECT DISTINCT user_id FROM serving.mastery WHERE course_id = %s)
               GROUP BY 1 ORDER BY 1""", SEGMENT_TREE, course_id)
        skills = await srv.fetch(
            """SELECT skill_id, count(*) AS learners, avg(p_known) AS mean_p_known, avg(mastered::int) AS mastered_share
               FROM serving.mastery WHERE course_id = %s GROUP BY skill_id ORDER BY avg(p_known), skill_id LIMIT 5""", course_id)
        status = await srv.fetch("SELECT status, count(*) AS n FROM serving.learning_path WHERE course_id = %s GROUP BY 1", course_id)
        top = await srv.fetch(
            """SELECT position, user_id, xp FROM serving.leaderboards WHERE scope = %s AND period = 'all_time'
               ORDER BY position LIMIT 10""", course_id)
        return CourseAnalytics(
            course_id=course_id, learners=learners[0]["n"], segments={r["decision_label"]: r["n"] for r in segments},
            weakest_skills=[SkillSummary(skill_id=s["skill_id"], learners=s["learners"], mean_p_known=round(float(s["mean_p_known"]), 4),
                                         mastered_share=round(float(s["mastered_share"]), 4)) for s in skills],
            path_status={r["status"]: r["n"] for r in status},
            top_learners=[LeaderboardRow(**t) for t in top])
    return await srv.cached(f"analytics:{course_id}", compute)


LEARNERS_SQL = """
WITH learners AS (
    SELECT user_id FROM serving.learner_decisions UNION SELECT user_id FROM serving.learner_xp
), page AS (
    SELECT user_id, count(*) OVER () AS total FROM learners
    WHERE %(search)s::text IS NULL OR strpos(lower(user_id), lower(%(search)s)) > 0
    ORDER BY user_id LIMIT %(limit)s OFFSET %(offset)s
)
SELECT p.user_id, p.total, seg.decision_label AS segment, itv.decision_label AS intervention, x.level, x.xp_total,
       (SELECT count(DISTINCT lp.course_id) FROM serving.learning_path lp WHERE lp.user_id = p.user_id) AS courses
FROM page p
LEFT JOIN serving.learner_decisions seg ON seg.user_id = p.user_id AND seg.tree_id = %(segment_tree)s
LEFT JOIN serving.learner_decisions itv ON itv.user_id = p.user_id AND itv.tree_id = %(intervention_tree)s
LEFT JOIN serving.learner_xp x ON x.user_id = p.user_id
ORDER BY p.user_id
"""

LEARNERS_COUNT_SQL = """
SELECT count(*) AS total FROM (SELECT user_id FROM serving.learner_decisions UNION SELECT user_id FROM serving.learner_xp) l
WHERE %(search)s::text IS NULL OR strpos(lower(user_id), lower(%(search)s)) > 0
"""


@learning.get("/api/learning/learners", response_model=Learners, tags=["learning"], summary="List and search learners",
              responses={503: LEARNER_ERRORS[503]})
async def learners(search: str | None = SEARCH, limit: int = LIMIT, offset: int = OFFSET,
                   srv: Serving = Depends(serving)) -> Learners:
    """Every learner the pipeline published (a decision or XP), by id, a page at a time, with their current
    segment, intervention, level and number of courses. ``search`` keeps ids containing it (any case).
    An empty page past the end still reports ``total``."""
    async def compute():
        params = {"search": search, "limit": limit, "offset": offset, "segment_tree": SEGMENT_TREE,
                  "intervention_tree": INTERVENTION_TREE}
        rows = await srv.fetch(LEARNERS_SQL, params)
        total = rows[0]["total"] if rows else (await srv.fetch(LEARNERS_COUNT_SQL, params))[0]["total"] if offset else 0
        return Learners(total=total, limit=limit, offset=offset, search=search,
                        items=[LearnerSummary(**{k: r[k] for k in LearnerSummary.model_fields}) for r in rows])
    return await srv.cached(f"learners:{limit}:{offset}:{search!r}", compute)


COURSES_SQL = """
SELECT course_id, title, subject, starts_at, ends_at, modules, enrolled_learners, withdrawn_learners,
       count(*) OVER () AS total
FROM serving.courses
WHERE %(search)s::text IS NULL OR strpos(lower(course_id), lower(%(search)s)) > 0
   OR strpos(lower(title), lower(%(search)s)) > 0
ORDER BY course_id LIMIT %(limit)s OFFSET %(offset)s
"""

COURSES_COUNT_SQL = """
SELECT count(*) AS total FROM serving.courses
WHERE %(search)s::text IS NULL OR strpos(lower(course_id), lower(%(search)s)) > 0
   OR strpos(lower(title), lower(%(search)s)) > 0
"""


@learning.get("/api/learning/courses", response_model=Courses, tags=["analytics"], summary="List and search courses",
              responses={503: COURSE_ERRORS[503]})
async def courses(search: str | None = SEARCH, limit: int = LIMIT, offset: int = OFFSET,
                  srv: Serving = Depends(serving)) -> Courses:
    """The course catalog, by id, a page at a time: title, subject, calendar (when the course has one),
    modules and enrolled / withdrawn learners. ``search`` keeps courses whose id or title contains it (any case)."""
    async def compute():
        params = {"search": search, "limit": limit, "offset": offset}
        rows = await srv.fetch(COURSES_SQL, params)
        total = rows[0]["total"] if rows else (await srv.fetch(COURSES_COUNT_SQL, params))[0]["total"] if offset else 0
        return Courses(total=total, limit=limit, offset=offset, search=search,
                       items=[CourseSummary(**{k: r[k] for k in CourseSummary.model_fields}) for r in rows])
    return await srv.cached(f"courses:{limit}:{offset}:{search!r}", compute)
