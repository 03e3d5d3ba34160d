-- depends_on: {{ ref('int_learner_daily_activity') }}
-- One row per enrolment begun by the as-of instant; is_withdrawn says whether the learner had withdrawn by then
-- (a withdrawal after the as-of is not known yet). The learning engine plans for enrolments not withdrawn; the
-- tutor prompt is about the latest one.
select
    user_id,
    course_id,
    enrolled_at,
    coalesce(withdrawn_at <= {{ as_of_ts() }}, false) as is_withdrawn
from {{ ref('stg_devmentor__enrolments') }}
where enrolled_at is null or enrolled_at <= {{ as_of_ts() }}
