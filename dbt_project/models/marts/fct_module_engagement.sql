-- Course Engagement Tracker at its finest grain: one row per learner × course × module.
{{ learner_incremental() }}
with attempts as (
    select * from {{ ref('int_quiz_attempts_enriched') }} where {{ for_changed_learners('user_id') }}
),

views as (
    select * from {{ ref('int_content_views_sequenced') }} where {{ for_changed_learners('user_id') }}
),

milestones as (
    select * from {{ ref('int_events_milestones') }} where {{ for_changed_learners('user_id') }}
),

keys as (
    select distinct user_id, course_id, module_id from attempts
    union
    select distinct user_id, course_id, module_id from views where module_id is not null
),

attempt_agg as (
    select
        user_id,
        course_id,
        module_id,
        count(*) as quiz_attempts,
        count(distinct question_id) as distinct_questions,
        avg(score) as avg_score,
        {{ share_where("is_correct") }} as correct_rate,
        sum(retries) as total_retries,
        sum(case when hint_used then 1 else 0 end) as hint_used_count,
        avg(confidence) as avg_confidence,
        {{ pmi('score', 'hint_used', 'retries') }} as pmi,
        {{ record_list([
            ('question_id', 'question_id'), ('score', 'score'), ('skill_tag', 'skill_tag'), ('objective_tag', 'objective_tag'),
            ('retries', 'retries'), ('hint_used', 'hint_used'), ('attempted_at', 'event_at'),
        ], 'event_at, event_id') }} as quiz_attempts_log
    from attempts
    group by user_id, course_id, module_id
),

topic_agg as (
    select
        user_id, course_id, module_id,
        {{ map_agg('topic_id', 'round(topic_score, 4)') }} as topic_scores
    from (
        select user_id, course_id, module_id, topic_id, avg(score) as topic_score
        from attempts where topic_id is not null
        group by user_id, course_id, module_id, topic_id
    ) as per_topic
    group by user_id, course_id, module_id
),

skill_agg as (
    select
        user_id, course_id, module_id,
        {{ map_agg('skill_tag', 'skill_score') }} as skill_scores
    from (
        select user_id, course_id, module_id, skill_tag, {{ skill_score_0_10('score') }} as skill_score
        from attempts where skill_tag is not null
        group by user_id, course_id, module_id, skill_tag
    ) as per_skill
    group by user_id, course_id, module_id
),

view_agg as (
    select
        user_id, course_id, module_id,
        count(*) as content_views,
        sum(duration_s) as view_time_s,
        min(event_at) as first_seen_at
    from views
    group by user_id, course_id, module_id
),

flags as (
    select
        user_id, course_id, module_id,
        {{ distinct_sorted_list('topic_id', "event_type in ('topic_flag', 'content_flag') and topic_id is not null") }} as flagged_topics,
        max(case when event_type = 'module_complete' then event_at end) as completed_at
    from milestones
    where event_type in ('topic_flag', 'content_flag', 'module_complete')
    group by user_id, course_id, module_id
),

final as (
    select
        k.user_id,
        k.course_id,
        k.module_id,
        coalesce(a.quiz_attempts, 0) as quiz_attempts,
        coalesce(a.distinct_questions, 0) as distinct_questions,
        round(a.avg_score, 4) as avg_score,
        round(a.correct_rate, 4) as correct_rate,
        coalesce(a.total_retries, 0) as total_retries,
        coalesce(a.hint_used_count, 0) as hint_used_count,
        round(a.avg_confidence, 4) as avg_confidence,
        a.pmi,
        coalesce(a.quiz_attempts_log, {{ empty_record_list() }}) as quiz_attempts_log,
        t.topic_scores,
        s.skill_scores,
        coalesce(v.content_views, 0) as content_views,
        round(coalesce(v.view_time_s, 0) / 60.0, 2) as view_time_min,
        v.first_seen_at,
        f.completed_at,
        f.completed_at is not null as is_completed,
        coalesce(f.flagged_topics, {{ empty_list() }}) as flagged_topics
    from keys as k
    left join attempt_agg as a using (user_id, course_id, module_id)
    left join topic_agg as t using (user_id, course_id, module_id)
    left join skill_agg as s using (user_id, course_id, module_id)
    left join view_agg as v using (user_id, course_id, module_id)
    left join flags as f using (user_id, course_id, module_id)
)

select * from final
