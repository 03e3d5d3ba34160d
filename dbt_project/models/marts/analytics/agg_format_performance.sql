-- Format usage vs performance per course (grain: course × study format): attempts after studying in a format and their mean score.
with perf as (
    select * from {{ ref('int_format_performance') }}
),

final as (
    select
        course_id,
        study_format,
        count(distinct user_id) as learners,
        sum(attempts) as attempts,
        round(sum(score_sum) / sum(attempts), 4) as mean_score
    from perf
    group by course_id, study_format
)

select * from final
