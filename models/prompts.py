"""Prompts for the tutoring LLM, rendered from templates in the repository (no LLM is called here)."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from string import Template

TEMPLATE_DIR = Path(__file__).resolve().parent / "prompt_templates"
TEMPLATE_NAME = "tutor_intervention.txt"

GUIDANCE = {
    "Escalate to Tutor": "Acknowledge the difficulty, summarise what they have tried, and offer a live session with a human tutor now.",
    "Re-engagement Nudge": "Welcome them back warmly, suggest one 10-minute task from where they stopped, and avoid any reproach.",
    "Switch Format": "Explain the next concept in their strongest format instead of their stated preference, and check understanding.",
    "Remedial Review": "Revisit the weakest topic with a worked example, then one easy question, then one at their level.",
    "Raise Challenge": "Skip the basics, offer a harder problem or an extension exercise, and invite them to explain their reasoning.",
    "Continue Path": "Encourage steady progress on the next lesson of their path and offer help if they get stuck.",
}


@lru_cache(maxsize=8)
def _template(name: str) -> Template:
    return Template((TEMPLATE_DIR / name).read_text())


def _pct(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "an unknown share"
    return f"{float(value) * 100:.0f}%"


def _text(value, default: str = "unknown") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return default
    return str(value)


def render_prompt(
    learner: dict,
    segment: str,
    segment_version: str,
    segment_reasons: list[str],
    intervention: str,
    intervention_version: str,
    intervention_reasons: list[str],
    recommendations: list[str] | None = None,
    template: str = TEMPLATE_NAME,
) -> str:
    """The tutor prompt for one learner's decisions; missing facts read 'unknown', never raise."""
    text = _template(template)
    weak = learner.get("weak_topics")
    weak = [] if weak is None or (isinstance(weak, float) and math.isnan(weak)) else [str(t) for t in weak]
    return text.substitute(
        user_id=learner.get("user_id"),
        learner_level=_text(learner.get("learner_level")),
        format_preference=_text(learner.get("format_preference")),
        writing_style=_text(learner.get("writing_style_category")),
        segment=segment,
        segment_version=segment_version,
        segment_reasons="; ".join(segment_reasons) or "no rule applied",
        intervention=intervention,
        intervention_version=intervention_version,
        intervention_reasons="; ".join(intervention_reasons) or "no rule applied",
        correct_rate_pct=_pct(learner.get("correct_rate")),
        hint_rate_pct=_pct(learner.get("hint_rate")),
        days_since_last_activity=_text(learner.get("days_since_last_activity")),
        modules_completed=_text(learner.get("modules_completed"), "0"),
        best_format=_text(learner.get("dominant_format")),
        weak_topics=", ".join(weak) if len(weak) else "none identified yet",
        recommendations="; ".join(recommendations) if recommendations else "continue with the next lesson of the path",
        guidance=GUIDANCE.get(intervention, GUIDANCE["Continue Path"]),
    ).strip()
