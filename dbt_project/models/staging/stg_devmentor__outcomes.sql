with source as (
    select * from {{ source('lake', 'outcomes') }}
),

renamed as (
    select
        user_id,
        course_id,
        final_result,
        result_at,
        final_result in ('fail', 'withdrawn') as at_risk
    from source
)

select * from renamed
