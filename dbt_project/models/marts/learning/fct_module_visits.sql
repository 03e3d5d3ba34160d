-- One row per event in a module, with the module the learner was in just before (null for the first, equal
-- for a stay): the recommender's where-the-learner-works and the moves learners really make between modules.
-- The previous module looks only backwards, so filtering on visited_at <= an as-of gives the moves of the
-- data known at that as-of.
{{ learner_incremental() }}
select
    user_id,
    course_id,
    module_id,
    event_id,
    event_at as visited_at,
    lag(module_id) over (partition by user_id order by event_at, event_id) as from_module
from {{ ref('stg_devmentor__events') }}
where module_id is not null and {{ for_changed_learners('user_id') }}
