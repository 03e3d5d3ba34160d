-- Early-warning features: one row per enrolment × snapshot day (int_enrolment_snapshot_days), computed
-- only from what was recorded by the end of that course day. Features transfer between courses: besides
-- counts, each learner is placed within the cohort of the same course on the same day (percentiles,
-- share of the cohort's median, assessments submitted vs due). No feature says how the enrolment ended.
-- Courses without a click stream have NULL click features (not zeros); the tree routes missing values.
with snapshots as (
    select * from {{ ref('int_enrolment_snapshot_days') }}
),

courses as (
    select course_id, starts_at, {{ day_index('starts_at', 'ends_at') }} as end_day
    from {{ ref('stg_devmentor__courses') }}
    where starts_at is not null and ends_at is not null
),

enrolments as (
    select user_id, course_id, prior_attempts, credits from {{ ref('stg_devmentor__enrolments') }}
),

events as (
    select
        ev.user_id,
        ev.course_id,
        {{ day_index('c.starts_at', 'ev.event_at') }} as course_day,
        ev.event_type,
        coalesce(ev.clicks, 1) as clicks,
        ev.content_id,
        ev.question_id,
        cast(ev.score as {{ type_double() }}) as score
    from {{ ref('stg_devmentor__events') }} as ev
    inner join courses as c on ev.course_id = c.course_id
),

course_has_clicks as (
    select distinct course_id from events where event_type = 'content_view'
),

questions as (
    select q.course_id, q.question_id, {{ day_index('c.starts_at', 'q.due_at') }} as due_day, coalesce(q.weight, 0) as weight
    from {{ ref('stg_devmentor__questions') }} as q
    inner join courses as c on q.course_id = c.course_id
    where q.due_at is not null
),

activity as (
    select
        s.user_id,
        s.course_id,
        s.snapshot_day,
        sum(e.clicks) as clicks_total,
        count(distinct e.course_day) as active_days,
        sum(case when e.course_day > s.snapshot_day - 14 then e.clicks else 0 end) as clicks_last_14d,
        sum(case when e.course_day <= s.snapshot_day - 14 and e.course_day > s.snapshot_day - 28 then e.clicks else 0 end)
            as clicks_prior_14d,
        sum(case when e.course_day < 0 then e.clicks else 0 end) as clicks_before_start,
        count(distinct e.content_id) as distinct_content,
        max(e.course_day) as last_active_day
    from snapshots as s
    inner join events as e
        on s.user_id = e.user_id and s.course_id = e.course_id and e.course_day <= s.snapshot_day
    where e.event_type = 'content_view'
    group by s.user_id, s.course_id, s.snapshot_day
),

due as (
    select s.course_id, s.snapshot_day, count(*) as assessments_due, sum(q.weight) as weight_due
    from (select distinct course_id, snapshot_day from snapshots) as s
    inner join questions as q on s.course_id = q.course_id and q.due_day <= s.snapshot_day
    group by s.course_id, s.snapshot_day
),

submissions as (
    select
        s.user_id,
        s.course_id,
        s.snapshot_day,
        count(distinct e.question_id) as assessments_submitted,
        count(distinct case when q.due_day <= s.snapshot_day then e.question_id end) as due_submitted,
        {{ exact_avg('e.score') }} as mean_score,
        min(e.score) as min_score,
        {{ exact_sum('e.score * q.weight') }} / nullif({{ exact_sum('q.weight') }}, 0) as weighted_score,
        sum(case when e.score < 0.4 then 1 else 0 end) as scores_below_pass,
        avg(greatest(e.course_day - q.due_day, 0)) as mean_days_late,
        {{ arg_max('e.score', 'e.course_day') }} as last_score,
        {{ exact_sum('case when q.due_day <= s.snapshot_day then e.score * q.weight else 0 end') }} as weighted_points
    from snapshots as s
    inner join events as e
        on s.user_id = e.user_id and s.course_id = e.course_id and e.course_day <= s.snapshot_day
    left join questions as q on e.question_id = q.question_id
    where e.event_type = 'quiz_attempt'
    group by s.user_id, s.course_id, s.snapshot_day
),

joined as (
    select
        s.user_id,
        s.course_id,
        s.snapshot_day,
        s.snapshot_name,
        s.snapshot_role,
        s.as_of_at,
        cast(s.snapshot_day as {{ type_double() }}) / nullif(c.end_day, 0) as course_progress,
        -s.enrolled_day as days_registered_before_start,
        e.prior_attempts,
        e.credits,
        case when h.course_id is not null then coalesce(a.clicks_total, 0) end as clicks_total,
        case when h.course_id is not null then coalesce(a.active_days, 0) end as active_days,
        case when h.course_id is not null then coalesce(a.clicks_last_14d, 0) end as clicks_last_14d,
        case when h.course_id is not null then coalesce(a.clicks_prior_14d, 0) end as clicks_prior_14d,
        case when h.course_id is not null then coalesce(a.clicks_before_start, 0) end as clicks_before_start,
        case when h.course_id is not null then coalesce(a.distinct_content, 0) end as distinct_content,
        case when h.course_id is not null then s.snapshot_day - coalesce(a.last_active_day, least(s.enrolled_day, 0) - 1) end
            as days_since_last_activity,
        coalesce(d.assessments_due, 0) as assessments_due,
        coalesce(sub.assessments_submitted, 0) as assessments_submitted,
        coalesce(d.assessments_due, 0) - coalesce(sub.due_submitted, 0) as assessments_missed,
        {{ safe_ratio('coalesce(sub.due_submitted, 0)', 'd.assessments_due') }} as share_due_submitted,
        sub.mean_score,
        sub.min_score,
        sub.weighted_score,
        sub.last_score,
        coalesce(sub.scores_below_pass, 0) as scores_below_pass,
        sub.mean_days_late,
        case when d.weight_due > 0 then coalesce(sub.weighted_points, 0) / d.weight_due end as share_of_due_points
    from snapshots as s
    inner join courses as c on s.course_id = c.course_id
    left join enrolments as e on s.user_id = e.user_id and s.course_id = e.course_id
    left join course_has_clicks as h on s.course_id = h.course_id
    left join activity as a on s.user_id = a.user_id and s.course_id = a.course_id and s.snapshot_day = a.snapshot_day
    left join due as d on s.course_id = d.course_id and s.snapshot_day = d.snapshot_day
    left join submissions as sub on s.user_id = sub.user_id and s.course_id = sub.course_id and s.snapshot_day = sub.snapshot_day
),

cohort as (
    select
        course_id,
        snapshot_day,
        snapshot_role,
        count(*) as cohort_size,
        {{ median('clicks_total') }} as cohort_median_clicks,
        {{ median('clicks_last_14d') }} as cohort_median_clicks_14d,
        {{ median('days_since_last_activity') }} as cohort_median_idle_days
    from joined
    group by course_id, snapshot_day, snapshot_role
)

select
    j.*,
    {{ safe_ratio('j.clicks_total', 'c.cohort_median_clicks') }} as clicks_vs_cohort_median,
    {{ safe_ratio('j.clicks_last_14d', 'c.cohort_median_clicks_14d') }} as recent_clicks_vs_cohort_median,
    j.days_since_last_activity - c.cohort_median_idle_days as idle_days_vs_cohort_median,
    case
        when j.clicks_total is not null
            then
                percent_rank() over (partition by j.course_id, j.snapshot_day, j.snapshot_role order by j.clicks_total)
    end
        as clicks_percentile,
    case
        when j.clicks_total is not null
            then
                percent_rank() over (partition by j.course_id, j.snapshot_day, j.snapshot_role order by j.active_days)
    end
        as active_days_percentile,
    case
        when j.weighted_score is not null
            then
                percent_rank() over (
                    partition by j.course_id, j.snapshot_day, j.snapshot_role
                    order by coalesce(j.share_of_due_points, j.weighted_score)
                )
    end
        as score_percentile,
    percent_rank() over (partition by j.course_id, j.snapshot_day, j.snapshot_role order by j.assessments_submitted)
        as submitted_percentile,
    c.cohort_size
from joined as j
inner join cohort as c
    on j.course_id = c.course_id and j.snapshot_day = c.snapshot_day and j.snapshot_role = c.snapshot_role
