"""The input contract: what the platform ingests, field by field.

This module is the single source of truth for validation (assets/ingest/validate.py),
for the synthetic generator's schema, and for docs/input_contract.md.
Each entity is read from ``$DEVMENTOR_INBOX/<entity.folder>/`` as CSV, JSON Lines
(``.jsonl``/``.ndjson``) or Parquet files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FORMATS = ("text", "image", "video")
EVENT_TYPES = (
    "session_start",
    "session_end",
    "content_view",
    "quiz_attempt",
    "module_complete",
    "hint_request",
    "content_flag",
    "topic_flag",
)
SEGMENTS = ("Struggling Novice", "Fast Tracker", "Steady Progressor", "Disengaging", "Format Mismatch")


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # DuckDB type
    required: bool = False
    enum: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    description: str = ""
    free_text: bool = False  # e-mail addresses and phone numbers in it are masked at ingest


@dataclass(frozen=True)
class ForeignKey:
    field: str
    entity: str
    target_field: str


@dataclass(frozen=True)
class Entity:
    name: str
    folder: str
    description: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    not_in_future: tuple[str, ...] = ()
    partition_by_date_of: str | None = None  # timestamp field whose date partitions the lake
    # Fields that must be present on rows of a given discriminator value, e.g. quiz fields on quiz_attempt.
    required_when: tuple[tuple[str, str, tuple[str, ...]], ...] = field(default=())

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def get(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


PROFILES = Entity(
    name="profiles",
    folder="profiles",
    description="One row per learner (User Profile Aggregator input).",
    key=("user_id",),
    fields=(
        Field("user_id", "VARCHAR", True, description="Stable learner id."),
        Field("age", "INTEGER", False, min=10, max=100),
        Field("class_year", "INTEGER", False, min=1, max=8, description="Year of study."),
        Field("courses_completed", "INTEGER", False, min=0, max=500),
        Field("gpa", "DOUBLE", False, min=0, max=4),
        Field("learner_purpose", "VARCHAR", False, enum=("scratch", "revising", "exploring")),
        Field("format_preference", "VARCHAR", False, enum=FORMATS),
        Field("format_comfort_rating_text", "INTEGER", False, min=1, max=5),
        Field("format_comfort_rating_image", "INTEGER", False, min=1, max=5),
        Field("format_comfort_rating_video", "INTEGER", False, min=1, max=5),
        Field("format_comprehension_score_text", "DOUBLE", False, min=0, max=1),
        Field("format_comprehension_score_image", "DOUBLE", False, min=0, max=1),
        Field("format_comprehension_score_video", "DOUBLE", False, min=0, max=1),
        Field("session_preference", "VARCHAR", False, enum=("short_chunks", "long_sessions")),
        Field("ui_theme_preference", "VARCHAR", False, enum=("light", "dark", "system")),
        Field("layout_preference", "VARCHAR", False, enum=("compact", "comfortable", "focus")),
        Field("study_mode", "VARCHAR", False, enum=("solo", "group")),
        Field("learner_level", "VARCHAR", False, enum=("basic", "intermediate", "advanced")),
        Field("timezone", "VARCHAR", False, description="IANA time zone (e.g. Europe/Paris); empty or unknown: UTC."),
        Field("leaderboard_opt_out", "BOOLEAN", False),
        Field("analytics_opt_out", "BOOLEAN", False),
        Field("signed_up_at", "TIMESTAMPTZ", False),
    ),
    not_in_future=("signed_up_at",),
)

COURSES = Entity(
    name="courses",
    folder="catalog/courses",
    description="Course catalog.",
    key=("course_id",),
    fields=(
        Field("course_id", "VARCHAR", True),
        Field("title", "VARCHAR", True),
        Field("subject", "VARCHAR", False),
        Field("starts_at", "TIMESTAMPTZ", False,
              description="When the course (presentation) starts: day 0 of its calendar. Early warning scores a "
                          "course's enrolments on day N of this calendar; courses without it are not scored."),
        Field("ends_at", "TIMESTAMPTZ", False,
              description="When the course ends (the final exam); after it, outcomes are known and nobody is nudged."),
    ),
)

MODULES = Entity(
    name="modules",
    folder="catalog/modules",
    description="Modules of a course, in order, with prerequisites (';'-separated module ids).",
    key=("module_id",),
    fields=(
        Field("module_id", "VARCHAR", True),
        Field("course_id", "VARCHAR", True),
        Field("position", "INTEGER", True, min=1, max=1000),
        Field("title", "VARCHAR", True),
        Field("prerequisites", "VARCHAR", False),
    ),
    foreign_keys=(ForeignKey("course_id", "courses", "course_id"),),
)

CONTENT_ITEMS = Entity(
    name="content_items",
    folder="catalog/content_items",
    description="Lessons and other content of a module, one row per format variant.",
    key=("content_id",),
    fields=(
        Field("content_id", "VARCHAR", True),
        Field("module_id", "VARCHAR", True),
        Field("course_id", "VARCHAR", True),
        Field("kind", "VARCHAR", True, enum=("lesson", "exercise", "reading", "lecture", "resource")),
        Field("format", "VARCHAR", True, enum=FORMATS),
        Field("topic_id", "VARCHAR", True),
        Field("skill_tag", "VARCHAR", True),
        Field("difficulty", "DOUBLE", False, min=0, max=1),
        Field("position", "INTEGER", False, min=1, max=10000),
    ),
    foreign_keys=(
        ForeignKey("module_id", "modules", "module_id"),
        ForeignKey("course_id", "courses", "course_id"),
    ),
)

QUESTIONS = Entity(
    name="questions",
    folder="catalog/questions",
    description="Question bank.",
    key=("question_id",),
    fields=(
        Field("question_id", "VARCHAR", True),
        Field("module_id", "VARCHAR", True),
        Field("course_id", "VARCHAR", True),
        Field("topic_id", "VARCHAR", True),
        Field("skill_tag", "VARCHAR", True),
        Field("objective_tag", "VARCHAR", True),
        Field("difficulty", "DOUBLE", False, min=0, max=1),
        Field("due_at", "TIMESTAMPTZ", False, description="When an assessed question (an assignment) is due."),
        Field("weight", "DOUBLE", False, min=0, max=100, description="Weight of an assessed question in the course grade."),
    ),
    foreign_keys=(
        ForeignKey("module_id", "modules", "module_id"),
        ForeignKey("course_id", "courses", "course_id"),
    ),
)

ENROLMENTS = Entity(
    name="enrolments",
    folder="enrolments",
    description="Learner × course registrations; withdrawn_at set when the learner left.",
    key=("user_id", "course_id"),
    fields=(
        Field("user_id", "VARCHAR", True),
        Field("course_id", "VARCHAR", True),
        Field("enrolled_at", "TIMESTAMPTZ", True),
        Field("withdrawn_at", "TIMESTAMPTZ", False),
        Field("prior_attempts", "INTEGER", False, min=0, max=50, description="Earlier attempts at this course."),
        Field("credits", "INTEGER", False, min=0, max=1000, description="Credits the learner is studying in total."),
    ),
    foreign_keys=(
        ForeignKey("user_id", "profiles", "user_id"),
        ForeignKey("course_id", "courses", "course_id"),
    ),
    not_in_future=("enrolled_at", "withdrawn_at"),
)

EVENTS = Entity(
    name="events",
    folder="events",
    description=(
        "Interaction events, one row per event. Files usually hold one day each "
        "(events/YYYY-MM-DD.parquet); the lake partitions by the event's UTC date."
    ),
    key=("event_id",),
    fields=(
        Field("event_id", "VARCHAR", True),
        Field("user_id", "VARCHAR", True),
        Field("event_type", "VARCHAR", True, enum=EVENT_TYPES),
        Field("timestamp", "TIMESTAMPTZ", True),
        Field("session_id", "VARCHAR", True),
        Field("course_id", "VARCHAR", False),
        Field("module_id", "VARCHAR", False),
        Field("content_id", "VARCHAR", False),
        Field("format", "VARCHAR", False, enum=FORMATS),
        Field("duration_s", "DOUBLE", False, min=0, max=86400, description="Seconds spent, when the source measures it."),
        Field("clicks", "INTEGER", False, min=0, max=100000, description="Clicks, when the source counts clicks instead of time (OULAD)."),
        Field("question_id", "VARCHAR", False),
        Field("score", "DOUBLE", False, min=0, max=1),
        Field("skill_tag", "VARCHAR", False),
        Field("objective_tag", "VARCHAR", False),
        Field("retries", "INTEGER", False, min=0, max=100),
        Field("hint_used", "BOOLEAN", False),
        Field("confidence", "DOUBLE", False, min=0, max=1),
        Field("topic_id", "VARCHAR", False),
        Field("flag_reason", "VARCHAR", False),
    ),
    foreign_keys=(
        ForeignKey("user_id", "profiles", "user_id"),
        ForeignKey("course_id", "courses", "course_id"),
    ),
    not_in_future=("timestamp",),
    partition_by_date_of="timestamp",
    required_when=(
        ("event_type", "quiz_attempt", ("question_id", "score", "course_id")),
        ("event_type", "content_view", ("content_id", "format")),
    ),
)

CHAT_MESSAGES = Entity(
    name="chat_messages",
    folder="chat",
    description="Chat between a learner and the tutor (Learner Chat Manager input).",
    key=("message_id",),
    fields=(
        Field("message_id", "VARCHAR", True),
        Field("user_id", "VARCHAR", True),
        Field("session_id", "VARCHAR", True),
        Field("timestamp", "TIMESTAMPTZ", True),
        Field("message_direction", "VARCHAR", True, enum=("user", "system")),
        Field("message_text", "VARCHAR", True, free_text=True,
              description="Free text; e-mail addresses and phone numbers are masked at ingest ([email], [phone])."),
        Field("course_id", "VARCHAR", False),
        Field("contextual_topic_id", "VARCHAR", False),
        Field("related_skill", "VARCHAR", False),
        Field("related_objective", "VARCHAR", False),
        Field("hint_used", "BOOLEAN", False),
        Field("feedback_flags", "VARCHAR", False, description="';'-separated flags, e.g. confused;thumbs_down"),
        Field("searchable_tags", "VARCHAR", False, description="';'-separated tags"),
    ),
    foreign_keys=(ForeignKey("user_id", "profiles", "user_id"),),
    not_in_future=("timestamp",),
    partition_by_date_of="timestamp",
)

LEARNER_LABELS = Entity(
    name="learner_labels",
    folder="labels",
    description=(
        "Optional instructor annotations of learner segments, used as training labels for the "
        "primary_classification tree; without them the tree learns from rule-based labels."
    ),
    key=("user_id",),
    fields=(
        Field("user_id", "VARCHAR", True),
        Field("segment", "VARCHAR", True, enum=SEGMENTS),
        Field("labelled_by", "VARCHAR", False),
        Field("labelled_at", "TIMESTAMPTZ", False),
    ),
    foreign_keys=(ForeignKey("user_id", "profiles", "user_id"),),
    not_in_future=("labelled_at",),
)

OUTCOME_RESULTS = ("pass", "distinction", "fail", "withdrawn", "completed")
AT_RISK_RESULTS = ("fail", "withdrawn")

OUTCOMES = Entity(
    name="outcomes",
    folder="outcomes",
    description=(
        "Final result of an enrolment and when it became known (OULAD final_result; xAPI passed, failed, "
        "completed, unregistered). The early-warning model learns from these: at risk = fail or withdrawn."
    ),
    key=("user_id", "course_id"),
    fields=(
        Field("user_id", "VARCHAR", True),
        Field("course_id", "VARCHAR", True),
        Field("final_result", "VARCHAR", True, enum=OUTCOME_RESULTS),
        Field("result_at", "TIMESTAMPTZ", True, description="When the result was known: the withdrawal or the course end."),
    ),
    foreign_keys=(
        ForeignKey("user_id", "profiles", "user_id"),
        ForeignKey("course_id", "courses", "course_id"),
    ),
    not_in_future=("result_at",),
)

# Order matters: referenced entities are ingested before the ones that reference them.
ENTITIES: tuple[Entity, ...] = (
    PROFILES,
    COURSES,
    MODULES,
    CONTENT_ITEMS,
    QUESTIONS,
    ENROLMENTS,
    OUTCOMES,
    LEARNER_LABELS,
    EVENTS,
    CHAT_MESSAGES,
)
BY_NAME = {e.name: e for e in ENTITIES}


def render_markdown() -> str:
    """docs/input_contract.md, generated from the entities above (`python -m devmentor.ingest.contract`)."""
    lines = [
        "# Input contract",
        "",
        "What the platform ingests. Generated from `devmentor/ingest/contract.py` by "
        "`python -m devmentor.ingest.contract > docs/input_contract.md`; a test keeps the two in step.",
        "",
        "Put files under the inbox (`$DEVMENTOR_INBOX`, default `.devmentor/inbox/`), one folder per entity. "
        "Each file may be CSV (with a header row), JSON Lines (`.jsonl`/`.ndjson`, one object per line) or Parquet. "
        "Columns are matched by name; unknown columns are ignored; a missing optional column is empty.",
        "",
        "Every row is checked: type, required, allowed values, range, timestamps not in the future, "
        "conditional requirements, duplicate keys (within the file and against what was ingested before) "
        "and references to other entities. Good rows go to the lake; bad rows go to "
        "`lake/quarantine/<entity>/` with the source file, the 1-based row number (data rows, header excluded), "
        "the field, the reason, every error, and the raw record. A file that cannot be read at all, or lacks a "
        "required column, is quarantined whole with the reason. Re-ingesting a file replaces what it produced before.",
        "",
        "Timestamps are ISO 8601 with an offset (`2026-10-01T08:30:00Z`); booleans are `true`/`false`; "
        "lists inside one field are `;`-separated.",
        "",
    ]
    for e in ENTITIES:
        lines += [f"## `{e.name}` — `{e.folder}/`", "", e.description, "", f"Key: {', '.join(e.key)}."]
        if e.foreign_keys:
            lines.append("References: " + "; ".join(f"`{fk.field}` → `{fk.entity}.{fk.target_field}`" for fk in e.foreign_keys) + ".")
        for disc, value, fields in e.required_when:
            lines.append(f"When `{disc}` is `{value}`, also required: {', '.join(f'`{f}`' for f in fields)}.")
        lines += ["", "| field | type | required | allowed | description |", "|---|---|---|---|---|"]
        for f in e.fields:
            allowed = ", ".join(f.enum) if f.enum else (
                f"{f.min:g} to {f.max:g}" if f.min is not None and f.max is not None else ""
            )
            if f.name in e.not_in_future:
                allowed = (allowed + "; " if allowed else "") + "not in the future"
            lines.append(f"| `{f.name}` | {f.type.lower()} | {'yes' if f.required else ''} | {allowed} | {f.description} |")
        lines.append("")
    return "\n".join(lines)


DBT_MACRO_PATH = "dbt_project/macros/contract_values.sql"


def render_dbt_macro() -> str:
    """dbt_project/macros/contract_values.sql: each entity's allowed values per field, for the dbt test
    ``in_contract`` (`python -m devmentor.ingest.contract --dbt-macro`): the contract is the one list of them."""
    lines = [
        "{# Generated from devmentor/ingest/contract.py by `python -m devmentor.ingest.contract --dbt-macro > "
        + DBT_MACRO_PATH.removeprefix("dbt_project/") + "`;",
        "   tests/test_settings_and_cli.py keeps the two in step. Do not edit by hand. #}",
        "{% macro contract_values(entity) %}",
        "  {%- set values = {",
    ]
    for e in ENTITIES:
        enums = [f for f in e.fields if f.enum]
        if enums:
            inner = ", ".join(f"'{f.name}': [{', '.join(repr(v) for v in f.enum)}]" for f in enums)
            lines.append(f"    '{e.name}': {{{inner}}},")
    lines += [
        "  } -%}",
        "  {{ return(values.get(entity, {})) }}",
        "{% endmacro %}",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(render_dbt_macro() if "--dbt-macro" in sys.argv[1:] else render_markdown(), end="")
