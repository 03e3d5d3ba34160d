"""The inbox (input files) and the Parquet lake (validated raw data, quarantine, ML outputs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Lake:
    """Paths of the inbox and the lake, and atomic writes of ML outputs (``lake/ml/<name>``)."""

    inbox_path: Path
    lake_path: Path

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
