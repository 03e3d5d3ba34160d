with source as (
    select * from {{ source('lake', 'learner_labels') }}
),

renamed as (
    select user_id, segment, labelled_by, labelled_at
    from source
)

select * from renamed
