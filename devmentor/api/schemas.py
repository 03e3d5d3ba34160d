"""The read API's response models and parameter definitions (the OpenAPI schema is generated from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import Path, Query
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
