{#
  Learner-grain incremental marts: a mart whose rows for a learner depend on that learner's own rows only
  (their events, chat, profile and enrolments, never another learner's) is rebuilt, on an incremental run, for
  the learners whose input changed since its last build, and keeps everyone else's rows as they were.

  - Changed learners: those with an event, chat message, profile or enrolment row that reached the lake
    (``ingested_at``) after the mart's mark; every learner when a catalog row (course, module, content item,
    question) did, when the mart has no mark yet, or when its SQL changed since the mark.
  - The mark: the newest ``ingested_at`` over those inputs when the build began, in a one-row table
    ``learner_marks.<schema>__<mart>``, written by a pre-hook into ``learner_marks.<schema>__<mart>_next`` and
    moved into place by the post-hook only once the build succeeded; a failed build leaves the old mark, so the next
    run recomputes those learners again.
  - The strategy is delete+insert on ``user_id``: a changed learner's rows are all replaced; learners never
    disappear from these inputs (``devmentor forget`` deletes a learner's rows from every warehouse table).
  - ``--full-refresh`` (and the first build) computes every learner, and so does a build whose SQL file differs
    from the one that made the mark (the mark keeps dbt's checksum of it). A change to a macro the mart calls is
    not seen: run one ``--full-refresh`` after one.
  - A column added to or dropped from such a mart is added to or dropped from its table (``sync_all_columns``);
    the SQL change then recomputes every learner, so the new column is filled for all.
  - On Spark (Parquet tables, no DELETE) these marts are plain tables, rebuilt whole.

  Use: ``{{ learner_incremental() }}`` (it sets the model's config) and ``where {{ for_changed_learners('user_id') }}`` on each input
  the mart aggregates (filter early: the point is that only the changed learners' rows are read).
#}

{% macro learner_incremental() -%}
    {%- if target.type == 'spark' -%}
        {%- do config(materialized='table') -%}
    {%- else -%}
        {%- do config(
            materialized='incremental',
            incremental_strategy='delete+insert',
            unique_key='user_id',
            on_schema_change='sync_all_columns',
            pre_hook=["{{ drop_learner_mark('_next') }}", "{{ learner_mark_begin() }}"],
            post_hook=["{{ drop_learner_mark('') }}", "{{ learner_mark_commit() }}"],
        ) -%}
    {%- endif -%}
{%- endmacro %}

{% macro _learner_inputs() -%}
    {{ return([ref('stg_devmentor__events'), ref('stg_devmentor__chat_messages'), ref('stg_devmentor__profiles'),
               ref('stg_devmentor__enrolments')]) }}
{%- endmacro %}

{% macro _catalog_inputs() -%}
    {{ return([ref('stg_devmentor__courses'), ref('stg_devmentor__modules'), ref('stg_devmentor__content_items'),
               ref('stg_devmentor__questions')]) }}
{%- endmacro %}

{# Where a mart's mark lives: learner_marks.<schema>__<mart>[_next], out of the schemas readers list. #}
{% macro _mark_relation(suffix='') -%}
    {{ return(api.Relation.create(database=this.database, schema=learner_mark_schema(),
                                  identifier=this.schema ~ '__' ~ this.identifier ~ suffix)) }}
{%- endmacro %}

{% macro learner_mark_schema() -%}{{ return('learner_marks') }}{%- endmacro %}

{# on-run-start: the marks' schema (once, before any model runs in parallel). #}
{% macro create_learner_mark_schema() -%}
    {%- if target.type == 'spark' -%}select 1{%- else -%}create schema if not exists {{ learner_mark_schema() }}{%- endif -%}
{%- endmacro %}

{% macro drop_learner_mark(suffix) -%}drop table if exists {{ _mark_relation(suffix) }}{%- endmacro %}

{# Pre-hook: the inputs' newest ingested_at as the build begins, kept aside until the build succeeds. #}
{% macro learner_mark_begin() -%}
    {%- set parts = [] -%}
    {%- for rel in _learner_inputs() + _catalog_inputs() -%}
        {%- do parts.append('select max(ingested_at) as m from ' ~ rel) -%}
    {%- endfor -%}
    create table {{ _mark_relation('_next') }} as
    select max(m) as ingested_through, '{{ _model_checksum() }}' as sql_checksum
    from ({{ parts | join(' union all ') }}) as marks
{%- endmacro %}

{# The mart's SQL file checksum (dbt's): a mark made by other SQL is no mark. #}
{% macro _model_checksum() -%}
    {{- return(model.checksum.checksum if model is defined and model.checksum is defined else '') -}}
{%- endmacro %}

{# Post-hook (the build succeeded): the pending mark becomes the mart's mark. #}
{% macro learner_mark_commit() -%}
    create table {{ _mark_relation() }} as
    select ingested_through, sql_checksum from {{ _mark_relation('_next') }}
{%- endmacro %}

{# SQL predicate on an input's learner column: the learner changed since the mart's mark (true on a full build). #}
{% macro for_changed_learners(column='user_id') -%}
    {#- the inputs are ref'd while parsing (so dbt knows the mart reads them) and on an incremental build; never
        in a full build, where a unit test's fixtures stand in for the mart's own inputs only -#}
    {%- set incremental = this is not none and is_incremental() -%}  {#- a unit test has no `this` -#}
    {%- if not execute or incremental -%}
        {%- set learners = _learner_inputs() -%}
        {%- set catalog = _catalog_inputs() -%}
    {%- endif -%}
    {%- if not incremental -%}
        true
    {%- else -%}
        {%- set mark = _mark_relation() -%}
        {%- set mark_rel = adapter.get_relation(database=mark.database, schema=mark.schema, identifier=mark.identifier) -%}
        {%- if mark_rel is none -%}
            true
        {%- else -%}
            {%- set mark = '(select ingested_through from ' ~ mark_rel ~ ')' -%}
            {%- set checksum = '(select sql_checksum from ' ~ mark_rel ~ ')' -%}
            ({{ column }} in (
                {%- for rel in learners %}
                select user_id from {{ rel }} where ingested_at > {{ mark }}{% if not loop.last %} union{% endif %}
                {%- endfor %}
            )
            {%- for rel in catalog %}
            or exists (select 1 from {{ rel }} where ingested_at > {{ mark }})
            {%- endfor %}
            or {{ mark }} is null
            or {{ checksum }} <> '{{ _model_checksum() }}')
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
