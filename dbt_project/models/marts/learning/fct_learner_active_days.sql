-- One row per learner and local day with any event: the day's first event and the course it was in
-- (streaks, daily XP and weekly challenges count these days).
{{ learner_incremental() }}
with events as (
    select e.event_id, e.user_id, e.event_at, e.course_id, {{ local_date('e.event_at', 'c.timezone') }} as local_date
    from {{ ref('stg_devmentor__events') }} as e
    left join {{ ref('dim_learner_clock') }} as c on c.user_id = e.user_id
    where {{ for_changed_learners('e.user_id') }}
)

select
    user_id,
    local_date,
    {{ arg_min('event_id', 'event_at') }} as first_event_id,
    min(event_at) as first_event_at,
    {{ arg_min('course_id', 'event_at') }} as course_id
from events
group by user_id, local_date
