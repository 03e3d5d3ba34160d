-- One row per usable quiz answer (a question and a skill tag): what the mastery trace, the review queue, XP
-- and badges read, with the learner's local day. A multi-skill answer is one row here; its tag ('7;9') is
-- split in Python into one row per skill sharing the event.
{{ learner_incremental() }}
with attempts as (
    select * from {{ ref('int_quiz_attempts_enriched') }}
    where skill_tag is not null and question_id is not null and {{ for_changed_learners('user_id') }}
),

clock as (
    select user_id, timezone from {{ ref('dim_learner_clock') }}
)

select
    a.user_id,
    a.event_id,
    a.event_at,
    a.question_id,
    a.skill_tag as skill_id,
    a.topic_id,
    a.module_id,
    a.course_id,
    a.is_correct,
    a.hint_used,
    a.retries,
    a.confidence,
    {{ local_date('a.event_at', 'c.timezone') }} as local_date
from attempts as a
left join clock as c on c.user_id = a.user_id
