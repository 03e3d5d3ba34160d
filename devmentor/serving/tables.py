"""The serving contract: tables the serving layer reads in PostgreSQL schema ``serving``.

See docs/serving_contract.md for the columns, indexes and the reads they serve.
"""

from __future__ import annotations

from devmentor.serving.publish import Column, TableSpec

LEARNER_DECISIONS = TableSpec(
    name="learner_decisions",
    description="Current decision per learner and tree (replaced atomically on every publish).",
    columns=(
        Column("user_id", "text", nullable=False),
        Column("tree_id", "text", nullable=False),
        Column("decision_label", "text", nullable=False),
        Column("confidence", "double precision"),
        Column("decision_version", "text", nullable=False),
        Column("model_uri", "text", nullable=False),
        Column("mlflow_run_id", "text"),
        Column("flagged_rules_hit", "jsonb"),
        Column("thresholds_at_time", "jsonb"),
        Column("input_attributes", "jsonb"),
        Column("llm_prompt_output", "text"),
        Column("decided_at", "timestamptz", nullable=False),
        Column("as_of", "timestamptz"),
        Column("trace_id", "text", nullable=False),
        Column("event_source", "text", nullable=False),
        Column("publish_id", "text"),
    ),
    primary_key=("user_id", "tree_id"),
    indexes=(("tree_id", "decision_label"),),
)

# Append-only history of every published decision (same columns as learner_decisions).
DECISION_LOG = "decision_log"

# Append-only tables written in the same transaction as the decisions' swap.
SUPPORT_DDL = """
CREATE TABLE IF NOT EXISTS serving.decision_outbox (
    outbox_id bigserial PRIMARY KEY,
    trace_id text NOT NULL,
    user_id text NOT NULL,
    tree_id text NOT NULL,
    topic text NOT NULL,
    payload jsonb NOT NULL,
    publish_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    relayed_at timestamptz
);
CREATE INDEX IF NOT EXISTS decision_outbox_unrelayed ON serving.decision_outbox (outbox_id) WHERE relayed_at IS NULL;
CREATE TABLE IF NOT EXISTS serving.delivery_log (
    trace_id text NOT NULL,
    user_id text NOT NULL,
    decision_tree_id text NOT NULL,
    strategy_label text NOT NULL,
    llm_prompt_summary text,
    delivery_timestamp timestamptz NOT NULL,
    response_status text NOT NULL,
    latency_ms double precision,
    cache_hit boolean,
    event_source text NOT NULL,
    publish_id text NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_log_user ON serving.delivery_log (user_id, delivery_timestamp);
CREATE TABLE IF NOT EXISTS serving.threshold_snapshots (
    snapshot_id text PRIMARY KEY,
    tree_id text NOT NULL,
    decision_version text NOT NULL,
    overrides_version text NOT NULL,
    rules jsonb NOT NULL,
    overrides jsonb NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS serving.retraining_log (
    tree_id text NOT NULL,
    version text NOT NULL,
    trained_at timestamptz NOT NULL,
    changes_made jsonb NOT NULL,
    data_points_used jsonb NOT NULL,
    mlflow_run_id text,
    PRIMARY KEY (tree_id, version)
);
"""


def _spec(name, description, columns, primary_key, indexes=()):
    return TableSpec(name=name, description=description, columns=tuple(Column(*c) for c in columns),
                     primary_key=primary_key, indexes=indexes)


_VERSION = [("algorithm_version", "text", False), ("publish_id", "text")]

MASTERY = _spec(
    "mastery", "Mastery per learner and skill (BKT): P(known), 0-10 skill score, mastered flag.",
    [("user_id", "text", False), ("skill_id", "text", False), ("course_id", "text"), ("p_known", "double precision", False),
     ("skill_score", "double precision", False), ("mastered", "boolean", False), ("attempts", "integer", False),
     ("predicted_success", "double precision"), ("last_attempt_at", "timestamptz"), *_VERSION],
    ("user_id", "skill_id"),
)
REVIEW_QUEUE = _spec(
    "review_queue", "Today's spaced-repetition reviews per learner (FSRS), in priority order, at most the daily limit.",
    [("user_id", "text", False), ("priority", "integer", False), ("skill_id", "text", False), ("due_at", "timestamptz", False),
     ("overdue", "boolean", False), ("overdue_days", "double precision", False), ("retrievability", "double precision", False),
     ("stability_days", "double precision", False), ("difficulty", "double precision", False), ("reviews", "integer", False),
     ("as_of", "timestamptz", False), *_VERSION],
    ("user_id", "priority"),
)
LEARNING_PATH = _spec(
    "learning_path", "Each learner's path through each course: module status (mastered / open / locked) in prerequisite order.",
    [("user_id", "text", False), ("course_id", "text", False), ("module_id", "text", False), ("topo_rank", "integer", False),
     ("step", "integer"), ("status", "text", False), ("module_mastery", "double precision"), ("missing_prerequisites", "text"),
     *_VERSION],
    ("user_id", "course_id", "module_id"),
)
RECOMMENDATIONS = _spec(
    "recommendations", "Ranked next content per learner, each with a reason code and a sentence.",
    [("user_id", "text", False), ("rank", "integer", False), ("content_id", "text", False), ("module_id", "text"),
     ("course_id", "text"), ("skill_id", "text"), ("format", "text"), ("score", "double precision", False),
     ("reason", "text", False), ("reason_detail", "text"), ("predicted_success", "double precision"), *_VERSION],
    ("user_id", "rank"),
)
NEXT_QUIZ = _spec(
    "next_quiz", "Each learner's next quiz: N questions on weak skills at about 70% predicted success, no recent repeats.",
    [("user_id", "text", False), ("position", "integer", False), ("question_id", "text", False), ("module_id", "text"),
     ("skill_id", "text"), ("difficulty", "double precision"), ("p_known", "double precision"),
     ("predicted_success", "double precision"), ("reason", "text", False), *_VERSION],
    ("user_id", "position"),
)
LEARNING_TABLES = (MASTERY, REVIEW_QUEUE, LEARNING_PATH, RECOMMENDATIONS, NEXT_QUIZ)

