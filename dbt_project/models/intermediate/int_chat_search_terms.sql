{{ config(
    materialized='incremental',
    incremental_strategy=window_strategy(),
    partition_by=window_partition('event_date'),
    pre_hook="{{ delete_incremental_window('event_date') }}"
) }}
-- Inverted index of chat messages for full-text search (grain: message × term): term frequency and document length.
with messages as (
    select message_id, user_id, event_date, {{ search_terms('message_text') }} as terms
    from {{ ref('stg_devmentor__chat_messages') }}
    where {{ in_incremental_window('event_date') }}
),

final as (
    select message_id, user_id, event_date, term, count(*) as tf, any_value({{ list_len('terms') }}) as doc_len
    from (select message_id, user_id, event_date, terms, {{ unnest_list('terms') }} as term from messages) as m
    group by message_id, user_id, event_date, term
)

select * from final
