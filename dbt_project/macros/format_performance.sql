{#
  Preferred-format performance at a grain (e.g. ['user_id'] or ['user_id', 'course_id']):
  preferred_format_score / _attempts, best_other_format_score (formats with 5+ attempts), and
  format_performance_mismatch: 5+ attempts in the preferred format and a score at least 0.15 below
  the best other format's.
#}
{% macro format_performance(grain) -%}
    select
        {% for col in grain %}f.{{ col }},{% endfor %}
        max(case when f.study_format = p.format_preference then f.score end) as preferred_format_score,
        coalesce(max(case when f.study_format = p.format_preference then f.attempts end), 0) as preferred_format_attempts,
        max(case when f.study_format <> p.format_preference and f.attempts >= 5 then f.score end) as best_other_format_score
    from (
        select {{ grain | join(', ') }}, study_format, sum(attempts) as attempts, sum(score_sum) / sum(attempts) as score
        from {{ ref('int_format_performance') }}
        group by {{ grain | join(', ') }}, study_format
    ) as f
    join {{ ref('stg_devmentor__profiles') }} as p on p.user_id = f.user_id
    group by {% for col in grain %}f.{{ col }}{% if not loop.last %}, {% endif %}{% endfor %}
{%- endmacro %}

{% macro format_mismatch(alias) -%}
    coalesce({{ alias }}.preferred_format_attempts >= 5
             and {{ alias }}.preferred_format_score - {{ alias }}.best_other_format_score <= -0.15, false)
{%- endmacro %}
