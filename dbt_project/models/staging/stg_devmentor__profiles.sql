with source as (
    select * from {{ source('lake', 'profiles') }}
),

renamed as (
    select
        user_id,
        age,
        class_year,
        coalesce(courses_completed, 0) as courses_completed,
        gpa,
        learner_purpose,
        format_preference,
        format_comfort_rating_text,
        format_comfort_rating_image,
        format_comfort_rating_video,
        format_comprehension_score_text,
        format_comprehension_score_image,
        format_comprehension_score_video,
        session_preference,
        ui_theme_preference,
        layout_preference,
        study_mode,
        learner_level,
        {{ resolved_time_zone('timezone') }} as timezone,
        coalesce(leaderboard_opt_out, false) as leaderboard_opt_out,
        coalesce(analytics_opt_out, false) as analytics_opt_out,
        signed_up_at,
        _source_file as source_file,
        _ingested_at as ingested_at
    from source
)

select * from renamed
