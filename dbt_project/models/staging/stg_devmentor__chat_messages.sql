with source as (
    select * from {{ source('lake', 'chat_messages') }}
),

renamed as (
    select
        message_id,
        user_id,
        session_id,
        {{ ident('timestamp') }} as sent_at,
        event_date,
        message_direction,
        message_text,
        course_id,
        contextual_topic_id,
        related_skill,
        related_objective,
        coalesce(hint_used, false) as hint_used,
        case
            when feedback_flags is null or trim(feedback_flags) = '' then {{ empty_list() }}
            else {{ split_list('feedback_flags', ';') }}
        end as feedback_flags,
        case
            when searchable_tags is null or trim(searchable_tags) = '' then {{ empty_list() }}
            else {{ split_list('searchable_tags', ';') }}
        end as searchable_tags,
        _ingested_at as ingested_at
    from source
)

select * from renamed
