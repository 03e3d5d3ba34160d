-- The learner's weakest topics: at least 3 scored quiz attempts on the topic and a mean score below 0.7,
-- the three lowest per learner (ties by topic id), ranked 1-3. The tutor prompt names them.
with topic_scores as (
    select user_id, topic_id, avg(score) as topic_score, count(*) as attempts
    from {{ ref('int_quiz_attempts_enriched') }}
    where topic_id is not null
    group by user_id, topic_id
    having count(*) >= 3 and avg(score) < 0.7
),

ranked as (
    select *, row_number() over (partition by user_id order by topic_score, topic_id) as weak_rank
    from topic_scores
)

select user_id, topic_id, topic_score, attempts, weak_rank
from ranked
where weak_rank <= 3
