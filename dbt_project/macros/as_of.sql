{# The timestamp features are computed as of: var('as_of') or the latest event. #}
{% macro as_of_ts() -%}
    {%- if var('as_of') -%}
        cast('{{ var("as_of") }}' as timestamptz)
    {%- else -%}
        (select coalesce(max(last_event_at), now()) from {{ ref('int_learner_daily_activity') }})
    {%- endif -%}
{%- endmacro %}

{# Share of a in b, null-safe, rounded. #}
{% macro safe_ratio(a, b, digits=4) -%}
    round(cast({{ a }} as double precision) / nullif(cast({{ b }} as double precision), 0), {{ digits }})
{%- endmacro %}
