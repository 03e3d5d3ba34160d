{#
  A learner's time zone, resolved once (stg_devmentor__profiles): an IANA name every engine knows, else UTC,
  the contract's documented default. The names are pytz's (dbt's Jinja context carries it, pinned with
  dbt-core), a subset of what DuckDB (ICU), PostgreSQL and Spark (Java tzdb) accept, so a misspelt or legacy
  zone in a profile reads as UTC on all three instead of failing the build ("Unknown TimeZone").
#}
{% macro known_time_zones() -%}
    {%- for name in modules.pytz.all_timezones %}'{{ name }}'{% if not loop.last %}, {% endif %}{% endfor -%}
{%- endmacro %}

{% macro resolved_time_zone(expr) -%}
    case when trim({{ expr }}) in ({{ known_time_zones() }}) then trim({{ expr }}) else 'UTC' end
{%- endmacro %}

{# The learner's local calendar day of a timestamp, given the learner's resolved time zone. #}
{% macro local_date(ts, tz) -%}
    cast({{ local_time(ts, "coalesce(" ~ tz ~ ", 'UTC')") }} as date)
{%- endmacro %}
