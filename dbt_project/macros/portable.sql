{#
  Portable SQL: the few constructs DuckDB, PostgreSQL and Spark spell differently, dispatched on the adapter
  (adapter.dispatch picks <adapter>__<name>, else default__<name>). Everything else in the models is
  written in the syntax all accept (extract(hour ...), interval '1 day', count(*) filter (where ...)).
  Lists are arrays on all three; records are structs on DuckDB and Spark, jsonb on PostgreSQL; maps are
  maps on DuckDB and Spark, jsonb on PostgreSQL. Spark has no ordered aggregate: an ordered list is the
  group's (key, value) structs sorted by a comparator (keys must not be null).
#}

{# on-run-start: helper functions PostgreSQL lacks (round(double precision, int)). #}
{% macro portable_setup() -%}{{ return(adapter.dispatch('portable_setup')()) }}{%- endmacro %}
{% macro default__portable_setup() -%}select 1{%- endmacro %}
{% macro postgres__portable_setup() -%}
    create or replace function public.round(double precision, integer) returns double precision
        language sql immutable parallel safe as $$ select round($1::numeric, $2)::double precision $$
{%- endmacro %}
{# Spark: the lake's Parquet folders as external tables lake.<source> (macros/spark_lake.sql). #}
{% macro spark__portable_setup() -%}{{ register_spark_lake() }}select 1{%- endmacro %}

{# A column name that is a keyword (e.g. "timestamp"), quoted: double quotes, backticks on Spark. #}
{% macro ident(name) -%}{{ return(adapter.dispatch('ident')(name)) }}{%- endmacro %}
{% macro default__ident(name) -%}"{{ name }}"{%- endmacro %}
{% macro spark__ident(name) -%}`{{ name }}`{%- endmacro %}

{# Number of elements of a list (0 for an empty list). #}
{% macro list_len(expr) -%}{{ return(adapter.dispatch('list_len')(expr)) }}{%- endmacro %}
{% macro default__list_len(expr) -%}len({{ expr }}){%- endmacro %}
{% macro postgres__list_len(expr) -%}coalesce(cardinality({{ expr }}), 0){%- endmacro %}
{% macro spark__list_len(expr) -%}nullif(size({{ expr }}), -1){%- endmacro %}

{# A delimited string as a list of trimmed parts. #}
{% macro split_trimmed(expr, sep) -%}{{ return(adapter.dispatch('split_trimmed')(expr, sep)) }}{%- endmacro %}
{% macro default__split_trimmed(expr, sep) -%}list_transform(string_split({{ expr }}, '{{ sep }}'), lambda p: trim(p)){%- endmacro %}
{% macro postgres__split_trimmed(expr, sep) -%}
    array(select trim(p) from unnest(string_to_array({{ expr }}, '{{ sep }}')) with ordinality as u(p, i) order by i)
{%- endmacro %}
{% macro spark__split_trimmed(expr, sep) -%}transform({{ split_list(expr, sep) }}, p -> trim(p)){%- endmacro %}

{# A delimited string as a list of its parts (empty parts kept). #}
{% macro split_list(expr, sep) -%}{{ return(adapter.dispatch('split_list')(expr, sep)) }}{%- endmacro %}
{% macro default__split_list(expr, sep) -%}string_to_array({{ expr }}, '{{ sep }}'){%- endmacro %}
{% macro spark__split_list(expr, sep) -%}split({{ expr }}, '\\Q{{ sep }}\\E', -1){%- endmacro %}

{# An empty list of strings. #}
{% macro empty_list() -%}{{ return(adapter.dispatch('empty_list')()) }}{%- endmacro %}
{% macro default__empty_list() -%}array[]::varchar[]{%- endmacro %}
{% macro spark__empty_list() -%}cast(array() as array<string>){%- endmacro %}

{# Whether a list contains a value. #}
{% macro list_contains(list, value) -%}{{ return(adapter.dispatch('list_contains')(list, value)) }}{%- endmacro %}
{% macro default__list_contains(list, value) -%}{{ value }} = any({{ list }}){%- endmacro %}
{% macro spark__list_contains(list, value) -%}array_contains({{ list }}, {{ value }}){%- endmacro %}

{# In a select list: one row per element of a list (none for an empty or null list). #}
{% macro unnest_list(expr) -%}{{ return(adapter.dispatch('unnest_list')(expr)) }}{%- endmacro %}
{% macro default__unnest_list(expr) -%}unnest({{ expr }}){%- endmacro %}
{% macro spark__unnest_list(expr) -%}explode({{ expr }}){%- endmacro %}

{# In a select list: one row per element of a list of strings, one null row for an empty list. #}
{% macro unnest_or_null(expr) -%}{{ return(adapter.dispatch('unnest_or_null')(expr)) }}{%- endmacro %}
{% macro default__unnest_or_null(expr) -%}
    unnest(case when {{ list_len(expr) }} = 0 then array[null]::varchar[] else {{ expr }} end)
{%- endmacro %}
{% macro spark__unnest_or_null(expr) -%}
    explode(case when size({{ expr }}) = 0 then array(cast(null as string)) else {{ expr }} end)
{%- endmacro %}

{# Aggregate: the group's distinct non-null values, sorted (null when there are none); where: a row filter. #}
{% macro distinct_sorted_list(expr, where=none) -%}{{ return(adapter.dispatch('distinct_sorted_list')(expr, where)) }}{%- endmacro %}
{% macro default__distinct_sorted_list(expr, where) -%}
    array_agg(distinct {{ expr }} order by {{ expr }}){% if where %} filter (where {{ where }}){% endif %}
{%- endmacro %}
{% macro spark__distinct_sorted_list(expr, where) -%}
    nullif(array_sort(collect_set({{ expr }}){% if where %} filter (where {{ where }}){% endif %}), array())
{%- endmacro %}

{# Aggregate: the group's values ordered by order_by (e.g. 'n desc, topic_id'), at most n of them when n is given;
   where: a row filter; null when no row. #}
{% macro ordered_list(expr, order_by, where=none, n=none) -%}{{ return(adapter.dispatch('ordered_list')(expr, order_by, where, n)) }}{%- endmacro %}
{% macro default__ordered_list(expr, order_by, where, n) -%}
    {%- if n %}({% endif %}array_agg({{ expr }} order by {{ order_by }}){% if where %} filter (where {{ where }}){% endif %}{% if n %})[1:{{ n }}]{% endif -%}
{%- endmacro %}
{% macro spark__ordered_list(expr, order_by, where, n) -%}
    {%- set sorted = spark_sorted_values(expr, order_by, where) -%}
    {%- if n %}slice({{ sorted }}, 1, {{ n }}){% else %}{{ sorted }}{% endif -%}
{%- endmacro %}

{# Spark: the group's values sorted by the keys of order_by ('a, b desc'), null when no row. #}
{% macro spark_sorted_values(expr, order_by, where=none) -%}
    {%- set keys = [] -%}
    {%- for part in order_by.split(',') -%}
        {%- set p = part.strip() -%}
        {%- set desc = p.lower().endswith(' desc') -%}
        {%- set k = p[:-5].strip() if desc else (p[:-4].strip() if p.lower().endswith(' asc') else p) -%}
        {%- do keys.append((k, desc)) -%}
    {%- endfor -%}
    nullif(transform(array_sort(collect_list(named_struct(
        {%- for k, desc in keys %}'k{{ loop.index0 }}', {{ k }}, {% endfor %}'v', {{ expr }}))
        {%- if where %} filter (where {{ where }}){% endif %},
        (l, r) -> case
        {%- for k, desc in keys %}
            when l.k{{ loop.index0 }} < r.k{{ loop.index0 }} then {{ 1 if desc else -1 }}
            when l.k{{ loop.index0 }} > r.k{{ loop.index0 }} then {{ -1 if desc else 1 }}
        {%- endfor %}
            else 0 end), e -> e.v), array())
{%- endmacro %}

{# The value of the row with the largest / smallest key in the group (rows with a null key ignored). Rows that tie on
   the key are told apart by the value itself (the largest / smallest), so the result never depends on the order
   the engine reads the rows in (OULAD's events share their day's instant: without it the first event of a day
   differed between two builds of the same data). #}
{% macro arg_max(value, key) -%}{{ return(adapter.dispatch('arg_max')(value, key)) }}{%- endmacro %}
{% macro default__arg_max(value, key) -%}
    arg_max({{ value }}, ({{ key }}, {{ value }})) filter (where {{ key }} is not null and {{ value }} is not null)
{%- endmacro %}
{% macro postgres__arg_max(value, key) -%}
    (array_agg({{ value }} order by {{ key }} desc, {{ value }} desc) filter (where {{ key }} is not null))[1]
{%- endmacro %}
{# Spark's max_by keeps a null value; DuckDB's arg_max skips rows with a null value or key. #}
{% macro spark__arg_max(value, key) -%}
    max_by({{ value }}, struct({{ key }}, {{ value }})) filter (where {{ key }} is not null and {{ value }} is not null)
{%- endmacro %}
{% macro arg_min(value, key) -%}{{ return(adapter.dispatch('arg_min')(value, key)) }}{%- endmacro %}
{% macro default__arg_min(value, key) -%}
    arg_min({{ value }}, ({{ key }}, {{ value }})) filter (where {{ key }} is not null and {{ value }} is not null)
{%- endmacro %}
{% macro postgres__arg_min(value, key) -%}
    (array_agg({{ value }} order by {{ key }}, {{ value }}) filter (where {{ key }} is not null))[1]
{%- endmacro %}
{% macro spark__arg_min(value, key) -%}
    min_by({{ value }}, struct({{ key }}, {{ value }})) filter (where {{ key }} is not null and {{ value }} is not null)
{%- endmacro %}

{# A record from (name, expression) pairs: a struct on DuckDB, a jsonb object on PostgreSQL. #}
{% macro record(fields) -%}{{ return(adapter.dispatch('record')(fields)) }}{%- endmacro %}
{% macro default__record(fields) -%}
    { {%- for name, expr in fields -%}'{{ name }}': {{ expr }}{% if not loop.last %}, {% endif %}{%- endfor -%} }
{%- endmacro %}
{% macro postgres__record(fields) -%}
    jsonb_build_object({%- for name, expr in fields -%}'{{ name }}', {{ expr }}{% if not loop.last %}, {% endif %}{%- endfor -%})
{%- endmacro %}
{% macro spark__record(fields) -%}
    named_struct({%- for name, expr in fields -%}'{{ name }}', {{ expr }}{% if not loop.last %}, {% endif %}{%- endfor -%})
{%- endmacro %}

{# Aggregate: the group's records as a list, ordered. #}
{% macro record_list(fields, order_by) -%}{{ return(adapter.dispatch('record_list')(fields, order_by)) }}{%- endmacro %}
{% macro default__record_list(fields, order_by) -%}list({{ record(fields) }} order by {{ order_by }}){%- endmacro %}
{% macro postgres__record_list(fields, order_by) -%}jsonb_agg({{ record(fields) }} order by {{ order_by }}){%- endmacro %}
{% macro spark__record_list(fields, order_by) -%}{{ spark_sorted_values(record(fields), order_by) }}{%- endmacro %}

{# An empty list of records (for coalesce). #}
{% macro empty_record_list() -%}{{ return(adapter.dispatch('empty_record_list')()) }}{%- endmacro %}
{% macro default__empty_record_list() -%}[]{%- endmacro %}
{% macro postgres__empty_record_list() -%}'[]'::jsonb{%- endmacro %}
{% macro spark__empty_record_list() -%}array(){%- endmacro %}

{# Aggregate: a key → value map of the group, keys in order. #}
{% macro map_agg(key, value) -%}{{ return(adapter.dispatch('map_agg')(key, value)) }}{%- endmacro %}
{% macro default__map_agg(key, value) -%}
    map_from_entries(list({'key': {{ key }}, 'value': {{ value }}} order by {{ key }}))
{%- endmacro %}
{% macro postgres__map_agg(key, value) -%}jsonb_object_agg({{ key }}, {{ value }} order by {{ key }}){%- endmacro %}
{% macro spark__map_agg(key, value) -%}
    map_from_entries(array_sort(collect_list(named_struct('k', {{ key }}, 'v', {{ value }})),
                                (l, r) -> case when l.k < r.k then -1 when l.k > r.k then 1 else 0 end))
{%- endmacro %}

{# Every match of a regular expression (no capture groups) in a text, as a list. #}
{% macro regexp_all(text, pattern) -%}{{ return(adapter.dispatch('regexp_all')(text, pattern)) }}{%- endmacro %}
{% macro default__regexp_all(text, pattern) -%}regexp_extract_all({{ text }}, '{{ pattern }}'){%- endmacro %}
{% macro postgres__regexp_all(text, pattern) -%}
    array(select m[1] from regexp_matches({{ text }}, '{{ pattern }}', 'g') with ordinality as r(m, i) order by i)
{%- endmacro %}
{# Spark string literals unescape backslashes: the pattern's are doubled. #}
{% macro spark__regexp_all(text, pattern) -%}regexp_extract_all({{ text }}, '{{ pattern | replace("\\", "\\\\") }}', 0){%- endmacro %}

{# Whether a text contains a match of a regular expression; \b is a word boundary on both. #}
{% macro regexp_contains(text, pattern) -%}{{ return(adapter.dispatch('regexp_contains')(text, pattern)) }}{%- endmacro %}
{% macro default__regexp_contains(text, pattern) -%}regexp_matches({{ text }}, '{{ pattern }}'){%- endmacro %}
{% macro postgres__regexp_contains(text, pattern) -%}({{ text }} ~ '{{ pattern | replace("\\b", "\\y") }}'){%- endmacro %}
{% macro spark__regexp_contains(text, pattern) -%}({{ text }} rlike '{{ pattern | replace("\\", "\\\\") }}'){%- endmacro %}

{# Number of non-blank sentences of a text (split at . ! ?). #}
{% macro sentence_count(text) -%}{{ return(adapter.dispatch('sentence_count')(text)) }}{%- endmacro %}
{% macro default__sentence_count(text) -%}
    len(list_filter(string_split_regex({{ text }}, '[.!?]+'), lambda s: trim(s) <> ''))
{%- endmacro %}
{% macro postgres__sentence_count(text) -%}
    (select count(*) from regexp_split_to_table({{ text }}, '[.!?]+') as s where trim(s) <> '')
{%- endmacro %}
{% macro spark__sentence_count(text) -%}
    nullif(size(filter(split({{ text }}, '[.!?]+', -1), s -> trim(s) <> '')), -1)
{%- endmacro %}

{# Median of a column in an aggregate (not a window). #}
{% macro median(expr) -%}{{ return(adapter.dispatch('median')(expr)) }}{%- endmacro %}
{% macro default__median(expr) -%}median({{ expr }}){%- endmacro %}
{% macro postgres__median(expr) -%}percentile_cont(0.5) within group (order by {{ expr }}){%- endmacro %}
{% macro spark__median(expr) -%}percentile({{ expr }}, 0.5){%- endmacro %}

{# Type names: a double, a text, a timestamp with time zone (Spark's timestamp is one: an instant). #}
{% macro type_double() -%}{{ return(adapter.dispatch('type_double')()) }}{%- endmacro %}
{% macro default__type_double() -%}double precision{%- endmacro %}
{% macro spark__type_double() -%}double{%- endmacro %}
{% macro type_text() -%}{{ return(adapter.dispatch('type_text')()) }}{%- endmacro %}
{% macro default__type_text() -%}varchar{%- endmacro %}
{% macro spark__type_text() -%}string{%- endmacro %}
{% macro type_timestamptz() -%}{{ return(adapter.dispatch('type_timestamptz')()) }}{%- endmacro %}
{% macro default__type_timestamptz() -%}timestamptz{%- endmacro %}
{% macro spark__type_timestamptz() -%}timestamp{%- endmacro %}

{# Aggregate: the share of the group's rows where cond holds (Spark: in double, as DuckDB; its decimal avg
   would round 1.0/0.0 to 5 places). #}
{% macro share_where(cond) -%}{{ return(adapter.dispatch('share_where')(cond)) }}{%- endmacro %}
{% macro default__share_where(cond) -%}avg(case when {{ cond }} then 1.0 else 0.0 end){%- endmacro %}
{% macro spark__share_where(cond) -%}avg(case when {{ cond }} then 1.0d else 0.0d end){%- endmacro %}

{# Seconds from start to end (timestamps), as a number. #}
{% macro seconds_between(start, end) -%}{{ return(adapter.dispatch('seconds_between')(start, end)) }}{%- endmacro %}
{% macro default__seconds_between(start, end) -%}extract(epoch from {{ end }} - {{ start }}){%- endmacro %}
{% macro spark__seconds_between(start, end) -%}((unix_micros({{ end }}) - unix_micros({{ start }})) / 1000000.0d){%- endmacro %}

{# Whole days from one date to another (end - start). #}
{% macro days_between(start, end) -%}{{ return(adapter.dispatch('days_between')(start, end)) }}{%- endmacro %}
{% macro default__days_between(start, end) -%}{{ end }} - {{ start }}{%- endmacro %}
{% macro spark__days_between(start, end) -%}datediff({{ end }}, {{ start }}){%- endmacro %}

{# The wall-clock time of an instant in a time zone (a timestamp without zone). #}
{% macro local_time(ts, tz) -%}{{ return(adapter.dispatch('local_time')(ts, tz)) }}{%- endmacro %}
{% macro default__local_time(ts, tz) -%}{{ ts }} at time zone {{ tz }}{%- endmacro %}
{% macro spark__local_time(ts, tz) -%}from_utc_timestamp({{ ts }}, {{ tz }}){%- endmacro %}

{# ISO day of the week of a date: 1 = Monday ... 7 = Sunday. #}
{% macro iso_weekday(d) -%}{{ return(adapter.dispatch('iso_weekday')(d)) }}{%- endmacro %}
{% macro default__iso_weekday(d) -%}extract(isodow from {{ d }}){%- endmacro %}
{% macro spark__iso_weekday(d) -%}extract(dow_iso from {{ d }}){%- endmacro %}

{#
  Sums and means of doubles that do not depend on the order rows arrive in: each value is rounded to 12 decimals
  and summed exactly as a decimal. A parallel double sum differed in its last bits between two builds of the same
  data (OULAD's early-warning snapshots: mean and weighted scores), and the cohort ranks built on them then broke
  ties differently, so a learner's segment could change from one build to the next.
#}
{% macro exact_sum(expr) -%}cast(sum(cast({{ expr }} as decimal(38, 12))) as {{ type_double() }}){%- endmacro %}
{% macro exact_avg(expr) -%}
cast(sum(cast({{ expr }} as decimal(38, 12))) / nullif(count({{ expr }}), 0) as {{ type_double() }})
{%- endmacro %}
