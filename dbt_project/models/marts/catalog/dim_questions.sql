-- One row per question: where it sits and what it tests ('7;9' = several skills; split in the engine).
select question_id, module_id, course_id, topic_id, skill_tag, cast(difficulty as {{ type_double() }}) as difficulty
from {{ ref('stg_devmentor__questions') }}
