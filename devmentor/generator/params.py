"""The generator's parameters: the five latent learner types' behaviour, chat templates, output formats."""

from __future__ import annotations

from datetime import date

import numpy as np

DEFAULT_END_DATE = date(2026, 10, 31)
OUTPUT_FORMATS = ("parquet", "csv", "jsonl")

# Latent type parameters, indexed by position in SEGMENTS:
#            Struggling  Fast   Steady  Disengaging  Mismatch
TYPE_SHARE = np.array([0.22, 0.16, 0.30, 0.16, 0.16])
P_ACTIVE = np.array([0.55, 0.72, 0.62, 0.62, 0.58])
ABILITY_MU = np.array([-1.1, 1.3, 0.35, 0.0, 0.3])
LEARN_RATE = np.array([0.010, 0.020, 0.018, 0.008, 0.012])
P_HINT = np.array([0.45, 0.04, 0.14, 0.12, 0.20])
VIEWS_LAM = np.array([2.5, 2.0, 3.0, 1.5, 3.0])
QUIZ_LAM = np.array([3.5, 6.0, 4.0, 2.0, 4.0])
VIEW_MINUTES = np.array([9.0, 5.0, 8.0, 4.0, 8.0])
P_COMPLETE = np.array([0.10, 0.50, 0.25, 0.12, 0.18])
P_DEVIATE = np.array([0.04, 0.30, 0.06, 0.10, 0.08])
P_CHAT = np.array([0.30, 0.10, 0.12, 0.06, 0.22])
PREF_HOUR = np.array([20.0, 9.0, 18.0, 22.0, 15.0])
P_SECOND_SESSION = np.array([0.15, 0.40, 0.25, 0.05, 0.20])

TIMEZONES = ("UTC", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Kolkata")
TZ_OFFSET_H = np.array([0.0, 0.0, 1.0, -5.0, 5.5])  # standard-time offsets, good enough for sample data
STYLES = ("formal", "casual", "terse")

FLAG_REASONS = ("too hard", "unclear explanation", "broken video", "typo", "too easy")
TOPIC_FLAG_REASONS = ("want more practice", "confusing", "not relevant")

CHAT_TEMPLATES: dict[int, dict[str, tuple[str, ...]]] = {
    0: {  # Struggling Novice
        "formal": (
            "I do not understand how {topic} works. Could you please explain it with an example?",
            "I am confused by the question on {topic}. Could you give me a hint?",
            "I tried the {topic} exercise again but I still get it wrong. What am I missing?",
        ),
        "casual": (
            "i don't get {topic} at all, can you give me a hint?",
            "I'm stuck on this {topic} question, what am I doing wrong?",
            "this {topic} stuff is confusing me, can u explain it again",
        ),
        "terse": ("hint {topic}", "stuck on {topic}", "confused. {topic}?"),
    },
    1: {  # Fast Tracker
        "formal": (
            "I have already covered {topic}. May I skip to the next module?",
            "Is there a more advanced challenge on {topic}?",
        ),
        "casual": (
            "I've already got {topic}, can I skip ahead?",
            "that was easy, got anything harder on {topic}?",
        ),
        "terse": ("skip {topic}?", "harder {topic} please"),
    },
    2: {  # Steady Progressor
        "formal": (
            "Could you summarise the key points of {topic}?",
            "Thank you, that makes sense. What should I review next after {topic}?",
        ),
        "casual": (
            "can you sum up {topic} for me?",
            "thanks, that makes sense! what's next after {topic}?",
        ),
        "terse": ("summary {topic}", "next after {topic}?"),
    },
    3: {  # Disengaging
        "formal": (
            "I am not sure I will have time for {topic} this week.",
            "Is the {topic} part required for the course?",
        ),
        "casual": (
            "not sure I've got time for {topic} this week",
            "do I really need {topic}? kinda bored tbh",
        ),
        "terse": ("is {topic} required", "no time"),
    },
    4: {  # Format Mismatch
        "formal": (
            "The {fmt} on {topic} was difficult to follow. Is there another version?",
            "I went through the {fmt} about {topic} but I still do not understand it. Could you explain it differently?",
        ),
        "casual": (
            "the {fmt} on {topic} went way too fast for me, is there another version?",
            "I watched the {fmt} on {topic} but I still don't get it, can you explain it differently?",
        ),
        "terse": ("{fmt} on {topic} unclear", "other format for {topic}?"),
    },
}
SYSTEM_TEMPLATES = (
    "Here is a hint for {topic}: start from the definition and work through the first example step by step.",
    "Good question about {topic}. The key idea is to break the problem into smaller parts.",
    "You are doing well on {topic}. Try the practice set next to check your understanding.",
    "Let us look at {topic} from a different angle, with a short worked example.",
)


