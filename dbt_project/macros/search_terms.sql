{#
  Search terms of a text: lower-cased alphanumeric words, stop words removed, a plural 's' stripped.
  The chat search query (assets/features/chat_search.py) tokenizes with this same expression
  (tests/test_chat_search.py checks that the two agree).
#}
{% macro search_terms(text_expr) -%}{{ return(adapter.dispatch('search_terms')(text_expr)) }}{%- endmacro %}

{% macro default__search_terms(text_expr) -%}
list_filter(list_transform(regexp_extract_all(lower({{ text_expr }}), '[a-z0-9]+'), lambda w: CASE WHEN length(w) > 3 AND w LIKE '%s' AND w NOT LIKE '%ss' THEN left(w, length(w) - 1) ELSE w END), lambda w: w NOT IN ('a', 'an', 'the', 'and', 'or', 'to', 'of', 'in', 'on', 'is', 'it', 'i', 'me', 'my', 'you', 'for', 'this', 'that', 'with', 'can', 'be', 'are', 'at', 'do', 'so', 'but', 'there', 'what', 'am'))
{%- endmacro %}

{# The same terms on PostgreSQL, in order. #}
{% macro postgres__search_terms(text_expr) -%}
array(
    select t from (
        select case when length(w) > 3 and w like '%s' and w not like '%ss' then left(w, length(w) - 1) else w end as t, i
        from regexp_matches(lower({{ text_expr }}), '[a-z0-9]+', 'g') with ordinality as r(m, i), lateral (select r.m[1] as w) as x
    ) as terms
    where t not in ('a', 'an', 'the', 'and', 'or', 'to', 'of', 'in', 'on', 'is', 'it', 'i', 'me', 'my', 'you', 'for', 'this', 'that', 'with', 'can', 'be', 'are', 'at', 'do', 'so', 'but', 'there', 'what', 'am')
    order by i
)
{%- endmacro %}

{# The same terms on Spark, in order. #}
{% macro spark__search_terms(text_expr) -%}
filter(transform(regexp_extract_all(lower({{ text_expr }}), '[a-z0-9]+', 0), w -> CASE WHEN length(w) > 3 AND w LIKE '%s' AND w NOT LIKE '%ss' THEN left(w, length(w) - 1) ELSE w END), w -> w NOT IN ('a', 'an', 'the', 'and', 'or', 'to', 'of', 'in', 'on', 'is', 'it', 'i', 'me', 'my', 'you', 'for', 'this', 'that', 'with', 'can', 'be', 'are', 'at', 'do', 'so', 'but', 'there', 'what', 'am'))
{%- endmacro %}
