-- depends_on: {{ ref('int_learner_daily_activity') }}
-- The early-warning labels, kept apart from the features: final result of each enrolment whose outcome
-- was known by the as-of instant. at_risk = fail or withdrawn.
select o.user_id, o.course_id, o.final_result, o.result_at, o.at_risk
from {{ ref('stg_devmentor__outcomes') }} as o
where o.result_at <= {{ as_of_ts() }}
