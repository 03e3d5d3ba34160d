with source as (
    select * from {{ source('lake', 'courses') }}
),

renamed as (
    select course_id, title as course_title, subject, starts_at, ends_at, _ingested_at as ingested_at
    from source
)

select * from renamed
