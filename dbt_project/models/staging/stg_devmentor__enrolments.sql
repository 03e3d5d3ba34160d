with source as (
    select * from {{ source('lake', 'enrolments') }}
),

renamed as (
    select
        user_id,
        course_id,
        enrolled_at,
        withdrawn_at,
        withdrawn_at is not null as is_withdrawn,
        prior_attempts,
        credits,
        _ingested_at as ingested_at
    from source
)

select * from renamed
