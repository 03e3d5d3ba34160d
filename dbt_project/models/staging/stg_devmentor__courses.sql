with source as (
    select * from {{ source('lake', 'courses') }}
),

renamed as (
    select course_id, title as course_title, subject
    from source
)

select * from renamed
