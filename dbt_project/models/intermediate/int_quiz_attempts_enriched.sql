{{ config(
    materialized='incremental',
    incremental_strategy=window_strategy(),
    partition_by=window_partition('event_date'),
    pre_hook="{{ delete_incremental_window('event_date') }}"
) }}
-- One row per quiz attempt, with the question's difficulty, correctness and the format the learner studied in that session.
with attempts as (
    select * from {{ ref('stg_devmentor__events') }}
    where event_type = 'quiz_attempt' and {{ in_incremental_window('event_date') }}
),

questions as (
    select question_id, difficulty, topic_id as question_topic_id, objective_tag as question_objective_tag, skill_tag as question_skill_tag
    from {{ ref('stg_devmentor__questions') }}
),

sessions as (
    select session_id, user_id, session_format from {{ ref('int_sessions_summarized') }}
),

final as (
    select
        a.event_id,
        a.user_id,
        a.session_id,
        a.course_id,
        a.module_id,
        a.question_id,
        a.event_at,
        a.event_date,
        a.score,
        a.score >= 0.5 as is_correct,
        a.retries,
        a.hint_used,
        a.confidence,
        a.duration_s,
        coalesce(a.skill_tag, q.question_skill_tag) as skill_tag,
        coalesce(a.objective_tag, q.question_objective_tag) as objective_tag,
        coalesce(a.topic_id, q.question_topic_id) as topic_id,
        q.difficulty,
        coalesce(a.format, s.session_format) as study_format
    from attempts as a
    left join questions as q on q.question_id = a.question_id
    left join sessions as s on s.session_id = a.session_id and s.user_id = a.user_id
)

select * from final
