-- One row per content item: where it sits, its format and the skill it teaches (recommendations).
select content_id, module_id, course_id, topic_id, skill_tag, format, difficulty, content_position
from {{ ref('stg_devmentor__content_items') }}
