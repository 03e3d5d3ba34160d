"""The serving reader role: SELECT on schema serving, nothing else (real PostgreSQL)."""

from __future__ import annotations

import psycopg
import pyarrow as pa
import pytest

from devmentor.serving.publish import Column, TableSpec, publish, reader_url


def test_reader_reads_serving_only_and_writes_nowhere(pg_url):
    spec = TableSpec("role_probe", (Column("id", "integer", False), Column("publish_id", "text")), ("id",))
    with psycopg.connect(pg_url, autocommit=True) as admin:
        publish(admin, spec, pa.table({"id": [1, 2, 3]}))
        admin.execute("CREATE SCHEMA IF NOT EXISTS marts")
        admin.execute("CREATE TABLE IF NOT EXISTS marts.private_features (user_id text)")
        admin.execute("INSERT INTO marts.private_features VALUES ('u1')")
        # a table swapped in later is readable too (default privileges), without another grant
        publish(admin, spec, pa.table({"id": [4, 5]}))
    with psycopg.connect(reader_url(pg_url), autocommit=True) as reader:
        assert reader.execute("SELECT current_user").fetchone()[0] == "devmentor_reader"
        assert reader.execute("SELECT count(*) FROM serving.role_probe").fetchone()[0] == 2
        assert reader.execute("SELECT count(*) FROM serving.publish_log").fetchone()[0] >= 2
        for statement in (
            "SELECT * FROM marts.private_features",
            "INSERT INTO serving.role_probe (id) VALUES (9)",
            "UPDATE serving.role_probe SET id = 10",
            "DELETE FROM serving.role_probe",
            "CREATE TABLE serving.intruder (x int)",
            "CREATE TABLE public.intruder (x int)",
            "DROP TABLE serving.role_probe",
            "CREATE SCHEMA intruder",
        ):
            with pytest.raises(psycopg.Error) as err:
                reader.execute(statement)
            assert isinstance(err.value, (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)), statement
        # The read-only session default is one layer; the grants are the other. With the default switched
        # off, every write must still fail for lack of privilege (issue 19 #16: tell the two apart).
        reader.execute("SET default_transaction_read_only = off")
        for statement in ("INSERT INTO serving.role_probe (id) VALUES (9)", "UPDATE serving.role_probe SET id = 10",
                          "DELETE FROM serving.role_probe", "CREATE TABLE serving.intruder (x int)",
                          "CREATE TABLE public.intruder (x int)", "DROP TABLE serving.role_probe", "CREATE SCHEMA intruder"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(statement)
    with psycopg.connect(pg_url) as admin:
        assert admin.execute("SELECT count(*) FROM serving.role_probe").fetchone()[0] == 2


def test_reader_url_swaps_the_user_and_keeps_the_rest():
    assert reader_url("postgresql://app:secret@db.example:5432/devmentor?sslmode=require") == \
        "postgresql://devmentor_reader@db.example:5432/devmentor?sslmode=require"
    assert reader_url("postgresql://postgres:@/devmentor?host=/tmp/pg", password="p@ss") == \
        "postgresql://devmentor_reader:p%40ss@/devmentor?host=/tmp/pg"


def test_the_reader_password_is_sent_only_when_the_role_is_new_or_the_password_changed(pg_url):
    """Issue 19 #7: `ALTER ROLE ... PASSWORD` carries the password into statement logs; not on every publish."""
    from psycopg import sql

    from devmentor.serving.publish import ensure_reader_role

    class Recording:
        def __init__(self, conn):
            self.conn, self.statements = conn, []

        def execute(self, query, params=None):
            self.statements.append(query.as_string(self.conn) if isinstance(query, sql.Composable) else str(query))
            return self.conn.execute(query, params)

        def __getattr__(self, name):
            return getattr(self.conn, name)

    role = "devmentor_reader_pw_probe"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute("CREATE SCHEMA IF NOT EXISTS serving")
        first = Recording(conn)
        ensure_reader_role(first, role=role, password="s3cret-1")
        assert sum("PASSWORD" in s for s in first.statements) == 1  # a new role gets its password once
        again = Recording(conn)
        ensure_reader_role(again, role=role, password="s3cret-1")
        assert not [s for s in again.statements if "PASSWORD" in s]
        assert not [s for s in again.statements if "s3cret" in s]
        conn.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")
