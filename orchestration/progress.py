"""A concise progress logger for command-line runs: one line per step start, message and result."""

from __future__ import annotations

import logging
import sys
import time

import dagster as dg

SHOWN_EVENTS = {"STEP_START": "started", "STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED", "RUN_FAILURE": "RUN FAILED"}


class ProgressFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.started = time.perf_counter()

    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        step = meta.get("step_key") or "run"
        event = meta.get("dagster_event")
        elapsed = time.perf_counter() - self.started
        prefix = f"[{elapsed:6.1f}s] {step:<40}"
        if event is not None and event.event_type_value in SHOWN_EVENTS:
            text = SHOWN_EVENTS[event.event_type_value]
            if event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE"):
                text += f": {_error_text(event) or meta.get('orig_message') or record.getMessage()}"
            return f"{prefix} {text}"
        return f"{prefix} {meta.get('orig_message') or record.getMessage()}"


def _error_text(event) -> str | None:
    """The failure's own message and its causes, not just "step failed"."""
    data = getattr(event, "event_specific_data", None)
    error = getattr(data, "error", None)
    parts = []
    while error is not None and len(parts) < 4:
        message = (error.message or "").strip()
        if message:
            parts.append(message.splitlines()[0][:500])
        error = error.cause
    return " <- ".join(parts) if parts else None


class ProgressFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is not None:
            return event.event_type_value in SHOWN_EVENTS
        return record.levelno >= logging.INFO


@dg.logger(description="Concise progress lines on stdout: step starts, asset messages, results.")
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger("devmentor.progress", level=logging.DEBUG)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(ProgressFormatter())
    handler.addFilter(ProgressFilter())
    logger.addHandler(handler)
    return logger
