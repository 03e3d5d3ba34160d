-- One row per course: its title, subject and calendar (the tutor prompt names the course it is about).
select course_id, course_title, subject, starts_at, ends_at
from {{ ref('stg_devmentor__courses') }}
