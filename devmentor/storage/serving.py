"""The serving PostgreSQL as the pipeline sees it: its URL (configured, or the embedded server started on first
use), connections, the optional NATS relay of the decision outbox, and where publish metrics go."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import psycopg

from devmentor.storage import postgres


@dataclass(frozen=True)
class ServingDatabase:
    database_url: str | None
    pg_data_dir: Path
    metrics_dir: Path
    nats_url: str | None = None
    reader_url_override: str | None = field(default=None, repr=False)
    reader_password: str | None = field(default=None, repr=False)

    def reader_url(self) -> str:
        """Where readers (the API, the dashboard) connect: DEVMENTOR_READER_URL, else this database as the
        read-only role."""
        if self.reader_url_override:
            return self.reader_url_override
        from devmentor.serving.publish import reader_url

        return reader_url(self.url(), password=self.reader_password)

    def url(self) -> str:
        """The libpq URL; the embedded server is started only here, when a URL is first needed."""
        return self.database_url or postgres.embedded_url(self.pg_data_dir)

    def describe(self) -> str:
        """For logs and metadata: the URL without its password, or 'embedded (pgserver)'."""
        return postgres.redact(self.database_url) if self.database_url else "embedded (pgserver)"

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        conn = postgres.connect(self.url(), autocommit=True)
        try:
            yield conn
        finally:
            conn.close()
