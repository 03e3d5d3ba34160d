"""The serving PostgreSQL: an external server from DEVMENTOR_DATABASE_URL, or an embedded one (pgserver).

The embedded server lives in ``$DEVMENTOR_HOME/pg/data``, listens on a Unix socket
there, and keeps running after the command that started it exits, so the Dagster
UI, the dashboard and ``psql "$(devmentor db url)"`` reach the same data.
``devmentor db stop`` stops it.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

EMBEDDED_DATABASE = "devmentor"


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached after the retries; the message says what to check."""


def redact(url: str) -> str:
    """The URL with any password removed, safe for logs and metadata."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def embedded_url(pg_data_dir: Path) -> str:
    """Start (or reuse) the embedded server and return a libpq URL for the devmentor database."""
    import pgserver  # imported lazily: only the embedded default needs it

    pg_data_dir = Path(pg_data_dir)
    pg_data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pg_data_dir), cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';")
    if "(0 rows)" in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")
    return server.get_uri(EMBEDDED_DATABASE)


def stop_embedded(pg_data_dir: Path) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    import os
    import pwd
    import subprocess

    pg_data_dir = Path(pg_data_dir)
    if not (pg_data_dir / "postmaster.pid").exists():
        return False
    import pgserver

    pg_ctl = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    owner = pg_data_dir.stat().st_uid
    cmd = [str(pg_ctl), "-D", str(pg_data_dir), "-m", "fast", "-w", "stop"]
    if owner != 0 and os.geteuid() == 0:  # pgserver runs the server as its own user when we are root
        cmd = ["su", pwd.getpwuid(owner).pw_name, "-s", "/bin/sh", "-c", " ".join(cmd)]
    subprocess.run(cmd, check=False, capture_output=True)
    return True


def connect(url: str, attempts: int = 5, first_delay_s: float = 0.5, **kwargs) -> psycopg.Connection:
    """Connect with bounded retries and exponential backoff; raise DatabaseUnavailable with advice."""
    delay = first_delay_s
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            return psycopg.connect(url, connect_timeout=5, **kwargs)
        except psycopg.OperationalError as exc:
            last = exc
            if attempt < attempts:
                time.sleep(delay)
                delay *= 2
    raise DatabaseUnavailable(
        f"PostgreSQL at {redact(url)} is unreachable after {attempts} attempts "
        f"({str(last).strip().splitlines()[0] if last else 'no error'}). Check that the server runs and "
        "DEVMENTOR_DATABASE_URL is right, or unset it to use the embedded server; nothing was published."
    )
