-- Course Engagement Tracker: one row per learner × course (enrolled, or active in the course).
{{ learner_incremental() }}
with attempts as (
    select * from {{ ref('int_quiz_attempts_enriched') }} where {{ for_changed_learners('user_id') }}
),

sessions as (
    select * from {{ ref('int_sessions_summarized') }} where {{ for_changed_learners('user_id') }}
),

modules as (
    select * from {{ ref('fct_module_engagement') }} where {{ for_changed_learners('user_id') }}
),

enrolments as (
    select * from {{ ref('stg_devmentor__enrolments') }} where {{ for_changed_learners('user_id') }}
),

course_modules as (
    select course_id, count(*) as modules_in_course from {{ ref('stg_devmentor__modules') }} group by course_id
),

keys as (
    select user_id, course_id from enrolments
    union
    select distinct user_id, course_id from sessions where course_id is not null
),

ranked_attempts as (
    select
        *,
        row_number() over (partition by user_id, course_id order by event_at, event_id) as attempt_no,
        count(*) over (partition by user_id, course_id) as attempt_total
    from attempts
),

attempt_agg as (
    select
        user_id,
        course_id,
        count(*) as quiz_attempts,
        avg(score) as avg_score,
        {{ share_where("is_correct") }} as correct_rate,
        sum(retries) as total_retries,
        sum(case when hint_used then 1 else 0 end) as hint_used_count,
        {{ pmi('score', 'hint_used', 'retries') }} as pmi,
        avg(case when attempt_no > attempt_total / 2.0 then confidence end)
        - avg(case when attempt_no <= attempt_total / 2.0 then confidence end) as confidence_trend
    from ranked_attempts
    group by user_id, course_id
),

topic_stats as (
    select
        user_id, course_id, topic_id,
        avg(score) as topic_score,
        avg(confidence) as topic_confidence,
        -- no slope (not NaN) from fewer than two attempts at distinct positions
        case when regr_sxx(confidence, attempt_no) > 0 then regr_slope(confidence, attempt_no) end as topic_confidence_slope,
        count(*) as attempts,
        count(*) - count(distinct question_id) as repeated_questions,
        sum(retries) as retries
    from ranked_attempts
    where topic_id is not null
    group by user_id, course_id, topic_id
),

topic_agg as (
    select
        user_id, course_id,
        {{ map_agg('topic_id', 'round(topic_score, 4)') }} as topic_scores,
        {{ map_agg('topic_id', 'round(topic_confidence, 4)') }} as confidence_score_by_topic,
        {{ map_agg('topic_id', 'round(coalesce(topic_confidence_slope, 0), 5)') }} as confidence_score_trends,
        {{ ordered_list('topic_id', 'topic_id', where='repeated_questions > 0 or retries > 0') }} as redo_topics
    from topic_stats
    group by user_id, course_id
),

skill_agg as (
    select
        user_id, course_id,
        {{ map_agg('skill_tag', 'skill_score') }} as skill_scores
    from (
        select user_id, course_id, skill_tag, {{ skill_score_0_10('score') }} as skill_score
        from attempts where skill_tag is not null
        group by user_id, course_id, skill_tag
    ) as per_skill
    group by user_id, course_id
),

format_agg as (
    {{ format_performance(['user_id', 'course_id']) }}
),

session_agg as (
    select
        user_id, course_id,
        count(*) as sessions,
        sum(duration_s) as time_spent_s,
        max(ended_at) as last_activity_at,
        {{ record_list([
            ('session_id', 'session_id'), ('started_at', 'started_at'), ('duration_min', 'round(duration_s / 60.0, 2)'),
            ('events', 'event_count'), ('format', 'session_format'),
        ], 'started_at, session_id') }} as session_logs
    from sessions
    group by user_id, course_id
),

module_agg as (
    select
        user_id, course_id,
        count(*) filter (where is_completed) as modules_completed,
        {{ distinct_sorted_list('t', 't is not null') }} as flagged_topics
    from (select user_id, course_id, is_completed, {{ unnest_or_null('flagged_topics') }} as t from modules) as m
    group by user_id, course_id
),

final as (
    select
        k.user_id,
        k.course_id,
        coalesce(e.is_withdrawn, false) as is_withdrawn,
        coalesce(a.quiz_attempts, 0) as quiz_attempts,
        round(a.avg_score, 4) as avg_score,
        round(a.correct_rate, 4) as correct_rate,
        coalesce(a.total_retries, 0) as total_retries,
        coalesce(a.hint_used_count, 0) as hint_used_count,
        a.pmi,
        t.topic_scores,
        t.confidence_score_by_topic,
        t.confidence_score_trends,
        round(a.confidence_trend, 4) as confidence_trend,
        coalesce(t.redo_topics, {{ empty_list() }}) as redo_topics,
        s.skill_scores,
        coalesce(m.flagged_topics, {{ empty_list() }}) as flagged_topics,
        coalesce(m.modules_completed, 0) as modules_completed,
        round(coalesce(m.modules_completed, 0) * 1.0 / nullif(cm.modules_in_course, 0), 4) as completion_rate,
        coalesce(ss.sessions, 0) as sessions,
        round(coalesce(ss.time_spent_s, 0) / 60.0, 2) as time_spent_min,
        ss.last_activity_at,
        coalesce(ss.session_logs, {{ empty_record_list() }}) as session_logs,
        round(f.preferred_format_score, 4) as preferred_format_score,
        round(f.best_other_format_score, 4) as best_other_format_score,
        {{ format_mismatch('f') }} as format_performance_mismatch
    from keys as k
    left join enrolments as e using (user_id, course_id)
    left join attempt_agg as a using (user_id, course_id)
    left join topic_agg as t using (user_id, course_id)
    left join skill_agg as s using (user_id, course_id)
    left join format_agg as f using (user_id, course_id)
    left join session_agg as ss using (user_id, course_id)
    left join module_agg as m using (user_id, course_id)
    left join course_modules as cm using (course_id)
)

select * from final
