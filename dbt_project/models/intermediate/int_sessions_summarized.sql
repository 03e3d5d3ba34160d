{{ config(
    materialized='incremental',
    incremental_strategy=window_strategy(),
    partition_by=window_partition('session_date'),
    pre_hook="{{ delete_incremental_window('session_date', lookback_days=1) }}"
) }}
-- One row per learner session: start, end, duration, local time of day (learner's time zone) and the session's main format.
with events as (
    select * from {{ ref('stg_devmentor__events') }}
    where {{ in_incremental_window('event_date', lookback_days=1, upper_slack_days=1, target_col='session_date', lower_slack_days=1) }}
),

profiles as (
    select user_id, timezone from {{ ref('stg_devmentor__profiles') }}
),

view_formats as (
    select session_id, user_id, format, sum(duration_s) as format_seconds
    from events
    where event_type = 'content_view' and format is not null
    group by session_id, user_id, format
),

session_format as (
    select session_id, user_id, {{ arg_max('format', 'format_seconds') }} as session_format
    from view_formats
    group by session_id, user_id
),

sessions as (
    select
        user_id,
        session_id,
        {{ arg_min('course_id', 'event_at') }} as course_id,
        min(event_at) as started_at,
        min(event_date) as session_date,
        max(event_at) as ended_at,
        max(case when event_type = 'session_end' then duration_s end) as reported_duration_s,
        count(*) as event_count
    from events
    group by user_id, session_id
),

final as (
    select
        s.user_id,
        s.session_id,
        s.course_id,
        s.started_at,
        s.session_date,
        s.ended_at,
        coalesce(s.reported_duration_s, cast({{ seconds_between('s.started_at', 's.ended_at') }} as decimal(12, 3))) as duration_s,
        s.event_count,
        f.session_format,
        cast(extract(hour from {{ local_time('s.started_at', "coalesce(p.timezone, 'UTC')") }}) as bigint) as local_start_hour,
        {{ local_date('s.started_at', 'p.timezone') }} as local_date
    from sessions as s
    left join profiles as p on p.user_id = s.user_id
    left join session_format as f on f.session_id = s.session_id and f.user_id = s.user_id
    where {{ in_incremental_window('s.session_date', lookback_days=1, target_col='session_date') }}
)

select * from final
