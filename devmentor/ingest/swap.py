"""Atomic swaps of an ingest's output: the new files are staged beside the lake, a journal names every move,
the moves run, then the source's older files go. A crash at any point is rolled forward by the next ingest
or forget (``recover_interrupted``), so a source is never half old, half new."""

from __future__ import annotations

import json
import os
from pathlib import Path


def rmtree(path: Path) -> None:
    if not path.exists():
        return
    for p in sorted(path.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    path.rmdir()


def remove_outputs(raw_out: Path, skey: str, keep_tag: str | None = None) -> None:
    """Delete what an earlier ingest of this source produced (the source is being replaced); files of the
    ingest ``keep_tag`` (the one being swapped in) stay."""
    for p in raw_out.rglob(f"part__{skey}__*.parquet"):
        if keep_tag is None or not p.name.startswith(f"part__{skey}__{keep_tag}"):
            p.unlink()


JOURNALS = "_staging/journal"


def write_journal(lake: Path, entry: dict) -> Path:
    folder = Path(lake) / JOURNALS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{entry['tag']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entry))
    os.replace(tmp, path)
    return path


def apply_journal(path: Path) -> None:
    """Move the new files in, then drop the source's older files, then forget the journal (idempotent)."""
    entry = json.loads(path.read_text())
    for src, dest in entry["moves"]:
        if Path(src).exists():
            Path(dest).parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
    remove_outputs(Path(entry["raw_out"]), entry["skey"], keep_tag=entry["tag"])
    rmtree(Path(entry["stage"]))
    path.unlink()


def recover_interrupted(lake: Path) -> int:
    """Finish every ingest swap a crash interrupted; returns how many were finished."""
    folder = Path(lake) / JOURNALS
    done = 0
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        apply_journal(path)
        done += 1
    return done
