-- One row per learner: the resolved time zone the learner's local days are counted in, and whether the
-- learner is left out of leaderboards (either opt-out).
select
    user_id,
    timezone,
    leaderboard_opt_out or analytics_opt_out as excluded
from {{ ref('stg_devmentor__profiles') }}
