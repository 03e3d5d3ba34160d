{# Generated from devmentor/ingest/contract.py by `python -m devmentor.ingest.contract --dbt-macro > macros/contract_values.sql`;
   tests/test_settings_and_cli.py keeps the two in step. Do not edit by hand. #}
{% macro contract_values(entity) %}
  {%- set values = {
    'profiles': {'learner_purpose': ['scratch', 'revising', 'exploring'], 'format_preference': ['text', 'image', 'video'], 'session_preference': ['short_chunks', 'long_sessions'], 'ui_theme_preference': ['light', 'dark', 'system'], 'layout_preference': ['compact', 'comfortable', 'focus'], 'study_mode': ['solo', 'group'], 'learner_level': ['basic', 'intermediate', 'advanced']},
    'content_items': {'kind': ['lesson', 'exercise', 'reading', 'lecture', 'resource'], 'format': ['text', 'image', 'video']},
    'outcomes': {'final_result': ['pass', 'distinction', 'fail', 'withdrawn', 'completed']},
    'learner_labels': {'segment': ['Struggling Novice', 'Fast Tracker', 'Steady Progressor', 'Disengaging', 'Format Mismatch']},
    'events': {'event_type': ['session_start', 'session_end', 'content_view', 'quiz_attempt', 'module_complete', 'hint_request', 'content_flag', 'topic_flag'], 'format': ['text', 'image', 'video']},
    'chat_messages': {'message_direction': ['user', 'system']},
  } -%}
  {{ return(values.get(entity, {})) }}
{% endmacro %}
