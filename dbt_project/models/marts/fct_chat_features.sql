-- Learner Chat Manager features: one row per learner with chat activity signals and writing metrics from the learner's own messages.
{{ learner_incremental() }}
with messages as (
    select * from {{ ref('stg_devmentor__chat_messages') }} where {{ for_changed_learners('user_id') }}
),

user_messages as (
    select
        *,
        {{ regexp_all('lower(message_text)', "[a-z]+(?:''[a-z]+)?") }} as tokens,
        {{ sentence_count('message_text') }} as sentences
    from messages
    where message_direction = 'user'
),

tokens as (
    select user_id, {{ unnest_list('tokens') }} as token from user_messages
),

token_agg as (
    select
        user_id,
        count(*) as word_count,
        count(distinct token) as distinct_words,
        sum(case when token in ('i', 'me', 'my', 'mine', 'myself', 'you', 'your', 'yours', 'we', 'us', 'our', 'he', 'she', 'it', 'they', 'them', 'their') then 1 else 0 end) as pronoun_count,
        sum(case when token like '%''%' then 1 else 0 end) as contractions_count
    from tokens
    group by user_id
),

message_agg as (
    select
        user_id,
        count(*) as user_messages,
        sum(greatest(sentences, 1)) as sentence_count,
        sum(case when hint_used or {{ regexp_contains('lower(message_text)', '\\bhint\\b') }} then 1 else 0 end) as hint_requests,
        sum(case
            when
                {{ list_contains('feedback_flags', "'confused'") }}
                or {{ regexp_contains('lower(message_text)', "confus|don''t get|do not understand|stuck|still don''t|lost") }} then 1
            else 0
        end) as confusion_signals,
        sum(case when message_text = lower(message_text) then 1 else 0 end) as lowercase_messages,
        {{ distinct_sorted_list('contextual_topic_id', 'contextual_topic_id is not null') }} as chat_topics,
        max(sent_at) as last_message_at
    from user_messages
    group by user_id
),

topic_rank as (
    select user_id, {{ ordered_list('contextual_topic_id', 'n desc, contextual_topic_id', n=3) }} as top_chat_topics
    from (
        select user_id, contextual_topic_id, count(*) as n
        from user_messages
        where contextual_topic_id is not null
        group by user_id, contextual_topic_id
    ) as per_topic
    group by user_id
),

final as (
    select
        m.user_id,
        m.user_messages,
        m.hint_requests as chat_hint_requests,
        m.confusion_signals as chat_confusion_signals,
        {{ safe_ratio('m.confusion_signals', 'm.user_messages') }} as chat_confusion_rate,
        m.chat_topics,
        t.top_chat_topics,
        m.last_message_at,
        {{ safe_ratio('coalesce(w.word_count, 0)', 'm.sentence_count', 3) }} as avg_sentence_length,
        {{ safe_ratio('w.distinct_words', 'w.word_count') }} as type_token_ratio,
        {{ safe_ratio('w.pronoun_count', 'w.word_count') }} as pronoun_usage,
        coalesce(w.contractions_count, 0) as contractions_count,
        {{ safe_ratio('coalesce(w.word_count, 0)', 'm.user_messages', 3) }} as words_per_message,
        {{ safe_ratio('m.lowercase_messages', 'm.user_messages') }} as lowercase_share
    from message_agg as m
    left join token_agg as w on w.user_id = m.user_id
    left join topic_rank as t on t.user_id = m.user_id
)

select * from final
