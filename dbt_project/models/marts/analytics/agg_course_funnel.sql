-- Completion funnel per course (grain: course × stage): how many enrolled learners reached each stage.
with enrolments as (
    select distinct user_id, course_id from {{ ref('stg_devmentor__enrolments') }}
),

events as (
    select user_id, course_id, event_type, module_id from {{ ref('stg_devmentor__events') }}
    where course_id is not null
),

modules_per_course as (
    select course_id, count(*) as modules from {{ ref('stg_devmentor__modules') }} group by course_id
),

per_learner as (
    select
        e.course_id,
        e.user_id,
        count(ev.event_type) > 0 as started,
        count(*) filter (where ev.event_type = 'quiz_attempt') > 0 as attempted_quiz,
        count(distinct ev.module_id) filter (where ev.event_type = 'module_complete') as modules_completed
    from enrolments as e
    left join events as ev on ev.user_id = e.user_id and ev.course_id = e.course_id
    group by e.course_id, e.user_id
),

stages as (
    select p.course_id, 1 as stage_order, 'enrolled' as stage, count(*) as learners from per_learner p group by p.course_id
    union all
    select p.course_id, 2 as stage_order, 'started' as stage, count(*) filter (where p.started) as learners from per_learner p group by p.course_id
    union all
    select p.course_id, 3 as stage_order, 'attempted_quiz' as stage, count(*) filter (where p.attempted_quiz) as learners from per_learner p group by p.course_id
    union all
    select p.course_id, 4 as stage_order, 'completed_a_module' as stage, count(*) filter (where p.modules_completed >= 1) as learners
    from per_learner p group by p.course_id
    union all
    select p.course_id, 5 as stage_order, 'completed_course' as stage, count(*) filter (where p.modules_completed >= m.modules) as learners
    from per_learner p join modules_per_course m using (course_id) group by p.course_id
),

final as (
    select
        s.course_id,
        s.stage_order,
        s.stage,
        s.learners,
        round(cast(s.learners as {{ type_double() }}) / nullif(first_value(s.learners) over (partition by s.course_id order by s.stage_order), 0), 4) as share_of_enrolled
    from stages as s
)

select * from final
