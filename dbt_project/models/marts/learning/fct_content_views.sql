-- One row per view of a content item (the recommender's recent popularity counts them over a window before
-- the run's as-of).
{{ learner_incremental() }}
select user_id, content_id, event_id, event_at as viewed_at
from {{ ref('stg_devmentor__events') }}
where event_type = 'content_view' and content_id is not null and {{ for_changed_learners('user_id') }}
