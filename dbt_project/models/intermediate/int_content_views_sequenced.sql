-- One row per content view, with the module the learner was expected to be on (1 + modules completed in that course so far)
-- and whether the view deviates from that path.
with events as (
    select * from {{ ref('stg_devmentor__events') }}
    where event_type in ('content_view', 'module_complete')
),

modules as (
    select module_id, module_position from {{ ref('stg_devmentor__modules') }}
),

ordered as (
    select
        e.*,
        m.module_position,
        sum(case when e.event_type = 'module_complete' then 1 else 0 end) over (
            partition by e.user_id, e.course_id
            order by e.event_at, e.event_id
            rows between unbounded preceding and 1 preceding
        ) as completed_before
    from events as e
    left join modules as m on m.module_id = e.module_id
),

final as (
    select
        event_id,
        user_id,
        session_id,
        course_id,
        module_id,
        content_id,
        format,
        duration_s,
        event_at,
        module_position,
        coalesce(completed_before, 0) + 1 as expected_module_position,
        module_position is not null and module_position <> coalesce(completed_before, 0) + 1 as is_path_deviation
    from ordered
    where event_type = 'content_view'
)

select * from final
