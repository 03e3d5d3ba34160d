{# Model-level test: fails for every non-null value the input contract does not allow, in every field of the
   entity that has allowed values (devmentor/ingest/contract.py, through the generated macro contract_values).
   entity defaults to the staging model's name without `stg_devmentor__`; renamed maps a contract field to
   the model's column where staging renames it. A field the contract lists must be in the model.
   (At parse time `model` is not yet the relation, so the query is only built when executing.) #}
{% test in_contract(model, entity=none, renamed={}) %}
{%- if execute -%}
{%- set entity = entity or (model.identifier | replace('stg_devmentor__', '')) -%}
{%- set fields = contract_values(entity) -%}
{%- if not fields -%}
  {{ exceptions.raise_compiler_error('in_contract: the input contract has no allowed values for entity ' ~ entity) }}
{%- endif -%}
{%- for field, allowed in fields.items() %}
{%- set column = renamed.get(field, field) %}
select '{{ field }}' as field, cast({{ column }} as {{ dbt.type_string() }}) as value
from {{ model }}
where {{ column }} is not null
  and {{ column }} not in ({% for v in allowed %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{%- else -%}
select 1 as field
{%- endif -%}
{% endtest %}
