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
    USER_ID,
    XP,
    Badge,
    Challenge,
    CourseAnalytics,
    Decision,
    Decisions,
    Health,
    Leaderboard,
    LeaderboardRow,
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
from models.decision_trees import SEGMENT_TREE

operations = APIRouter()
learning = APIRouter()


@operations.get("/health", response_model=Health, tags=["operations"], responses={503: {"model": Health, "description": "database unreachable"}})
async def health(srv: Serving = Depends(serving)) -> Health | JSONResponse:
    try:
        async with srv.pool.connection(timeout=2) as conn:
            cur = await conn.execute("SELECT max(published_at) AS at FROM serving.publish_log")
            row = await cur.fetchone()
    except Exception:
        return JSONResponse(Health(status="degraded", database="unreachable").model_dump(mode="json"), status_code=503)
    at = row["at"] if row else None
    age = (datetime.now(at.tzinfo) - at).total_seconds() if at else None
    return Health(status="ok", database="reachable", last_publish_at=at, last_publish_age_seconds=age)

@operations.get("/metrics", response_class=PlainTextResponse, tags=["operations"])
async def prometheus(srv: Serving = Depends(serving)) -> str:
    return srv.metrics.render()

@learning.get("/api/learning/decisions/{user_id}", response_model=Decisions, tags=["learning"], responses=LEARNER_ERRORS)
async def decisions(user_id: str = USER_ID, srv: Serving = Depends(serving)) -> Decisions:
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

@learning.get("/api/learning/paths/{user_id}", response_model=LearningPath, tags=["learning"], responses=LEARNER_ERRORS)
async def paths(user_id: str = USER_ID, course_id: str | None = Query(None, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$"),
                limit: int = LIMIT, offset: int = OFFSET, srv: Serving = Depends(serving)) -> LearningPath:
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

@learning.get("/api/learning/quiz/{user_id}/next", response_model=NextQuiz, tags=["learning"], responses=LEARNER_ERRORS)
async def next_quiz(user_id: str = USER_ID, srv: Serving = Depends(serving)) -> NextQuiz:
    async def compute():
        await srv.require_learner(user_id)
        rows = await srv.fetch(
            """SELECT position, question_id, module_id, skill_id, difficulty, predicted_success, reason, algorithm_version
               FROM serving.next_quiz WHERE user_id = %s ORDER BY position""", user_id)
        return NextQuiz(user_id=user_id, algorithm_version=rows[0]["algorithm_version"] if rows else None,
                        questions=[QuizQuestion(**{k: r[k] for k in QuizQuestion.model_fields}) for r in rows])
    return await srv.cached(f"quiz:{user_id}", compute)

@learning.get("/api/learning/quiz/{user_id}/reviews", response_model=ReviewQueue, tags=["learning"], responses=LEARNER_ERRORS)
async def reviews(user_id: str = USER_ID, limit: int = LIMIT, offset: int = OFFSET, srv: Serving = Depends(serving)) -> ReviewQueue:
    async def compute():
        await srv.require_learner(user_id)
        rows = await srv.fetch(
            """SELECT priority, skill_id, due_at, overdue, overdue_days, retrievability, stability_days, count(*) OVER () AS total
               FROM serving.review_queue WHERE user_id = %s ORDER BY priority LIMIT %s OFFSET %s""", user_id, limit, offset)
        return ReviewQueue(user_id=user_id, total=rows[0]["total"] if rows else 0, limit=limit, offset=offset,
                           items=[Review(**{k: r[k] for k in Review.model_fields}) for r in rows])
    return await srv.cached(f"reviews:{user_id}:{limit}:{offset}", compute)

@learning.get("/api/learning/progress/{user_id}", response_model=Progress, tags=["learning"], responses=LEARNER_ERRORS)
async def progress(user_id: str = USER_ID, limit: int = LIMIT, offset: int = OFFSET, srv: Serving = Depends(serving)) -> Progress:
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

@learning.get("/api/learning/xp/{user_id}", response_model=XP, tags=["gamification"], responses=LEARNER_ERRORS)
async def xp(user_id: str = USER_ID, srv: Serving = Depends(serving)) -> XP:
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

@learning.get("/api/learning/recommendations/{user_id}", response_model=Recommendations, tags=["learning"], responses=LEARNER_ERRORS)
async def recommendations(user_id: str = USER_ID, limit: int = LIMIT, offset: int = OFFSET, srv: Serving = Depends(serving)) -> Recommendations:
    async def compute():
        await srv.require_learner(user_id)
        rows = await srv.fetch(
            """SELECT rank, content_id, module_id, skill_id, format, score, reason, reason_detail, count(*) OVER () AS total
               FROM serving.recommendations WHERE user_id = %s ORDER BY rank LIMIT %s OFFSET %s""", user_id, limit, offset)
        return Recommendations(user_id=user_id, total=rows[0]["total"] if rows else 0, limit=limit, offset=offset,
                               items=[Recommendation(**{k: r[k] for k in Recommendation.model_fields}) for r in rows])
    return await srv.cached(f"recs:{user_id}:{limit}:{offset}", compute)

@learning.get("/api/learning/leaderboards", response_model=Leaderboard, tags=["gamification"], responses=COURSE_ERRORS)
async def leaderboard(scope: str = Query("overall", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$"),
                      period: Literal["all_time", "week"] = Query("all_time"),
                      limit: int = LIMIT, offset: int = OFFSET, srv: Serving = Depends(serving)) -> Leaderboard:
    async def compute():
        rows = await srv.fetch(
            """SELECT position, user_id, xp, count(*) OVER () AS total FROM serving.leaderboards
               WHERE scope = %s AND period = %s ORDER BY position LIMIT %s OFFSET %s""", scope, period, limit, offset)
        if not rows and offset == 0:
            raise HTTPException(404, f"no leaderboard for scope {scope!r} and period {period!r}")
        return Leaderboard(scope=scope, period=period, total=rows[0]["total"] if rows else 0, limit=limit, offset=offset,
                           items=[LeaderboardRow(position=r["position"], user_id=r["user_id"], xp=r["xp"]) for r in rows])
    return await srv.cached(f"board:{scope}:{period}:{limit}:{offset}", compute)

@learning.get("/api/learning/analytics/{course_id}", response_model=CourseAnalytics, tags=["analytics"], responses=COURSE_ERRORS)
async def analytics(course_id: str = COURSE_ID, srv: Serving = Depends(serving)) -> CourseAnalytics:
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
