-- depends_on: {{ ref('int_learner_daily_activity') }}
-- Which enrolments are snapshotted on which course day, and why.
--   score: a running course, on the day it is at as of the run's instant (day N of its calendar); its
--          enrolments still active that day are scored by the early-warning model.
--   train: a course that had ended by the as-of instant, on each day some running course is at, so
--          the model learns "day N" from past courses' day N; only enrolments whose outcome was known
--          by the as-of instant.
--   study: every course on the days named in $DEVMENTOR_SNAPSHOT_DAYS (e.g. "30,60,90,120,end",
--          end = the day before the final exam), for the early-warning study (benchmarks/bench_oulad.py).
-- Active on day d: registered by day d and not withdrawn by day d. Enrolments that had already left are
-- never snapshotted: their withdrawal date would be the label.
{%- set requested = env_var('DEVMENTOR_SNAPSHOT_DAYS', '') %}
with as_of as (
    select {{ as_of_ts() }} as as_of_at
),

courses as (
    select
        c.course_id,
        c.starts_at,
        c.ends_at,
        {{ day_index('c.starts_at', 'c.ends_at') }} as end_day,
        {{ day_index('c.starts_at', 'a.as_of_at') }} as day_now,
        c.ends_at <= a.as_of_at as has_ended
    from {{ ref('stg_devmentor__courses') }} as c
    cross join as_of as a
    where c.starts_at is not null and c.ends_at is not null
),

{% if requested %}
snapshot_days as (
    {%- for d in requested.split(',') %}
    select
        course_id, {% if d.strip() == 'end' %}end_day - 1{% else %}least({{ d.strip() | int }}, end_day - 1){% endif %} as snapshot_day,
        '{{ d.strip() }}' as snapshot_name, 'study' as snapshot_role
    from courses
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),
{% else %}
running as (
    select course_id, day_now as snapshot_day
    from courses
    where not has_ended and day_now >= 0
),

snapshot_days as (
    select course_id, snapshot_day, cast(snapshot_day as {{ type_text() }}) as snapshot_name, 'score' as snapshot_role
    from running
    union all
    select
        c.course_id, least(d.snapshot_day, c.end_day - 1) as snapshot_day,
        cast(d.snapshot_day as {{ type_text() }}) as snapshot_name, 'train' as snapshot_role
    from courses as c
    cross join (select distinct snapshot_day from running) as d
    where c.has_ended
),
{% endif %}

outcomes as (
    select o.user_id, o.course_id, o.final_result, {{ day_index('c.starts_at', 'o.result_at') }} as result_day
    from {{ ref('stg_devmentor__outcomes') }} as o
    inner join courses as c on o.course_id = c.course_id
    cross join as_of as a
    where o.result_at <= a.as_of_at
),

enrolments as (
    select
        e.user_id,
        e.course_id,
        {{ day_index('c.starts_at', 'e.enrolled_at') }} as enrolled_day,
        {{ day_index('c.starts_at', 'e.withdrawn_at') }} as withdrawn_day
    from {{ ref('stg_devmentor__enrolments') }} as e
    inner join courses as c on e.course_id = c.course_id
)

select
    e.user_id,
    e.course_id,
    s.snapshot_day,
    s.snapshot_name,
    s.snapshot_role,
    e.enrolled_day,
    a.as_of_at
from enrolments as e
inner join snapshot_days as s on e.course_id = s.course_id
cross join as_of as a
left join outcomes as o on e.user_id = o.user_id and e.course_id = o.course_id
where
    e.enrolled_day <= s.snapshot_day
    and (e.withdrawn_day is null or e.withdrawn_day > s.snapshot_day)
    and not coalesce(o.final_result = 'withdrawn' and o.result_day <= s.snapshot_day, false)
    and (s.snapshot_role <> 'train' or o.final_result is not null)
