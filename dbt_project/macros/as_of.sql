{# The timestamp features are computed as of: var('as_of'), else $DEVMENTOR_AS_OF (the run's as-of instant:
   a replay day or a partition day, set by the pipeline), else the latest event. #}
{% macro as_of_value() -%}
    {{- return(var('as_of', none) or env_var('DEVMENTOR_AS_OF', '')) -}}
{%- endmacro %}

{% macro as_of_ts() -%}
    {%- if as_of_value() -%}
        cast('{{ as_of_value() }}' as {{ type_timestamptz() }})
    {%- else -%}
        {#- no events at all: a fixed instant, never the wall clock (nothing is time-dependent then) #}
        (select coalesce(max(last_event_at), cast('1970-01-01 00:00:00+00:00' as {{ type_timestamptz() }})) from {{ ref('int_learner_daily_activity') }})
    {%- endif -%}
{%- endmacro %}

{# Share of a in b, null-safe, rounded. #}
{% macro safe_ratio(a, b, digits=4) -%}
    round(cast({{ a }} as {{ type_double() }}) / nullif(cast({{ b }} as {{ type_double() }}), 0), {{ digits }})
{%- endmacro %}

{# Whole days from start to ts (day 0 = the first 24 hours from start; negative before it). #}
{% macro day_index(start, ts) -%}{{ return(adapter.dispatch('day_index')(start, ts)) }}{%- endmacro %}
{% macro default__day_index(start, ts) -%}
    cast(floor((epoch({{ ts }}) - epoch({{ start }})) / 86400.0) as integer)
{%- endmacro %}
{% macro postgres__day_index(start, ts) -%}
    cast(floor(extract(epoch from ({{ ts }} - {{ start }})) / 86400.0) as integer)
{%- endmacro %}
{% macro spark__day_index(start, ts) -%}
    cast(floor((unix_micros({{ ts }}) - unix_micros({{ start }})) / 86400000000.0d) as integer)
{%- endmacro %}
