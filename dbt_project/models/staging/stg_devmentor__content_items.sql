with source as (
    select * from {{ source('lake', 'content_items') }}
),

renamed as (
    select
        content_id,
        module_id,
        course_id,
        kind as content_kind,
        format,
        topic_id,
        skill_tag,
        difficulty,
        position as content_position,
        _ingested_at as ingested_at
    from source
)

select * from renamed
