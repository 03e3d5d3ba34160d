-- Quiz accuracy per learner and study format over all courses (the recommender's format fit).
select
    user_id,
    study_format as format,
    sum(attempts) as attempts,
    sum(score_sum) / sum(attempts) as accuracy
from {{ ref('int_format_performance') }}
group by user_id, study_format
