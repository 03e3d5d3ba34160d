-- User Profile Aggregator: one row per learner, every profile attribute plus writing metrics from the learner's own chat messages.
with profiles as (
    select * from {{ ref('stg_devmentor__profiles') }}
),

chat as (
    select * from {{ ref('fct_chat_features') }}
),

final as (
    select
        p.user_id,
        p.age,
        p.class_year,
        p.courses_completed,
        p.gpa,
        p.learner_purpose,
        p.format_preference,
        p.format_comfort_rating_text,
        p.format_comfort_rating_image,
        p.format_comfort_rating_video,
        p.format_comprehension_score_text,
        p.format_comprehension_score_image,
        p.format_comprehension_score_video,
        p.session_preference,
        p.ui_theme_preference,
        p.layout_preference,
        p.study_mode,
        p.learner_level,
        p.timezone,
        p.leaderboard_opt_out,
        p.analytics_opt_out,
        p.signed_up_at,
        {{ record([
            ('avg_sentence_length', 'c.avg_sentence_length'),
            ('type_token_ratio', 'c.type_token_ratio'),
            ('pronoun_usage', 'c.pronoun_usage'),
            ('contractions_count', 'coalesce(c.contractions_count, 0)'),
        ]) }} as writing_metrics,
        c.avg_sentence_length,
        c.type_token_ratio,
        c.pronoun_usage,
        coalesce(c.contractions_count, 0) as contractions_count,
        case
            when c.user_messages is null then 'unknown'
            when c.words_per_message < 5 then 'terse'
            when c.contractions_count * 1.0 / c.user_messages >= 0.3 or c.lowercase_share >= 0.5 then 'casual'
            else 'formal'
        end as writing_style_category
    from profiles as p
    left join chat as c on c.user_id = p.user_id
)

select * from final
