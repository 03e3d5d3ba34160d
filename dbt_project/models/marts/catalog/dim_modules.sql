-- One row per module: its course, position and the modules it requires first (learning paths).
select module_id, course_id, module_position, module_title, prerequisite_module_ids
from {{ ref('stg_devmentor__modules') }}
