-- One row per instructor annotation of a learner's segment (the segment tree learns from these when enough exist).
select user_id, segment, labelled_by, labelled_at
from {{ ref('stg_devmentor__learner_labels') }}
