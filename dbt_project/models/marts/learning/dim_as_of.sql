-- depends_on: {{ ref('int_learner_daily_activity') }}
-- One row: the instant the marts were built as of (the as_of var, else the latest event), which the learning
-- engine and gamification take as the run's 'now' when none is stated.
select {{ as_of_ts() }} as as_of_at
