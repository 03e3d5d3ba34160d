-- When learners study (grain: course × local weekday × local hour): sessions and minutes in each learner's own time zone.
with sessions as (
    select * from {{ ref('int_sessions_summarized') }}
    where course_id is not null
),

final as (
    select
        course_id,
        cast({{ iso_weekday('local_date') }} as bigint) as local_weekday,
        local_start_hour as local_hour,
        count(*) as sessions,
        count(distinct user_id) as learners,
        round(sum(duration_s) / 60.0, 1) as minutes
    from sessions
    group by 1, 2, 3
)

select * from final
