-- Learner Behavior Tracker: one row per learner, across all courses, as of the latest event (or var as_of).
with profiles as (
    select user_id, format_preference from {{ ref('stg_devmentor__profiles') }}
),

daily as (
    select * from {{ ref('int_learner_daily_activity') }}
),

milestones as (
    select * from {{ ref('int_events_milestones') }}
),

sessions as (
    select * from {{ ref('int_sessions_summarized') }}
),

views as (
    select * from {{ ref('int_content_views_sequenced') }}
),

attempts as (
    select * from {{ ref('int_quiz_attempts_enriched') }}
),

enrolments as (
    select * from {{ ref('stg_devmentor__enrolments') }}
),

as_of as (
    select {{ as_of_ts() }} as as_of_at
),

session_agg as (
    select
        user_id,
        count(*) as session_count,
        sum(duration_s) as total_time_s,
        avg(duration_s) as mean_session_s,
        count(distinct local_date) as active_days,
        {{ share_where("local_start_hour between 5 and 11") }} as share_morning,
        {{ share_where("local_start_hour between 12 and 16") }} as share_afternoon,
        {{ share_where("local_start_hour between 17 and 21") }} as share_evening,
        {{ share_where("local_start_hour >= 22 or local_start_hour < 5") }} as share_night
    from sessions
    group by user_id
),

peak_hour as (
    -- most frequent local start hour; ties go to the earliest hour
    select user_id, {{ arg_max('local_start_hour', 'sessions * 100 - local_start_hour') }} as peak_local_hour
    from (select user_id, local_start_hour, count(*) as sessions from sessions group by user_id, local_start_hour) as per_hour
    group by user_id
),

view_agg as (
    select
        user_id,
        count(*) as content_views,
        sum(case when format = 'video' then duration_s else 0 end) as video_time_s,
        sum(case when format = 'text' then duration_s else 0 end) as reading_time_s,
        sum(case when format = 'image' then duration_s else 0 end) as image_time_s,
        {{ share_where("is_path_deviation") }} as module_order_deviation_rate,
        count(distinct content_id) * 1.0 / count(*) as content_variety,
        {{ distinct_sorted_list('module_id', 'is_path_deviation') }} as deviated_modules
    from views
    group by user_id
),

format_time as (
    select user_id, {{ arg_max('format', 'seconds') }} as dominant_format
    from (
        select user_id, format, sum(duration_s) as seconds from views group by user_id, format
    ) as per_format
    group by user_id
),

attempt_agg as (
    select
        user_id,
        count(*) as quiz_attempts,
        avg(score) as avg_score,
        {{ share_where("is_correct") }} as correct_rate,
        sum(duration_s) as quiz_time_s,
        sum(case when hint_used then 1 else 0 end) as hinted_attempts,
        avg(retries) as avg_retries,
        avg(confidence) as avg_confidence,
        avg(confidence - score) as overconfidence,
        avg(difficulty) as avg_question_difficulty
    from attempts
    group by user_id
),

format_scores as (
    {{ format_performance(['user_id']) }}
),

event_agg as (
    select
        d.user_id,
        sum(d.events) as event_count,
        sum(d.hint_requests) as hint_requests,
        sum(d.content_flags) as content_flags,
        sum(d.topic_flags) as topic_flags,
        sum(d.modules_completed) as modules_completed,
        max(d.last_event_at) as last_activity_at,
        sum(case when d.event_date > cast(a.as_of_at as date) - interval '7 day' then d.events else 0 end) as events_last_7d,
        sum(case
            when
                d.event_date <= cast(a.as_of_at as date) - interval '7 day'
                and d.event_date > cast(a.as_of_at as date) - interval '21 day' then d.events
            else 0
        end) / 2.0 as events_prior_7d_avg
    from daily as d
    cross join as_of as a
    group by d.user_id
),

flag_reasons as (
    select user_id, {{ distinct_sorted_list('flag_reason') }} as content_flag_reasons
    from milestones
    where event_type = 'content_flag' and flag_reason is not null
    group by user_id
),

enrol_agg as (
    select user_id, count(distinct course_id) as total_courses, sum(case when is_withdrawn then 1 else 0 end) as courses_withdrawn
    from enrolments
    group by user_id
),