LEARNER_XP = _spec(
    "learner_xp", "XP total, level on the documented curve (50·n·(n−1) XP for level n) and this week's XP per learner.",
    [("user_id", "text", False), ("xp_total", "bigint", False), ("level", "integer", False), ("level_floor_xp", "bigint", False),
     ("next_level_xp", "bigint", False), ("xp_to_next_level", "bigint", False), ("xp_this_week", "bigint", False),
     ("badges", "integer", False), ("last_award_at", "timestamptz"), *_VERSION],
    ("user_id",),
)
BADGES = _spec(
    "badges", "Badges earned, once per learner and badge, with the date earned and the event that earned it.",
    [("user_id", "text", False), ("badge_id", "text", False), ("name", "text", False), ("description", "text"),
     ("earned_at", "timestamptz", False), ("source_event_id", "text"), *_VERSION],
    ("user_id", "badge_id"),
)
STREAKS = _spec(
    "streaks", "Current and longest run of active days per learner, counted in the learner's own time zone.",
    [("user_id", "text", False), ("timezone", "text", False), ("current_streak", "integer", False),
     ("longest_streak", "integer", False), ("last_active_date", "date"), ("today", "date", False), *_VERSION],
    ("user_id",),
)
LEADERBOARDS = _spec(
    "leaderboards", "XP leaderboards: scope 'overall' or a course id × period all_time / week. Ties: earlier to reach the total, then user id. Opted-out learners never appear.",
    [("scope", "text", False), ("period", "text", False), ("position", "integer", False), ("user_id", "text", False),
     ("xp", "bigint", False), ("reached_at", "timestamptz", False), *_VERSION],
    ("scope", "period", "position"),
    (("user_id",),),
)
REWARD_LOG = _spec(
    "reward_log", "Every XP grant and badge with its rule, reason and source event: totals are rebuilt from it.",
    [("reward_id", "text", False), ("user_id", "text", False), ("kind", "text", False), ("rule", "text", False),
     ("xp", "integer", False), ("source_event_id", "text"), ("course_id", "text"), ("awarded_at", "timestamptz", False),
     ("local_date", "date"), ("reason", "text"), *_VERSION],
    ("reward_id",),
    (("user_id", "awarded_at"),),
)
WEEKLY_CHALLENGES = _spec(
    "weekly_challenges", "This week's challenges per learner (local week) with progress toward each target.",
    [("user_id", "text", False), ("challenge_id", "text", False), ("week_start", "date", False), ("description", "text", False),
     ("progress", "integer", False), ("target", "integer", False), ("completed", "boolean", False), *_VERSION],
    ("user_id", "challenge_id"),
)
GAMIFICATION_TABLES = (LEARNER_XP, BADGES, STREAKS, LEADERBOARDS, REWARD_LOG, WEEKLY_CHALLENGES)

EARLY_WARNING = _spec(
    "early_warning", "P(fail or withdraw) per enrolment still active on its course's day N (the as-of day), from the "
    "champion early-warning tree trained on past enrolments' real outcomes, with the path in words.",
    [("user_id", "text", False), ("course_id", "text", False), ("as_of", "timestamptz", False), ("course_day", "integer", False),
     ("p_at_risk", "double precision", False), ("at_risk", "boolean", False), ("risk_band", "text", False),
     ("reasons", "text", False), ("decision_path", "jsonb"), ("model_version", "text", False), ("mlflow_run_id", "text"),
     *_VERSION],
    ("user_id", "course_id"),
    (("course_id", "p_at_risk"),),
)
EARLY_WARNING_TABLES = (EARLY_WARNING,)

# Every table a publish locks (publish_lock): `devmentor forget` holds them all while it removes a learner.
SERVING_TABLE_NAMES = (LEARNER_DECISIONS.name, DECISION_LOG, "courses",
                       *(spec.name for spec in (*LEARNING_TABLES, *GAMIFICATION_TABLES, *EARLY_WARNING_TABLES)))


def render_markdown(specs=None) -> str:
    """The learning-engine, gamification, early-warning and catalog tables as Markdown (docs/serving_contract.md
    keeps a copy; a test compares)."""
    from devmentor.serving.catalog import COURSES

    specs = specs or (*LEARNING_TABLES, *GAMIFICATION_TABLES, *EARLY_WARNING_TABLES, COURSES)
    out = []
    for spec in specs:
        out.append(f"### `serving.{spec.name}`\n{spec.description}\n")
        keys = f"Primary key `({', '.join(spec.primary_key)})`"
        if spec.indexes:
            keys += "; index " + ", ".join(f"`({', '.join(i)})`" for i in spec.indexes)
        out.append(keys + ".\n")
        out.append("| column | type | null |\n|---|---|---|")
        out.extend(f"| {c.name} | {c.pg_type} | {'yes' if c.nullable else 'no'} |" for c in spec.columns)
        out.append("")
    return "\n".join(out)


# Learner attributes the serving layer may carry, and those it never carries (docs/serving_contract.md).
# Decisions' input_attributes are the trees' features (behaviour, learner_level, gpa); streaks carry the
# learner's time zone, needed to count local days. Demographics stay in the lake for the fairness report.
DEMOGRAPHIC_FIELDS = frozenset({
    "age", "age_band", "gender", "disability", "imd_band", "region", "highest_education", "ethnicity",
    "class_year", "signed_up_at", "full_name", "first_name", "last_name", "email",
})
