{#
  Incremental windows for event-grain models.

  A run processes the dates [lower, upper):
  - with vars window_start / window_end, or the environment's DEVMENTOR_DBT_WINDOW_START / _END (set by Dagster
    from the run's daily partitions; unlike --vars they keep dbt's partial parsing valid): exactly that window,
    so re-running a partition or backfilling a range replaces those dates and nothing else;
  - otherwise, on an incremental run: from one day before the newest date already built (late data) onwards;
  - on the first run or --full-refresh: everything.
  Each incremental model deletes its window in a pre-hook and appends the recomputed rows, so a rerun never
  double counts and rows that disappeared upstream disappear here too.
#}

{% macro incremental_bounds(date_col, lookback_days=0) -%}
    {%- set window_start = var('window_start', none) or env_var('DEVMENTOR_DBT_WINDOW_START', '') -%}
    {%- set window_end = var('window_end', none) or env_var('DEVMENTOR_DBT_WINDOW_END', '') -%}
    {%- if window_start -%}
        {%- set lower = "date '" ~ window_start ~ "' - interval '" ~ lookback_days ~ " day'" -%}
        {{ return(["cast(" ~ lower ~ " as date)", "date '" ~ window_end ~ "'"]) }}
    {%- elif execute -%}
        {%- set q -%}
            select cast(coalesce(max({{ date_col }}), date '1970-01-01') - interval '{{ 1 + lookback_days }} day' as date) from {{ this }}
        {%- endset -%}
        {%- set lower = run_query(q).columns[0].values()[0] -%}
        {{ return(["date '" ~ lower ~ "'", "date '9999-12-31'"]) }}
    {%- else -%}
        {{ return(["date '1970-01-01'", "date '9999-12-31'"]) }}
    {%- endif -%}
{%- endmacro %}

{# SQL predicate: date_col inside this run's window (true on a full build). #}
{# target_col: the target's own date column that bounds are read from, when it differs from date_col. #}
{# lower_slack_days / upper_slack_days widen the window (to read whole sessions around its edges). #}
{% macro in_incremental_window(date_col, lookback_days=0, upper_slack_days=0, target_col=none, lower_slack_days=0) -%}
    {%- if is_incremental() -%}
        {%- set b = incremental_bounds(target_col or date_col, lookback_days) -%}
        ({{ date_col }} >= {{ b[0] }} - interval '{{ lower_slack_days }} day' and {{ date_col }} < {{ b[1] }} + interval '{{ upper_slack_days }} day')
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{# Pre-hook: remove this run's window from the target before the new rows are appended. #}
{% macro delete_incremental_window(date_col, lookback_days=0) -%}
    {{- return(adapter.dispatch('delete_incremental_window')(date_col, lookback_days)) -}}
{%- endmacro %}
{% macro default__delete_incremental_window(date_col, lookback_days=0) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_incremental_window(date_col, lookback_days) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#
  Spark (Parquet tables, no DELETE): the event-grain models are partitioned by their date and built with the
  insert_overwrite strategy, which replaces exactly the date partitions the run recomputed (dynamic partition
  overwrite); the pre-hook does nothing. A date of the window for which no row is recomputed keeps its old
  partition (on DuckDB it would be emptied).
#}
{% macro spark__delete_incremental_window(date_col, lookback_days=0) -%}select 1{%- endmacro %}

{# The incremental strategy and partitioning of an event-grain model (config). #}
{% macro window_strategy() -%}{{ return('insert_overwrite' if target.type == 'spark' else 'append') }}{%- endmacro %}
{% macro window_partition(date_col) -%}{{ return([date_col] if target.type == 'spark' else none) }}{%- endmacro %}
