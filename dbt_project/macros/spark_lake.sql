{#
  Spark sources: the lake's Parquet folders as external tables lake.<source>, (re)registered at the start of a
  run from $DEVMENTOR_SPARK_SOURCES, a JSON list of {"name", "path", "columns"} that
  devmentor/features/spark_warehouse.py writes from the lake (columns: Spark DDL of the union of the files'
  schemas, so an empty quarantine still has its columns). Dropping an external table leaves its files alone.
  Unset (a plain `dbt build --target spark`): the tables registered by the last `devmentor warehouse spark` stay.
#}
{% macro register_spark_lake() -%}
    {%- set sources = fromjson(env_var('DEVMENTOR_SPARK_SOURCES', '[]')) -%}
    {%- if execute and sources -%}
        {%- do run_query('create database if not exists lake') -%}
        {%- for s in sources -%}
            {%- do run_query('drop table if exists lake.' ~ s['name']) -%}
            {%- do run_query('create table lake.' ~ s['name'] ~ ' (' ~ s['columns'] ~ ") using parquet options (path '"
                             ~ s['path'] ~ "', recursiveFileLookup 'true')") -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
