"""The read API's response models and parameter definitions (the OpenAPI schema is generated from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict

API_VERSION = "1"
# Entries live until a new publish lands (checked once a second) or this long, whichever is first.
CACHE_SECONDS = 300.0
CACHE_ENTRIES = 10_000
USER_ID = Path(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$", description="learner id (pseudonymous)",
               examples=["u000001"])
COURSE_ID = Path(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$", description="course id",
                 examples=["C01"])
LIMIT = Query(20, ge=1, le=100, description="page size (1-100)")
OFFSET = Query(0, ge=0, le=1_000_000, description="rows to skip")
# Free text, matched as a case-insensitive substring; control characters are refused (422).
SEARCH = Query(None, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$",
               description="case-insensitive substring of the id (learners) or of the id or title (courses)",
               examples=["0001"])


def example(**values) -> ConfigDict:
    """A model's example in the OpenAPI document (shown in /docs and /redoc)."""
    return ConfigDict(json_schema_extra={"examples": [values]})


_AT = "2026-10-31T00:00:00Z"
_RULE = {"rule_id": "R0L", "rule": "share of quiz answers correct at most 0.52", "feature": "correct_rate",
         "threshold": 0.52, "overridden": False}
_BOARD_ROW = {"position": 1, "user_id": "u000042", "xp": 1450}


# ----------------------------------------------------------------------------------------- response models


class Error(BaseModel):
    model_config = example(detail="unknown learner 'u999999'")
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
    model_config = example(status="ok", database="reachable", last_publish_at="2026-10-31T02:05:00Z", last_publish_age_seconds=412.0, version="1")
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
    model_config = example(user_id="u000001", decisions=[{
        "tree_id": "primary_classification", "decision_label": "Struggling Novice", "confidence": 0.82, "decision_version": "3",
        "decided_at": _AT, "trace_id": "9f1c2b7e4d5a4c3b8e2f1a0b9c8d7e6f", "reasons": [_RULE],
        "llm_prompt_output": "You are DevMentor, a patient tutor for the course Python (computing). ..."}])
    user_id: str
    decisions: list[Decision]


class PathStep(BaseModel):
    course_id: str
    module_id: str
    topo_rank: int
    step: int | None = None  # order among the open modules; none for mastered or locked ones
    status: Literal["mastered", "open", "locked"]
    module_mastery: float | None
    missing_prerequisites: list[str]


class LearningPath(Page):
    model_config = example(user_id="u000001", total=6, limit=20, offset=0, algorithm_version="path-1", items=[
        {"course_id": "C01", "module_id": "C01-M01", "topo_rank": 1, "step": None, "status": "mastered", "module_mastery": 0.97,
         "missing_prerequisites": []},
        {"course_id": "C01", "module_id": "C01-M02", "topo_rank": 2, "step": 1, "status": "open", "module_mastery": 0.41,
         "missing_prerequisites": []}])
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
    model_config = example(user_id="u000001", algorithm_version="quiz-3", questions=[
        {"position": 1, "question_id": "C01-M02-Q03", "module_id": "C01-M02", "skill_id": "C01-S1", "difficulty": 0.45,
         "predicted_success": 0.71, "reason": "weak skill C01-S1 (P(known) 0.41), about 70% predicted success"}])
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
    model_config = example(user_id="u000001", total=1, limit=20, offset=0, items=[
        {"priority": 1, "skill_id": "C01-S1", "due_at": _AT, "overdue": True, "overdue_days": 2.5, "retrievability": 0.83,
         "stability_days": 6.2}])
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
    model_config = example(user_id="u000001", total=1, limit=20, offset=0, skills_mastered=0, skills_total=1, items=[
        {"skill_id": "C01-S1", "course_id": "C01", "p_known": 0.41, "skill_score": 4.1, "mastered": False, "attempts": 7,
         "last_attempt_at": _AT}])
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
    model_config = example(user_id="u000001", xp_total=1450, level=6, xp_to_next_level=50, xp_this_week=120, current_streak=3,
                            longest_streak=9, badges=[{"badge_id": "first_quiz", "name": "First quiz", "earned_at": _AT}],
                            challenges=[{"challenge_id": "quiz_3", "description": "Answer 3 quizzes this week", "progress": 2,
                                         "target": 3, "completed": False}])
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
    model_config = example(user_id="u000001", total=10, limit=20, offset=0, items=[
        {"rank": 1, "content_id": "C01-M02-L1-V", "module_id": "C01-M02", "skill_id": "C01-S1", "format": "video", "score": 0.87,
         "reason": "weak_skill", "reason_detail": "C01-S1 is your weakest skill in module C01-M02 (P(known) 0.41)"}])
    user_id: str
    items: list[Recommendation]


class LeaderboardRow(BaseModel):
    position: int
    user_id: str
    xp: int


class Leaderboard(Page):
    model_config = example(scope="overall", period="all_time", total=400, limit=20, offset=0, items=[_BOARD_ROW])
    scope: str
    period: str
    items: list[LeaderboardRow]


class SkillSummary(BaseModel):
    skill_id: str
    learners: int
    mean_p_known: float
    mastered_share: float


class CourseAnalytics(BaseModel):
    model_config = example(course_id="C01", learners=212, segments={"Fast Tracker": 40, "Steady Progressor": 120, "Struggling Novice": 52},
                                         weakest_skills=[{"skill_id": "C01-S2", "learners": 212, "mean_p_known": 0.38, "mastered_share": 0.12}],
                                         path_status={"mastered": 400, "open": 500, "locked": 372}, top_learners=[_BOARD_ROW])
    course_id: str
    learners: int
    segments: dict[str, int]
    weakest_skills: list[SkillSummary]
    path_status: dict[str, int]
    top_learners: list[LeaderboardRow]


class LearnerSummary(BaseModel):
    user_id: str
    segment: str | None = None
    intervention: str | None = None
    level: int | None = None
    xp_total: int | None = None
    courses: int


class Learners(Page):
    model_config = example(total=1, limit=20, offset=0, search="0001", items=[
        {"user_id": "u000001", "segment": "Steady Progressor", "intervention": "Continue Path", "level": 6, "xp_total": 1450,
         "courses": 2}])
    search: str | None = None
    items: list[LearnerSummary]


class CourseSummary(BaseModel):
    course_id: str
    title: str
    subject: str | None = None
    starts_at: datetime | None = None  # self-paced courses have no calendar
    ends_at: datetime | None = None
    modules: int
    enrolled_learners: int
    withdrawn_learners: int


class Courses(Page):
    model_config = example(total=1, limit=20, offset=0, search="python", items=[
        {"course_id": "C01", "title": "Python", "subject": "computing", "starts_at": None, "ends_at": None, "modules": 6,
         "enrolled_learners": 212, "withdrawn_learners": 9}])
    search: str | None = None
    items: list[CourseSummary]


# ----------------------------------------------------------------------------------------- metrics and cache
