"""Where the ingest writes in the lake, and SQL quoting for the names and paths it puts into queries."""

from __future__ import annotations

import hashlib
from pathlib import Path

from devmentor.ingest.contract import Entity


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def raw_dir(lake: Path, entity: Entity) -> Path:
    return lake / "raw" / entity.name


def quarantine_dir(lake: Path, entity: Entity) -> Path:
    return lake / "quarantine" / entity.name


def log_dir(lake: Path, entity: Entity) -> Path:
    return lake / "_ingest_log" / entity.name


def source_key(inbox: Path, path: Path) -> str:
    try:
        rel = path.resolve().relative_to(inbox.resolve())
    except ValueError:
        rel = path.resolve()
    stem = path.stem.replace(" ", "_")[:40]
    return f"{stem}-{hashlib.sha1(str(rel).encode()).hexdigest()[:10]}"
