-- One row per module completion event, with the learner's local day (completion XP and badges).
{{ learner_incremental() }}
select
    e.event_id,
    e.user_id,
    e.event_at,
    e.course_id,
    e.module_id,
    {{ local_date('e.event_at', 'c.timezone') }} as local_date
from {{ ref('stg_devmentor__events') }} as e
left join {{ ref('dim_learner_clock') }} as c on c.user_id = e.user_id
where e.event_type = 'module_complete' and e.module_id is not null and {{ for_changed_learners('e.user_id') }}
