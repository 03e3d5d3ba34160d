"""The inbox (input files) and the Parquet lake (validated raw data, quarantine, ML outputs)."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

PUBLISHED_FINGERPRINTS = "_published"


@dataclass(frozen=True)
class Lake:
    """Paths of the inbox and the lake, and atomic writes of ML outputs (``lake/ml/<name>``)."""

    inbox_path: Path
    lake_path: Path

    @property
    def published_fingerprints(self) -> Path:
        """Fingerprints of what the last publish put in each serving table (devmentor.serving.delta): they let
        the next publish write only the rows that changed. Removing the folder only makes it a full one."""
        return self.lake_path / "ml" / PUBLISHED_FINGERPRINTS

    def ml_path(self, name: str) -> Path:
        path = self.lake_path / "ml" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write_ml_table(self, name: str, table) -> Path:
        """Write ``lake/ml/<name>`` atomically (beside, then rename): readers never see half a file."""
        import pyarrow.parquet as pq

        path = self.ml_path(name)
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)
        return path


def replace_directory(link: Path, fill) -> Path:
    """Make ``link`` a directory whose files all come from one ``fill(new_dir)`` call, atomically.

    The files are written into ``<link>.sets/<id>/`` and ``link`` is a symbolic link switched to it in
    one rename, so a crash while filling leaves the previous directory whole (never a mix of old and
    new files). A plain directory from before is kept as the previous set until the switch.
    """
    link = Path(link)
    sets = link.with_name(link.name + ".sets")
    set_id = uuid.uuid4().hex[:12]
    new = sets / set_id
    new.mkdir(parents=True)
    try:
        fill(new)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    if link.is_dir() and not link.is_symlink():
        os.replace(link, sets / f"legacy-{set_id}")
    tmp = link.with_name(f".{link.name}.link-{set_id}")
    os.symlink(Path(sets.name) / set_id, tmp)
    os.replace(tmp, link)
    for old in sets.iterdir():
        if old.name != set_id:
            shutil.rmtree(old, ignore_errors=True)
    return new


def remove_directory(link: Path) -> None:
    """Remove a directory made by replace_directory (the link and its sets), or a plain one."""
    link = Path(link)
    if link.is_symlink():
        link.unlink()
        shutil.rmtree(link.with_name(link.name + ".sets"), ignore_errors=True)
    elif link.exists():
        shutil.rmtree(link)
