-- Rows refused at ingest, with file, row, field and reason (assets/ingest/validate.py).
with source as (
    select * from {{ source('lake', 'quarantine') }}
)

select entity, source_file, row_number, field, reason, errors, record, quarantined_at
from source
