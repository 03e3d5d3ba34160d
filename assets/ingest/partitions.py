"""Daily partitions of event data: a partition is a day of arriving files (events/YYYY-MM-DD.*)."""

import re
from datetime import date
from pathlib import Path

import dagster as dg

from orchestration.settings import load_settings

DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")

# The start is fixed when the definitions load (DEVMENTOR_PARTITIONS_START); end_offset=1 includes today.
EVENT_PARTITIONS = dg.DailyPartitionsDefinition(
    start_date=load_settings().partitions_start, timezone="UTC", end_offset=1
)


def file_day(path: Path) -> str | None:
    """The YYYY-MM-DD in a file's name or its parent folder's, if any."""
    for text in (path.name, path.parent.name):
        match = DATE_IN_NAME.search(text)
        if match:
            try:
                return date.fromisoformat(match.group(1)).isoformat()
            except ValueError:
                return None
    return None


def files_for_days(files: list[Path], first: str, last: str) -> list[Path]:
    """Files dated first..last (inclusive), plus undated files (taken by whichever run comes first)."""
    return [f for f in files if (d := file_day(f)) is None or first <= d <= last]


def inbox_day_range(inbox: Path, folders: tuple[str, ...] = ("events", "chat")) -> tuple[str, str] | None:
    """(first, last) day among the dated files of the inbox, or None when there are none."""
    days = sorted(
        d for folder in folders if (inbox / folder).exists()
        for p in (inbox / folder).rglob("*") if p.is_file() and (d := file_day(p))
    )
    return (days[0], days[-1]) if days else None
