{#
  PMI, the performance mastery index (0-100): the mean over quiz attempts of the score, halved when a hint
  was used and divided by (1 + retries), times 100. It rewards first-try, unaided correct answers.
#}
{% macro pmi(score, hint_used, retries) -%}
    {#- each attempt's value is fixed to a decimal before averaging, so the mean does not depend on row order -#}
    round(100 * avg(cast({{ score }} * (case when {{ hint_used }} then 0.5 else 1.0 end) / (1 + coalesce({{ retries }}, 0)) as decimal(18, 8))), 2)
{%- endmacro %}

{# Skill score on the seeds' 0-10 scale: ten times the mean quiz score on the skill, one decimal. #}
{% macro skill_score_0_10(score) -%}
    round(10 * avg({{ score }}), 1)
{%- endmacro %}
