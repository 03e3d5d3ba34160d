-- Engagement per course and ISO week (grain: course × week starting Monday, UTC).
with sessions as (
    select * from {{ ref('int_sessions_summarized') }}
    where course_id is not null
),

final as (
    select
        course_id,
        cast(date_trunc('week', session_date) as date) as week_start,
        count(distinct user_id) as active_learners,
        count(*) as sessions,
        round(sum(duration_s) / 60.0, 1) as minutes,
        round(sum(duration_s) / 60.0 / count(distinct user_id), 1) as minutes_per_active_learner
    from sessions
    group by course_id, date_trunc('week', session_date)
)

select * from final
