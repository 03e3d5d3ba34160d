"""Prompts for the tutoring LLM, rendered from templates in the repository (no LLM is called here)."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from string import Template

from pandas import NA as pd_NA

TEMPLATE_DIR = Path(__file__).resolve().parent / "prompt_templates"
TEMPLATE_NAME = "tutor_intervention.txt"
# Every learner field a prompt can name (render_prompt reads no other): callers pass only these.
LEARNER_FIELDS = ("user_id", "learner_level", "format_preference", "writing_style_category", "correct_rate",
                  "hint_rate", "days_since_last_activity", "modules_completed", "dominant_format", "weak_topics")

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


def _known(value) -> bool:
    if value is None or value is pd_NA:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, str) and value.strip().lower() in ("", "unknown", "none", "nan"))


def _count(value, one: str, many: str) -> str | None:
    """'1 module', '3 modules': a whole number (counts arrive as floats from the feature frame)."""
    if not _known(value):
        return None
    n = int(round(float(value)))
    return f"{n} {one if n == 1 else many}"


def tutor_role(course: dict | None) -> str:
    """'tutor for the course "Python" (computing)': the subject and wording come from the course, never a guess.
    A subject already named in the title (OULAD's 'oulad') is not repeated; no course: just 'tutor'."""
    title = (course or {}).get("title")
    if not _known(title):
        return "tutor"
    subject = (course or {}).get("subject")
    role = f'tutor for the course "{str(title).strip()}"'
    if _known(subject) and str(subject).strip().lower() not in str(title).lower():
        role += f" ({str(subject).strip()})"
    return role


def _learner_line(learner: dict) -> str:
    about = []
    if _known(learner.get("learner_level")):
        about.append(f"level: {learner['learner_level']}")
    if _known(learner.get("format_preference")):
        about.append(f"prefers {learner['format_preference']} content")
    if _known(learner.get("writing_style_category")):
        style = str(learner["writing_style_category"])
        about.append(f"writes in {'an' if style[:1].lower() in 'aeiou' else 'a'} {style} style")
    return f"{learner.get('user_id')} ({', '.join(about)})" if about else str(learner.get("user_id"))


def _facts(learner: dict, weak: list[str]) -> str:
    """The data lines, each naming only what is known."""
    pct = {k: f"{float(learner[k]) * 100:.0f}%" for k in ("correct_rate", "hint_rate") if _known(learner.get(k))}
    habits = [f"answers {pct['correct_rate']} correct on average"] if "correct_rate" in pct else []
    habits += [f"uses hints on {pct['hint_rate']} of questions"] if "hint_rate" in pct else []
    activity = []
    days = learner.get("days_since_last_activity")
    if _known(days):
        activity.append("last active today" if int(round(float(days))) == 0
                        else f"last active {_count(days, 'day', 'days')} ago")
    modules = _count(learner.get("modules_completed"), "module", "modules")
    if modules:
        activity.append(f"{modules} completed")
    lines = ["; ".join(part) for part in (habits, activity) if part]
    if _known(learner.get("dominant_format")):
        lines.append(f"does best in {learner['dominant_format']} content")
    lines.append(f"weakest topics: {', '.join(weak)}" if weak else "weakest topics: none identified yet")
    return "\n".join(f"- {line}" for line in lines)


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
    course: dict | None = None,
) -> str:
    """The tutor prompt for one learner's decisions, for ``course`` (its catalog ``title`` and ``subject``).
    A fact that is missing is left out (never printed as 'unknown'); counts are whole numbers; never raises."""
    text = _template(template)
    weak = learner.get("weak_topics")
    weak = [] if weak is None or (isinstance(weak, float) and math.isnan(weak)) else [str(t) for t in weak]
    return text.substitute(
        tutor_role=tutor_role(course),
        learner=_learner_line(learner),
        segment=segment,
        segment_version=segment_version,
        segment_reasons="; ".join(segment_reasons) or "no rule applied",
        intervention=intervention,
        intervention_version=intervention_version,
        intervention_reasons="; ".join(intervention_reasons) or "no rule applied",
        facts=_facts(learner, weak),
        recommendations="; ".join(recommendations) if recommendations else "continue with the next lesson of the path",
        guidance=GUIDANCE.get(intervention, GUIDANCE["Continue Path"]),
    ).strip()
