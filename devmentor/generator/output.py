"""Where generated tables go: one file per table in the requested format, and the run's summary."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from devmentor.generator.params import OUTPUT_FORMATS


@dataclass
class GenerateSummary:
    out: Path
    learners: int
    days: int
    events: int
    chat_messages: int
    files: int
    seconds: float

    def as_dict(self) -> dict:
        return {
            "out": str(self.out),
            "learners": self.learners,
            "days": self.days,
            "events": self.events,
            "chat_messages": self.chat_messages,
            "files": self.files,
            "seconds": round(self.seconds, 2),
        }


def ids(prefix: str, n: int, width: int) -> pa.Array:
    return pa.array([f"{prefix}{i:0{width}d}" for i in range(n)], pa.string())


class Writer:
    """Writes one table per call in the requested file format."""

    def __init__(self, out: Path, fmt: str):
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"--format must be one of {', '.join(OUTPUT_FORMATS)}, got {fmt!r}")
        self.out = out
        self.fmt = fmt
        self.files = 0

    def write(self, folder: str, stem: str, table: pa.Table) -> Path:
        target_dir = self.out / folder
        target_dir.mkdir(parents=True, exist_ok=True)
        path = target_dir / f"{stem}.{self.fmt}"
        if self.fmt == "parquet":
            pq.write_table(table, path, compression="zstd")
        elif self.fmt == "csv":
            pacsv.write_csv(table, path)
        else:
            with path.open("w", encoding="utf-8") as fh:
                for row in table.to_pylist():
                    fh.write(json.dumps(row, default=_json_default, ensure_ascii=False))
                    fh.write("\n")
        self.files += 1
        return path


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value))

