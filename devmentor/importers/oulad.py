"""Read the Open University Learning Analytics Dataset in its original CSV layout.

Missing values (``?`` or empty) are read as missing, not errors. ``studentVle.csv`` may be
plain or gzipped and may cover any subset of presentations: presentations without a click
stream are kept (their click features are missing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from devmentor.sql import literal

REQUIRED = ("courses.csv", "assessments.csv", "vle.csv", "studentInfo.csv", "studentRegistration.csv", "studentAssessment.csv")


@dataclass
class OuladTables:
    """The OULAD tables, as DataFrames with the release's column names."""

    student_info: pd.DataFrame  # code_module, code_presentation, id_student, final_result, num_of_prev_attempts, studied_credits, ...
    registrations: pd.DataFrame  # ..., date_registration, date_unregistration
    assessments: pd.DataFrame  # code_module, code_presentation, id_assessment, assessment_type, date, weight
    student_assessments: pd.DataFrame  # id_assessment, id_student, date_submitted, is_banked, score
    clicks: pd.DataFrame  # code_module, code_presentation, id_student, id_site, date, sum_click, activity_type
    courses: pd.DataFrame  # code_module, code_presentation, module_presentation_length


class OuladError(ValueError):
    """The directory is not an OULAD release; the message says which file or column is wrong."""


def _csv(path: Path, types: dict[str, str] | None = None) -> str:
    opts = "header=true, nullstr=['?', ''], quote='\"'"
    if types:
        cols = ", ".join(f"'{k}': '{v}'" for k, v in types.items())
        opts += f", types={{{cols}}}"
    return f"read_csv({literal(str(path))}, {opts})"


