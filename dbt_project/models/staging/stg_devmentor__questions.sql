with source as (
    select * from {{ source('lake', 'questions') }}
),

renamed as (
    select
        question_id, module_id, course_id, topic_id, skill_tag, objective_tag, cast(difficulty as decimal(9, 6)) as difficulty,
        due_at, cast(weight as {{ type_double() }}) as weight, _ingested_at as ingested_at
    from source
)

select * from renamed
