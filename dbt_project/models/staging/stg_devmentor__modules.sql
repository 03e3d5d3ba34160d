with source as (
    select * from {{ source('lake', 'modules') }}
),

renamed as (
    select
        module_id,
        course_id,
        position as module_position,
        title as module_title,
        case
            when prerequisites is null or trim(prerequisites) = '' then {{ empty_list() }}
            else {{ split_trimmed('prerequisites', ';') }}
        end as prerequisite_module_ids,
        _ingested_at as ingested_at
    from source
)

select * from renamed