def safe_name(text: str) -> str:
    """A value as a file-name part: letters, digits, '_' and '-' kept, anything else '_'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(text)) or "_"


def find_clicks(root: Path) -> Path | None:
    for name in ("studentVle.csv", "studentVle.csv.gz"):
        if (root / name).exists():
            return root / name
    return None


def read_oulad(root: Path) -> OuladTables:
    root = Path(root)
    missing = [n for n in REQUIRED if not (root / n).exists()]
    if missing:
        raise OuladError(f"{root} is not an OULAD directory: missing {', '.join(missing)}")
    con = duckdb.connect()
    try:
        def df(sql: str, name: str):
            try:
                return con.execute(sql).df()
            except duckdb.Error as exc:
                raise OuladError(f"{root / name}: {str(exc).splitlines()[0]}") from None

        courses = df(f"SELECT * FROM {_csv(root / 'courses.csv')}", "courses.csv")
        assessments = df(f"SELECT * FROM {_csv(root / 'assessments.csv', {'date': 'DOUBLE', 'weight': 'DOUBLE'})}", "assessments.csv")
        info = df(f"SELECT * FROM {_csv(root / 'studentInfo.csv', {'id_student': 'BIGINT'})}", "studentInfo.csv")
        reg = df(
            f"SELECT * FROM {_csv(root / 'studentRegistration.csv', {'id_student': 'BIGINT', 'date_registration': 'DOUBLE', 'date_unregistration': 'DOUBLE'})}",
            "studentRegistration.csv",
        )
        sa = df(
            f"SELECT * FROM {_csv(root / 'studentAssessment.csv', {'id_student': 'BIGINT', 'id_assessment': 'BIGINT', 'date_submitted': 'DOUBLE', 'score': 'DOUBLE'})}",
            "studentAssessment.csv",
        )
        assessments["id_assessment"] = assessments["id_assessment"].astype("int64")
        clicks_path = find_clicks(root)
        if clicks_path is None:
            clicks = df("SELECT NULL::VARCHAR AS code_module, NULL::VARCHAR AS code_presentation, NULL::BIGINT AS id_student, "
                        "NULL::BIGINT AS id_site, NULL::DOUBLE AS date, NULL::DOUBLE AS sum_click, NULL::VARCHAR AS activity_type LIMIT 0", "studentVle.csv")
        else:
            clicks = df(
                f"""SELECT c.code_module, c.code_presentation, c.id_student, c.id_site, c.date, c.sum_click, v.activity_type
                    FROM {_csv(clicks_path, {'id_student': 'BIGINT', 'id_site': 'BIGINT', 'date': 'DOUBLE', 'sum_click': 'DOUBLE'})} c
                    LEFT JOIN {_csv(root / 'vle.csv', {'id_site': 'BIGINT'})} v USING (id_site, code_module, code_presentation)""",
                clicks_path.name,
            )
    finally:
        con.close()
    return OuladTables(info, reg, assessments, sa, clicks, courses)


def presentations_with_clicks(t: OuladTables) -> set[tuple[str, str]]:
    return set(map(tuple, t.clicks[["code_module", "code_presentation"]].drop_duplicates().itertuples(index=False)))


# ------------------------------------------------------------------------------ OULAD → input contract
AGE_BAND = {"0-35": 25, "35-55": 45, "55<=": 60}
EDUCATION_LEVEL = {
    "No Formal quals": "basic",
    "Lower Than A Level": "basic",
    "A Level or Equivalent": "intermediate",
    "HE Qualification": "advanced",
    "Post Graduate Qualification": "advanced",
}
# VLE activity type → (content kind, format)
ACTIVITY = {
    "oucontent": ("lesson", "text"), "page": ("lesson", "text"), "subpage": ("lesson", "text"),
    "resource": ("resource", "text"), "url": ("resource", "text"), "folder": ("resource", "text"),
    "dataplus": ("resource", "text"), "glossary": ("reading", "text"), "htmlactivity": ("lesson", "text"),
    "homepage": ("resource", "text"), "forumng": ("reading", "text"), "ouwiki": ("reading", "text"),
    "quiz": ("exercise", "text"), "externalquiz": ("exercise", "text"), "questionnaire": ("exercise", "text"),
    "repeatactivity": ("exercise", "text"), "sharedsubpage": ("lesson", "text"), "dualpane": ("lesson", "image"),
    "ouelluminate": ("lecture", "video"), "oucollaborate": ("lecture", "video"),
}


def presentation_start(code: str) -> str:
    """Nominal start date of a presentation: 'B' presentations start in February, 'J' in October."""
    return f"{code[:4]}-{'02' if code[4:] == 'B' else '10'}-01"


def to_contract(root: Path, inbox: Path, as_of: datetime | None = None) -> dict[str, int]:
    """Write the OULAD release at ``root`` as input-contract files under ``inbox``; returns row counts.

    studentInfo → profiles; courses → courses, with one module per assessment period (ordered by the
    assessment's due day, each requiring the previous); vle → content items (activity type → kind and
    format); assessments → questions; registrations → enrolments (with withdrawals); VLE clicks →
    content_view events (clicks, no duration); assessment results → quiz_attempt events (score / 100).
    Days are placed at noon UTC on the presentation's nominal start date plus the day offset; a course
    starts at midnight of that date (day 0) and ends on its final exam's day (else its length).
    studentInfo's final_result → outcomes (result known at the withdrawal, else at the course end), its
    prior attempts and credits → the enrolment.

    ``as_of`` writes the dataset as it was known at that instant (a replay): no event, registration,
    withdrawal or outcome dated after it; learners not yet registered are left out. The calendar
    (course dates, assessment due dates) is known in advance and kept whole.
    """
    root, inbox = Path(root), Path(inbox)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    try:
        _prepare(con, root, read_oulad(root), as_of)
        counts = _write_entities(con, inbox)
        counts["events"] = _write_events(con, inbox)
    finally:
        con.close()
    return counts


COURSE_ID_SQL = "code_module || '-' || code_presentation"
FORMAT_CASES = " ".join(f"WHEN '{k}' THEN '{v[1]}'" for k, v in ACTIVITY.items())


def _prepare(con: duckdb.DuckDBPyConnection, root: Path, t, as_of: datetime | None) -> None:
    """The release's tables, and the SQL macros that place OULAD's day offsets in time: ``at_day`` (noon of
    the presentation's start date plus the offset), ``period_of`` (the assessment period a day falls in),
    ``calendar`` (course start and end), ``known`` (dated at or before the replay's instant)."""
    for name, frame in (("info", t.student_info), ("reg", t.registrations), ("assess", t.assessments),
                        ("sa", t.student_assessments), ("clicks", t.clicks), ("courses", t.courses)):
        con.register(name, frame)
    con.execute(f"CREATE TEMP TABLE vle AS SELECT * FROM {_csv(root / 'vle.csv', {'id_site': 'BIGINT', 'week_from': 'DOUBLE'})}")
    con.execute("""CREATE TEMP MACRO start_of(p) AS CAST(
        substr(p, 1, 4) || CASE WHEN substr(p, 5) = 'B' THEN '-02-01' ELSE '-10-01' END AS TIMESTAMPTZ) + INTERVAL 12 HOUR""")
    con.execute("CREATE TEMP MACRO at_day(p, d) AS start_of(p) + to_days(CAST(d AS INTEGER))")
    con.execute("""CREATE TEMP TABLE periods AS
        SELECT code_module, code_presentation, id_assessment, date,
               row_number() OVER (PARTITION BY code_module, code_presentation ORDER BY date, id_assessment) AS period
        FROM assess WHERE assessment_type <> 'Exam' AND date IS NOT NULL""")
    con.execute("""CREATE TEMP MACRO period_of(m, p, d) AS coalesce(
        (SELECT min(period) FROM periods q WHERE q.code_module = m AND q.code_presentation = p AND q.date >= d),
        (SELECT max(period) FROM periods q WHERE q.code_module = m AND q.code_presentation = p), 1)""")
    con.execute("""CREATE TEMP TABLE calendar AS
        SELECT c.code_module, c.code_presentation, start_of(c.code_presentation) - INTERVAL 12 HOUR AS starts_at,
               start_of(c.code_presentation) - INTERVAL 12 HOUR
                   + to_days(CAST(coalesce(e.exam_day, c.module_presentation_length) AS INTEGER)) AS ends_at
        FROM courses c LEFT JOIN (
            SELECT code_module, code_presentation, max(date) AS exam_day FROM assess
            WHERE assessment_type = 'Exam' GROUP BY ALL) e USING (code_module, code_presentation)""")
    cutoff = "TIMESTAMPTZ '9999-12-31 00:00:00+00'" if as_of is None else f"CAST('{as_of.isoformat()}' AS TIMESTAMPTZ)"
    con.execute(f"CREATE TEMP MACRO known(ts) AS ts <= {cutoff}")


def _entity_queries() -> dict[str, str]:
    """The SQL that writes each contract file but events, by path under the inbox."""
    act = " ".join(f"WHEN '{k}' THEN '{v[0]}'" for k, v in ACTIVITY.items())
    fmt = FORMAT_CASES
    ages = " ".join(f"WHEN '{k}' THEN {v}" for k, v in AGE_BAND.items())
    levels = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in EDUCATION_LEVEL.items())
    course_id = COURSE_ID_SQL
    return {
        "profiles/oulad_profiles.parquet": f"""
            SELECT 'oulad-' || id_student AS user_id, CASE any_value(age_band) {ages} END AS age,
                   CASE any_value(highest_education) {levels} END AS learner_level, 'UTC' AS timezone
            FROM info
            WHERE id_student IN (SELECT id_student FROM reg WHERE known(at_day(code_presentation, coalesce(date_registration, 0))))
            GROUP BY id_student""",
        "catalog/courses/oulad_courses.parquet": f"""
            SELECT {course_id} AS course_id, 'OULAD ' || code_module || ' ' || code_presentation AS title, 'oulad' AS subject,
                   k.starts_at, k.ends_at
            FROM courses JOIN calendar k USING (code_module, code_presentation)""",
        "catalog/modules/oulad_modules.parquet": f"""
            WITH p AS (
                SELECT DISTINCT code_module, code_presentation, period FROM periods
                UNION SELECT code_module, code_presentation, 1 FROM courses)
            SELECT {course_id} || '-P' || lpad(period::VARCHAR, 2, '0') AS module_id, {course_id} AS course_id,
                   period AS position, 'Assessment period ' || period AS title,
                   CASE WHEN period > 1 THEN {course_id} || '-P' || lpad((period - 1)::VARCHAR, 2, '0') END AS prerequisites
            FROM p""",
        "catalog/content_items/oulad_content.parquet": f"""
            SELECT 'vle-' || id_site AS content_id,
                   {course_id} || '-P' || lpad(period_of(code_module, code_presentation, coalesce(week_from * 7, 0))::VARCHAR, 2, '0') AS module_id,
                   {course_id} AS course_id,
                   CASE activity_type {act} ELSE 'resource' END AS kind,
                   CASE activity_type {fmt} ELSE 'text' END AS format,
                   {course_id} AS topic_id, code_module AS skill_tag
            FROM vle""",
        "catalog/questions/oulad_questions.parquet": f"""
            SELECT 'assessment-' || a.id_assessment AS question_id,
                   {course_id.replace('code_', 'a.code_')} || '-P' || lpad(coalesce(q.period, period_of(a.code_module, a.code_presentation, 1e9))::VARCHAR, 2, '0') AS module_id,
                   {course_id.replace('code_', 'a.code_')} AS course_id, {course_id.replace('code_', 'a.code_')} AS topic_id,
                   a.code_module AS skill_tag, a.assessment_type AS objective_tag,
                   CASE WHEN a.date IS NOT NULL THEN k.starts_at + to_days(CAST(a.date AS INTEGER)) END AS due_at,
                   a.weight
            FROM assess a LEFT JOIN periods q USING (id_assessment)
                 JOIN calendar k ON k.code_module = a.code_module AND k.code_presentation = a.code_presentation""",
        "enrolments/oulad_enrolments.parquet": f"""
            SELECT * FROM (
                SELECT 'oulad-' || id_student AS user_id, {course_id} AS course_id,
                       at_day(code_presentation, coalesce(date_registration, 0)) AS enrolled_at,
                       CASE WHEN date_unregistration IS NOT NULL AND known(at_day(code_presentation, date_unregistration))
                            THEN at_day(code_presentation, date_unregistration) END AS withdrawn_at,
                       CAST(i.num_of_prev_attempts AS INTEGER) AS prior_attempts,
                       CAST(i.studied_credits AS INTEGER) AS credits
                FROM reg LEFT JOIN info i USING (code_module, code_presentation, id_student))
            WHERE known(enrolled_at)""",
        "outcomes/oulad_outcomes.parquet": f"""
            SELECT * FROM (
                SELECT 'oulad-' || i.id_student AS user_id, {course_id.replace('code_', 'i.code_')} AS course_id,
                       lower(i.final_result) AS final_result,
                       CASE WHEN i.final_result = 'Withdrawn' AND r.date_unregistration IS NOT NULL
                            THEN least(at_day(i.code_presentation, r.date_unregistration), k.ends_at)
                            ELSE k.ends_at END AS result_at
                FROM info i
                JOIN calendar k USING (code_module, code_presentation)
                LEFT JOIN reg r USING (code_module, code_presentation, id_student))
            WHERE known(result_at)""",
    }


def _write_entities(con: duckdb.DuckDBPyConnection, inbox: Path) -> dict[str, int]:
    counts = {}
    for rel, sql in _entity_queries().items():
        target = inbox / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({sql}) TO {literal(str(target))} (FORMAT parquet)")
        counts[rel.split("/")[-2] if "/" in rel else rel] = con.execute(
            f"SELECT count(*) FROM read_parquet({literal(str(target))})").fetchone()[0]
    return counts


def _write_events(con: duckdb.DuckDBPyConnection, inbox: Path) -> int:
    """VLE clicks → content views, assessment submissions → quiz attempts; one file per presentation."""
    course_id, fmt = COURSE_ID_SQL, FORMAT_CASES
    events_dir = inbox / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"""CREATE TEMP TABLE oulad_events AS
        SELECT 'vle-' || code_module || '-' || code_presentation || '-' || id_student || '-' || id_site || '-' || CAST(date AS INTEGER)
                   || '-' || row_number() OVER (PARTITION BY code_module, code_presentation, id_student, id_site, date ORDER BY sum_click) AS event_id,
               'oulad-' || id_student AS user_id, 'content_view' AS event_type, at_day(code_presentation, date) AS "timestamp",
               'oulad-' || id_student || '-' || {course_id} || '-d' || CAST(date AS INTEGER) AS session_id,
               {course_id} AS course_id,
               {course_id} || '-P' || lpad(period_of(code_module, code_presentation, date)::VARCHAR, 2, '0') AS module_id,
               'vle-' || id_site AS content_id, CASE activity_type {fmt} ELSE 'text' END AS format,
               CAST(sum_click AS INTEGER) AS clicks, NULL::VARCHAR AS question_id, NULL::DOUBLE AS score
        FROM clicks
        UNION ALL
        SELECT 'assessment-' || sa.id_assessment || '-' || sa.id_student, 'oulad-' || sa.id_student, 'quiz_attempt',
               at_day(a.code_presentation, sa.date_submitted),
               'oulad-' || sa.id_student || '-' || a.code_module || '-' || a.code_presentation || '-d' || CAST(sa.date_submitted AS INTEGER),
               a.code_module || '-' || a.code_presentation,
               a.code_module || '-' || a.code_presentation || '-P' || lpad(coalesce(q.period, period_of(a.code_module, a.code_presentation, 1e9))::VARCHAR, 2, '0'),
               NULL, NULL, NULL, 'assessment-' || sa.id_assessment, sa.score / 100.0
        FROM sa JOIN assess a USING (id_assessment) LEFT JOIN periods q USING (id_assessment)
        WHERE sa.date_submitted IS NOT NULL""")
    con.execute('DELETE FROM oulad_events WHERE NOT known("timestamp")')
    events = con.execute("SELECT count(*) FROM oulad_events").fetchone()[0]
    # One file per presentation, named by the presentation's start day (the events inside span the presentation).
    for (presentation,) in con.execute("SELECT DISTINCT course_id FROM oulad_events ORDER BY 1").fetchall():
        # A code is data: it never picks the directory (no '/' or '..' reaches the file name).
        target = events_dir / f"oulad-{safe_name(presentation)}.parquet"
        con.execute(f"COPY (SELECT * FROM oulad_events WHERE course_id = {literal(presentation)} "
                    f"ORDER BY event_id) TO {literal(str(target))} (FORMAT parquet)")
    return events




def presentation_order(code: str) -> tuple[int, int]:
    """2013B < 2013J < 2014B < 2014J (B starts in February, J in October)."""
    return int(code[:4]), 0 if code[4:] == "B" else 1


def replay_instant(presentation: str, day: int) -> datetime:
    """The end of day ``day`` of a presentation (day 0 starts at midnight UTC of its nominal start date)."""
    from datetime import timedelta, timezone

    start = datetime.fromisoformat(presentation_start(presentation)).replace(tzinfo=timezone.utc)
    return start + timedelta(days=day + 1) - timedelta(seconds=1)


def final_outcomes(root: Path) -> pd.DataFrame:
    """The truth a replay is scored against: user_id, course_id, final_result (lower case) per enrolment."""
    info = read_oulad(Path(root)).student_info
    return pd.DataFrame({
        "user_id": "oulad-" + info["id_student"].astype(str),
        "course_id": info["code_module"] + "-" + info["code_presentation"],
        "final_result": info["final_result"].str.lower(),
    })
