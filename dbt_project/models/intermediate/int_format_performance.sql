-- Quiz performance per learner × course × study format (grain: learner × course × format); the marts
-- compare the learner's stated preferred format with the formats they actually do well in.
with attempts as (
    select * from {{ ref('int_quiz_attempts_enriched') }}
    where study_format is not null
),

final as (
    select user_id, course_id, study_format, count(*) as attempts, sum(score) as score_sum
    from attempts
    group by user_id, course_id, study_format
)

select * from final
