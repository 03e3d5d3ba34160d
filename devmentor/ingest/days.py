"""Days of arriving data: a file's day from its name (events/YYYY-MM-DD.*), the inbox's span, a run's days.

The daily partitions themselves are Dagster's (assets/ingest.py builds them from the settings); this
module is the plain logic they and the CLI share.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Mapping

DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
PARTITION_RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


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


def run_day_range(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """The days of event partitions a run processes, from its tags (None for an unpartitioned run)."""
    if tags.get(PARTITION_RANGE_TAGS[0]) and tags.get(PARTITION_RANGE_TAGS[1]):
        return tags[PARTITION_RANGE_TAGS[0]], tags[PARTITION_RANGE_TAGS[1]]
    if tags.get("dagster/partition"):
        return tags["dagster/partition"], tags["dagster/partition"]
    return None


def window_for_days(first_day: str, last_day: str) -> dict[str, str]:
    """The event dates a run of daily partitions first_day..last_day (inclusive) rebuilds.

    A day's file can hold events whose UTC date is the day before or after (learners in other time
    zones), so the window reaches one day further on each side; replacing a window is exact and
    idempotent, so the extra days are recomputed to the same values.
    """
    start = date.fromisoformat(first_day) - timedelta(days=1)
    end = date.fromisoformat(last_day) + timedelta(days=2)
    return {"window_start": start.isoformat(), "window_end": end.isoformat()}
