"""``serving.courses``: the course catalog as the read API lists it (``GET /api/learning/courses``).

The learner-facing serving tables carry course ids only; this table gives each course its title,
subject, calendar and size (enrolments known by the run's as-of), built from the catalog marts and published atomically like
every serving table. It holds no learner data (counts only), so forgetting a learner never touches it.
"""

from __future__ import annotations

import pyarrow as pa

from devmentor.serving.publish import Column, PublishResult, TableSpec, publish

COURSES = TableSpec(
    name="courses",
    description="The course catalog: title, subject, calendar, module count and active enrolments per course.",
    columns=(
        Column("course_id", "text", nullable=False),
        Column("title", "text", nullable=False),
        Column("subject", "text"),
        Column("starts_at", "timestamptz"),
        Column("ends_at", "timestamptz"),
        Column("modules", "integer", nullable=False),
        Column("enrolled_learners", "integer", nullable=False),
        Column("withdrawn_learners", "integer", nullable=False),
        Column("publish_id", "text"),
    ),
    primary_key=("course_id",),
)

CATALOG_SQL = """
WITH modules AS (
    SELECT course_id, count(*) AS modules FROM marts.dim_modules GROUP BY course_id
), enrolments AS (
    SELECT course_id, count(DISTINCT user_id) FILTER (WHERE NOT is_withdrawn) AS enrolled_learners,
           count(DISTINCT user_id) FILTER (WHERE is_withdrawn) AS withdrawn_learners
    FROM marts.fct_learner_enrolments GROUP BY course_id
)
SELECT c.course_id, coalesce(nullif(trim(c.course_title), ''), c.course_id) AS title, nullif(trim(c.subject), '') AS subject,
       c.starts_at, c.ends_at, coalesce(m.modules, 0)::INTEGER AS modules,
       coalesce(e.enrolled_learners, 0)::INTEGER AS enrolled_learners,
       coalesce(e.withdrawn_learners, 0)::INTEGER AS withdrawn_learners
FROM marts.dim_courses AS c
LEFT JOIN modules AS m USING (course_id)
LEFT JOIN enrolments AS e USING (course_id)
ORDER BY c.course_id
"""


def course_catalog(warehouse) -> pa.Table:
    """One row per course of the catalog, from the warehouse (DuckDB)."""
    with warehouse.connect() as con:
        return con.execute(CATALOG_SQL).to_arrow_table()


def publish_courses(warehouse, serving_db, run_id: str | None) -> PublishResult:
    """Replace ``serving.courses`` with the warehouse's catalog, atomically."""
    table = course_catalog(warehouse)
    with serving_db.connect() as conn:
        return publish(conn, COURSES, table, run_id=run_id)
