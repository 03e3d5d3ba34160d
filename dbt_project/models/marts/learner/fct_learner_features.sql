-- One row per learner: every learner-level feature the segment and intervention trees train and decide on
-- (devmentor/training/features.py reads this mart, and nothing else, for them): the behaviour mart, the
-- learner's profile attributes, chat signals (0 for a learner who never wrote), and whether the learner
-- is enrolled on any course with a calendar (such a learner is decided only while an enrolment is active).
with calendar_learners as (
    select distinct e.user_id
    from {{ ref('stg_devmentor__enrolments') }} as e
    join {{ ref('stg_devmentor__courses') }} as c on c.course_id = e.course_id
    where c.starts_at is not null and c.ends_at is not null
)

select
    b.*,
    d.gpa,
    d.learner_level,
    d.format_preference,
    d.writing_style_category,
    d.analytics_opt_out,
    coalesce(c.chat_confusion_rate, 0) as chat_confusion_rate,
    coalesce(c.user_messages, 0) as user_messages,
    k.user_id is not null as on_course_calendar
from {{ ref('fct_learner_behavior') }} as b
join {{ ref('dim_learner') }} as d on d.user_id = b.user_id
left join {{ ref('fct_chat_features') }} as c on c.user_id = b.user_id
left join calendar_learners as k on k.user_id = b.user_id
