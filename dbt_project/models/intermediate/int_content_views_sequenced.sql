{{ config(
    materialized='incremental',
    incremental_strategy=window_strategy(),
    partition_by=window_partition('event_date'),
    pre_hook="{{ delete_incremental_window('event_date') }}"
) }}
-- One row per content view, with the module the learner was expected to be on (1 + modules completed in that
-- course before the view, over the learner's whole history) and whether the view deviates from that path.
with views as (
    select * from {{ ref('stg_devmentor__events') }}
    where event_type = 'content_view' and {{ in_incremental_window('event_date') }}
),

completions as (
    select
        user_id,
        course_id,
        event_at,
        row_number() over (partition by user_id, course_id order by event_at, event_id) as completed_so_far
    from {{ ref('int_events_milestones') }}
    where event_type = 'module_complete'
),

modules as (
    select module_id, module_position from {{ ref('stg_devmentor__modules') }}
),

sequenced as (
    select
        v.*,
        m.module_position,
        coalesce(c.completed_so_far, 0) + 1 as expected_module_position
    from views as v
    left join modules as m on m.module_id = v.module_id
    {% if target.type == 'duckdb' -%}
    asof left join completions as c
        on c.user_id = v.user_id and c.course_id = v.course_id and v.event_at > c.event_at
    {%- elif target.type == 'spark' -%}
    -- the latest completion before the view: its running number is the largest one before the view
    left join (
        select v2.event_id, max(c2.completed_so_far) as completed_so_far
        from views as v2
        inner join completions as c2
            on c2.user_id = v2.user_id and c2.course_id = v2.course_id and c2.event_at < v2.event_at
        group by v2.event_id
    ) as c on c.event_id = v.event_id
    {%- else -%}
    -- the latest completion before the view (what DuckDB's ASOF join does)
    left join lateral (
        select c.completed_so_far from completions as c
        where c.user_id = v.user_id and c.course_id = v.course_id and c.event_at < v.event_at
        order by c.event_at desc, c.completed_so_far desc
        limit 1
    ) as c on true
    {%- endif %}
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
        event_date,
        module_position,
        expected_module_position,
        module_position is not null and module_position <> expected_module_position as is_path_deviation
    from sequenced
)

select * from final