final as (
    select
        p.user_id,
        coalesce(en.total_courses, 0) as total_courses,
        coalesce(en.courses_withdrawn, 0) as courses_withdrawn,
        round(qa.avg_score, 4) as avg_score,
        round(qa.correct_rate, 4) as correct_rate,
        coalesce(qa.quiz_attempts, 0) as quiz_attempts,
        ft.dominant_format,
        cast(ev.last_activity_at as date) as last_activity_date,
        {{ days_between('cast(ev.last_activity_at as date)', 'cast(a.as_of_at as date)') }} as days_since_last_activity,
        round(coalesce(s.total_time_s, 0) / 60.0, 2) as total_time_spent_min,
        {{ record([
            ('quiz_time', 'round(coalesce(qa.quiz_time_s, 0) / 60.0, 2)'),
            ('video_time', 'round(coalesce(v.video_time_s, 0) / 60.0, 2)'),
            ('reading_time', 'round(coalesce(v.reading_time_s, 0) / 60.0, 2)'),
            ('image_time', 'round(coalesce(v.image_time_s, 0) / 60.0, 2)'),
            ('hint_usage_count', 'coalesce(ev.hint_requests, 0)'),
        ]) }} as content_type_engagement,
        round(coalesce(qa.quiz_time_s, 0) / 60.0, 2) as quiz_time_min,
        round(coalesce(v.video_time_s, 0) / 60.0, 2) as video_time_min,
        round(coalesce(v.reading_time_s, 0) / 60.0, 2) as reading_time_min,
        round(coalesce(v.image_time_s, 0) / 60.0, 2) as image_time_min,
        coalesce(ev.hint_requests, 0) as hint_usage_count,
        {{ safe_ratio('qa.hinted_attempts', 'qa.quiz_attempts') }} as hint_rate,
        round(coalesce(v.module_order_deviation_rate, 0), 4) as module_order_deviation_rate,
        coalesce(v.deviated_modules, {{ empty_list() }}) as module_order_log,
        round(s.mean_session_s / 60.0, 2) as retention_span_min,
        coalesce(s.session_count, 0) as session_count,
        coalesce(s.active_days, 0) as active_days,
        {{ record([
            ('morning', 'round(coalesce(s.share_morning, 0), 3)'),
            ('afternoon', 'round(coalesce(s.share_afternoon, 0), 3)'),
            ('evening', 'round(coalesce(s.share_evening, 0), 3)'),
            ('night', 'round(coalesce(s.share_night, 0), 3)'),
        ]) }} as active_time_distribution,
        ph.peak_local_hour,
        round(0.5 * coalesce(v.module_order_deviation_rate, 0) + 0.5 * coalesce(v.content_variety, 0), 4) as exploratory_behavior_score,
        coalesce(ev.content_flags, 0) as content_flags,
        coalesce(fr.content_flag_reasons, {{ empty_list() }}) as content_flag_reasons,
        coalesce(ev.topic_flags, 0) as topic_flags,
        coalesce(ev.modules_completed, 0) as modules_completed,
        coalesce(ev.event_count, 0) as event_count,
        round(qa.avg_retries, 3) as avg_retries,
        round(qa.avg_confidence, 4) as avg_confidence,
        round(qa.overconfidence, 4) as overconfidence,
        round(qa.avg_question_difficulty, 4) as avg_question_difficulty,
        coalesce(ev.events_last_7d, 0) as events_last_7d,
        round(coalesce(ev.events_last_7d, 0) / (coalesce(ev.events_prior_7d_avg, 0) + 1.0), 4) as activity_trend,
        round(fs.preferred_format_score, 4) as preferred_format_score,
        round(fs.best_other_format_score, 4) as best_other_format_score,
        round(fs.preferred_format_score - fs.best_other_format_score, 4) as format_performance_gap,
        {{ format_mismatch('fs') }} as format_performance_mismatch,
        a.as_of_at
    from profiles as p
    cross join as_of as a
    left join session_agg as s on s.user_id = p.user_id
    left join peak_hour as ph on ph.user_id = p.user_id
    left join view_agg as v on v.user_id = p.user_id
    left join format_time as ft on ft.user_id = p.user_id
    left join attempt_agg as qa on qa.user_id = p.user_id
    left join format_scores as fs on fs.user_id = p.user_id
    left join event_agg as ev on ev.user_id = p.user_id
    left join flag_reasons as fr on fr.user_id = p.user_id
    left join enrol_agg as en on en.user_id = p.user_id
)

select * from final
