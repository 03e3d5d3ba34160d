"""The learning engine's and gamification's outputs in the lake (``lake/ml/<group>/<table>.parquet``)."""

from __future__ import annotations

import pyarrow as pa

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
    """Each frame to lake/ml/<folder>/<name>.parquet with its algorithm version; returns row counts."""
    counts = {}
    for name, frame in frames.items():
        table = pa.Table.from_pandas(frame.assign(algorithm_version=version_of(name)), preserve_index=False)
        lake.write_ml_table(f"{folder}/{name}.parquet", table)
        counts[name] = table.num_rows
    return counts
