{#
  Search terms of a text: lower-cased alphanumeric words, stop words removed, a plural 's' stripped.
  The chat search query (assets/features/chat_search.py) tokenizes with this same expression
  (tests/test_chat_search.py checks that the two agree).
#}
{% macro search_terms(text_expr) -%}
list_filter(list_transform(regexp_extract_all(lower({{ text_expr }}), '[a-z0-9]+'), lambda w: CASE WHEN length(w) > 3 AND w LIKE '%s' AND w NOT LIKE '%ss' THEN left(w, length(w) - 1) ELSE w END), lambda w: w NOT IN ('a', 'an', 'the', 'and', 'or', 'to', 'of', 'in', 'on', 'is', 'it', 'i', 'me', 'my', 'you', 'for', 'this', 'that', 'with', 'can', 'be', 'are', 'at', 'do', 'so', 'but', 'there', 'what', 'am'))
{%- endmacro %}
