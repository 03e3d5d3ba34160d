{{ config(
    materialized='incremental',
    incremental_strategy=window_strategy(),
    partition_by=window_partition('event_date'),
    pre_hook="{{ delete_incremental_window('event_date') }}"
) }}
-- One row per learner × UTC day with activity (grain: learner × day): event counts by kind.
with events as (
    select * from {{ ref('stg_devmentor__events') }}
    where {{ in_incremental_window('event_date') }}
),

final as (
    select
        user_id,
        event_date,
        count(*) as events,
        count(*) filter (where event_type = 'quiz_attempt') as quiz_attempts,
        count(*) filter (where event_type = 'content_view') as content_views,
        count(*) filter (where event_type = 'hint_request') as hint_requests,
        count(*) filter (where event_type = 'content_flag') as content_flags,
        count(*) filter (where event_type = 'topic_flag') as topic_flags,
        count(*) filter (where event_type = 'module_complete') as modules_completed,
        count(distinct session_id) as sessions,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from events
    group by user_id, event_date
)

select * from final
