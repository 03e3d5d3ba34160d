-- One row per interaction event, every source normalised once here.
with source as (
    select * from {{ source('lake', 'events') }}
),

renamed as (
    select
        event_id,
        user_id,
        event_type,
        "timestamp" as event_at,
        event_date,
        session_id,
        course_id,
        module_id,
        content_id,
        format,
        duration_s,
        question_id,
        score,
        skill_tag,
        objective_tag,
        coalesce(retries, 0) as retries,
        coalesce(hint_used, false) as hint_used,
        confidence,
        topic_id,
        flag_reason,
        _source_file as source_file
    from source
)

select * from renamed
