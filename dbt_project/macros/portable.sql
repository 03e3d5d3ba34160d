{#
  Portable SQL: the few constructs DuckDB and PostgreSQL spell differently, dispatched on the adapter
  (adapter.dispatch picks <adapter>__<name>, else default__<name>). Everything else in the models is
  written in the syntax both accept (array_agg, extract(...), at time zone, = any(...), interval '1 day').
  Lists are arrays on both; records (structs on DuckDB) and maps are jsonb on PostgreSQL.
#}

{# on-run-start: helper functions PostgreSQL lacks (round(double precision, int)). #}
{% macro portable_setup() -%}{{ return(adapter.dispatch('portable_setup')()) }}{%- endmacro %}
{% macro default__portable_setup() -%}select 1{%- endmacro %}
{% macro postgres__portable_setup() -%}
    create or replace function public.round(double precision, integer) returns double precision
        language sql immutable parallel safe as $$ select round($1::numeric, $2)::double precision $$
{%- endmacro %}

{# Number of elements of a list (0 for an empty list). #}
{% macro list_len(expr) -%}{{ return(adapter.dispatch('list_len')(expr)) }}{%- endmacro %}
{% macro default__list_len(expr) -%}len({{ expr }}){%- endmacro %}
{% macro postgres__list_len(expr) -%}coalesce(cardinality({{ expr }}), 0){%- endmacro %}

{# A delimited string as a list of trimmed parts. #}
{% macro split_trimmed(expr, sep) -%}{{ return(adapter.dispatch('split_trimmed')(expr, sep)) }}{%- endmacro %}
{% macro default__split_trimmed(expr, sep) -%}list_transform(string_split({{ expr }}, '{{ sep }}'), lambda p: trim(p)){%- endmacro %}
{% macro postgres__split_trimmed(expr, sep) -%}
    array(select trim(p) from unnest(string_to_array({{ expr }}, '{{ sep }}')) with ordinality as u(p, i) order by i)
{%- endmacro %}

{# The value of the row with the largest / smallest key in the group (rows with a null key ignored). #}
{% macro arg_max(value, key) -%}{{ return(adapter.dispatch('arg_max')(value, key)) }}{%- endmacro %}
{% macro default__arg_max(value, key) -%}arg_max({{ value }}, {{ key }}){%- endmacro %}
{% macro postgres__arg_max(value, key) -%}
    (array_agg({{ value }} order by {{ key }} desc) filter (where {{ key }} is not null))[1]
{%- endmacro %}
{% macro arg_min(value, key) -%}{{ return(adapter.dispatch('arg_min')(value, key)) }}{%- endmacro %}
{% macro default__arg_min(value, key) -%}arg_min({{ value }}, {{ key }}){%- endmacro %}
{% macro postgres__arg_min(value, key) -%}
    (array_agg({{ value }} order by {{ key }}) filter (where {{ key }} is not null))[1]
{%- endmacro %}

{# A record from (name, expression) pairs: a struct on DuckDB, a jsonb object on PostgreSQL. #}
{% macro record(fields) -%}{{ return(adapter.dispatch('record')(fields)) }}{%- endmacro %}
{% macro default__record(fields) -%}
    { {%- for name, expr in fields -%}'{{ name }}': {{ expr }}{% if not loop.last %}, {% endif %}{%- endfor -%} }
{%- endmacro %}
{% macro postgres__record(fields) -%}
    jsonb_build_object({%- for name, expr in fields -%}'{{ name }}', {{ expr }}{% if not loop.last %}, {% endif %}{%- endfor -%})
{%- endmacro %}

{# Aggregate: the group's records as a list, ordered. #}
{% macro record_list(fields, order_by) -%}{{ return(adapter.dispatch('record_list')(fields, order_by)) }}{%- endmacro %}
{% macro default__record_list(fields, order_by) -%}list({{ record(fields) }} order by {{ order_by }}){%- endmacro %}
{% macro postgres__record_list(fields, order_by) -%}jsonb_agg({{ record(fields) }} order by {{ order_by }}){%- endmacro %}

{# An empty list of records (for coalesce). #}
{% macro empty_record_list() -%}{{ return(adapter.dispatch('empty_record_list')()) }}{%- endmacro %}
{% macro default__empty_record_list() -%}[]{%- endmacro %}
{% macro postgres__empty_record_list() -%}'[]'::jsonb{%- endmacro %}

{# Aggregate: a key → value map of the group, keys in order. #}
{% macro map_agg(key, value) -%}{{ return(adapter.dispatch('map_agg')(key, value)) }}{%- endmacro %}
{% macro default__map_agg(key, value) -%}
    map_from_entries(list({'key': {{ key }}, 'value': {{ value }}} order by {{ key }}))
{%- endmacro %}
{% macro postgres__map_agg(key, value) -%}jsonb_object_agg({{ key }}, {{ value }} order by {{ key }}){%- endmacro %}

{# Every match of a regular expression (no capture groups) in a text, as a list. #}
{% macro regexp_all(text, pattern) -%}{{ return(adapter.dispatch('regexp_all')(text, pattern)) }}{%- endmacro %}
{% macro default__regexp_all(text, pattern) -%}regexp_extract_all({{ text }}, '{{ pattern }}'){%- endmacro %}
{% macro postgres__regexp_all(text, pattern) -%}
    array(select m[1] from regexp_matches({{ text }}, '{{ pattern }}', 'g') with ordinality as r(m, i) order by i)
{%- endmacro %}

{# Whether a text contains a match of a regular expression; \b is a word boundary on both. #}
{% macro regexp_contains(text, pattern) -%}{{ return(adapter.dispatch('regexp_contains')(text, pattern)) }}{%- endmacro %}
{% macro default__regexp_contains(text, pattern) -%}regexp_matches({{ text }}, '{{ pattern }}'){%- endmacro %}
{% macro postgres__regexp_contains(text, pattern) -%}({{ text }} ~ '{{ pattern | replace("\\b", "\\y") }}'){%- endmacro %}

{# Number of non-blank sentences of a text (split at . ! ?). #}
{% macro sentence_count(text) -%}{{ return(adapter.dispatch('sentence_count')(text)) }}{%- endmacro %}
{% macro default__sentence_count(text) -%}
    len(list_filter(string_split_regex({{ text }}, '[.!?]+'), lambda s: trim(s) <> ''))
{%- endmacro %}
{% macro postgres__sentence_count(text) -%}
    (select count(*) from regexp_split_to_table({{ text }}, '[.!?]+') as s where trim(s) <> '')
{%- endmacro %}

{# Median of a column in an aggregate (not a window). #}
{% macro median(expr) -%}{{ return(adapter.dispatch('median')(expr)) }}{%- endmacro %}
{% macro default__median(expr) -%}median({{ expr }}){%- endmacro %}
{% macro postgres__median(expr) -%}percentile_cont(0.5) within group (order by {{ expr }}){%- endmacro %}
