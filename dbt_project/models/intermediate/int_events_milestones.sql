{{ config(
    materialized='incremental',
    incremental_strategy=window_strategy(),
    partition_by=window_partition('event_date'),
    pre_hook="{{ delete_incremental_window('event_date') }}"
) }}
-- One row per non-view, non-quiz event that marks progress or friction (grain: event):
-- module completions, hint requests, content flags, topic flags.
with events as (
    select * from {{ ref('stg_devmentor__events') }}
    where
        event_type in ('module_complete', 'hint_request', 'content_flag', 'topic_flag')
        and {{ in_incremental_window('event_date') }}
),

content as (
    select content_id, topic_id as content_topic_id from {{ ref('stg_devmentor__content_items') }}
),

final as (
    select
        e.event_id,
        e.user_id,
        e.event_type,
        e.event_at,
        e.event_date,
        e.session_id,
        e.course_id,
        e.module_id,
        e.content_id,
        coalesce(e.topic_id, c.content_topic_id) as topic_id,
        e.question_id,
        e.flag_reason
    from events as e
    left join content as c on c.content_id = e.content_id
)

select * from final
