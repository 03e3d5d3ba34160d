-- Engagement per course and day (grain: course × UTC day): active learners, sessions, minutes, events.
with sessions as (
    select * from {{ ref('int_sessions_summarized') }}
    where course_id is not null
),

final as (
    select
        course_id,
        session_date as activity_date,
        count(distinct user_id) as active_learners,
        count(*) as sessions,
        round(sum(duration_s) / 60.0, 1) as minutes,
        sum(event_count) as events
    from sessions
    group by course_id, session_date
)

select * from final
