"""The learning engine's and gamification's outputs in the lake (``lake/ml/<group>/<table>.parquet``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from devmentor.storage.lake import Lake, replace_directory
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
    link = lake.lake_path / "ml" / folder
    counts: dict[str, int] = {}

    def fill(new: Path) -> None:
        if link.exists():
            for f in link.iterdir():
                if f.is_file() and f.suffix == ".parquet" and f.stem not in frames:
                    shutil.copy2(f, new / f.name)
        for name, frame in frames.items():
            table = pa.Table.from_pandas(frame.assign(algorithm_version=version_of(name)), preserve_index=False)
            pq.write_table(table, new / f"{name}.parquet")
            counts[name] = table.num_rows

    replace_directory(link, fill)
    return counts
