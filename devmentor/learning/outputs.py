"""The learning engine's and gamification's outputs in the lake (``lake/ml/<group>/<table>.parquet``)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from devmentor.storage.lake import Lake
from models import learning_path, mastery, quiz, recommender, spaced_repetition

ENGINE_VERSIONS = {
    "mastery": mastery.ALGORITHM,
    "review_queue": spaced_repetition.ALGORITHM,
    "learning_path": learning_path.ALGORITHM,
    "recommendations": recommender.ALGORITHM,
    "next_quiz": quiz.ALGORITHM,
}


def engine_version(name: str, params_version: str) -> str:
    """What made a learning-engine table: its algorithm and, where mastery feeds it, the BKT parameters' version."""
    return ENGINE_VERSIONS[name] if name == "review_queue" else f"{ENGINE_VERSIONS[name]}|{params_version}"


def write_outputs(lake: Lake, folder: str, frames: dict, version_of) -> dict[str, int]:
    """Each frame to lake/ml/<folder>/<name>.parquet with its algorithm version, as ONE set; returns row counts.

    The tables are written into a new directory ``lake/ml/<folder>.sets/<id>/`` and ``lake/ml/<folder>`` is
    a symbolic link switched to it in one atomic rename: a crash while writing leaves the previous set whole,
    so a later publish can never swap in a mix of old and new tables. Files of the current set this write
    does not replace (the badge ledger) are carried over.
    """
    base = lake.lake_path / "ml"
    link, sets = base / folder, base / f"{folder}.sets"
    set_id = uuid.uuid4().hex[:12]
    new = sets / set_id
    new.mkdir(parents=True)
    try:
        if link.exists():
            for f in link.iterdir():
                if f.is_file() and f.suffix == ".parquet" and f.stem not in frames:
                    shutil.copy2(f, new / f.name)
        counts = {}
        for name, frame in frames.items():
            table = pa.Table.from_pandas(frame.assign(algorithm_version=version_of(name)), preserve_index=False)
            pq.write_table(table, new / f"{name}.parquet")
            counts[name] = table.num_rows
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    if link.is_dir() and not link.is_symlink():  # the layout before sets: keep it as the previous set
        os.replace(link, sets / f"legacy-{set_id}")
    tmp = base / f".{folder}.link-{set_id}"
    os.symlink(Path(f"{folder}.sets") / set_id, tmp)
    os.replace(tmp, link)
    for old in sets.iterdir():
        if old.name != set_id:
            shutil.rmtree(old, ignore_errors=True)
    return counts
