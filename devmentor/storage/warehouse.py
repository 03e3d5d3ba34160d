"""The DuckDB warehouse that dbt builds (staging, intermediate, marts, analytics)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb


@dataclass(frozen=True)
class Warehouse:
    path: Path

    @contextmanager
    def connect(self, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(str(self.path), read_only=read_only)
        try:
            con.execute("SET TimeZone='UTC'")
            yield con
        finally:
            con.close()
