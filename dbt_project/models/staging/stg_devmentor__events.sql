-- One row per interaction event, every source normalised once here.
-- Scores, confidence and durations are exact decimals so that aggregates do not depend on row order
-- (a rerun or an incremental build gives the same figures as a full build).
with source as (
    select * from {{ source('lake', 'events') }}
),

renamed as (
    select
        event_id,
        user_id,
        event_type,
        {{ ident('timestamp') }} as event_at,
        event_date,
        session_id,
        course_id,
        module_id,
        content_id,
        format,
        cast(duration_s as decimal(12, 3)) as duration_s,
        clicks,
        question_id,
        cast(score as decimal(9, 6)) as score,
        skill_tag,
        objective_tag,
        coalesce(retries, 0) as retries,
        coalesce(hint_used, false) as hint_used,
        cast(confidence as decimal(9, 6)) as confidence,
        topic_id,
        flag_reason,
        _source_file as source_file,
        _ingested_at as ingested_at
    from source
)

select * from renamed
