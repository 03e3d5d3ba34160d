"""Atomic publication to PostgreSQL: readers see old or new whole; failures leave the last good table."""

from __future__ import annotations

import threading
import time

import psycopg
import pyarrow as pa
import pytest

from devmentor.serving.publish import Column, TableSpec, publish

SPEC = TableSpec(
    name="things",
    columns=(Column("id", "text", nullable=False), Column("version", "integer", nullable=False), Column("payload", "jsonb")),
    primary_key=("id",),
    indexes=(("version",),),
)


def _data(version: int, n: int = 20_000) -> pa.Table:
    return pa.table({"id": [f"k{i}" for i in range(n)], "version": [version] * n, "payload": ['{"a": 1, "text": "x, \\"quoted\\""}'] * n})


def test_publish_replaces_table_and_logs(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        r1 = publish(conn, SPEC, _data(1, 100))
        r2 = publish(conn, SPEC, _data(2, 50), append_to="things_history")
        assert conn.execute("SELECT count(*), min(version), max(version) FROM serving.things").fetchone() == (50, 2, 2)
        assert conn.execute("SELECT count(*) FROM serving.things_history").fetchone()[0] == 50
        assert conn.execute("SELECT payload->>'text' FROM serving.things LIMIT 1").fetchone()[0] == 'x, "quoted"'
        log = conn.execute("SELECT publish_id, row_count FROM serving.publish_log ORDER BY published_at").fetchall()
        assert log == [(r1.publish_id, 100), (r2.publish_id, 50)]
        names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'serving' AND tablename = 'things'")}
        assert names == {"things_pk", "things_ix0"}
        leftovers = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'serving' AND tablename LIKE 'things\\_\\_%'").fetchone()[0]
        assert leftovers == 0


def test_reader_sees_whole_old_or_whole_new_version_during_publishes(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        publish(conn, SPEC, _data(0))
    seen: list[tuple] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def reader():
        with psycopg.connect(pg_url, autocommit=True) as rconn:
            while not stop.is_set():
                try:
                    seen.append(rconn.execute("SELECT count(*), min(version), max(version) FROM serving.things").fetchone())
                except Exception as exc:  # any error is a failure of atomicity
                    errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            for v in range(1, 6):
                publish(conn, SPEC, _data(v))
    finally:
        stop.set()
        t.join()
    assert not errors
    assert len(seen) > 10
    for count, lo, hi in seen:
        assert count == 20_000 and lo == hi, "a reader saw a partial or mixed table"
    assert {s[1] for s in seen} >= {0, 5} or len({s[1] for s in seen}) >= 2


def test_failure_before_swap_leaves_last_good_table_and_next_run_recovers(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        publish(conn, SPEC, _data(1, 10))

        def boom():
            raise RuntimeError("killed mid-publish")

        with pytest.raises(RuntimeError):
            publish(conn, SPEC, _data(2, 30), before_swap=boom)
        assert conn.execute("SELECT count(*), max(version) FROM serving.things").fetchone() == (10, 1)
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'things\\_\\_new\\_%'").fetchone()[0] == 1
        publish(conn, SPEC, _data(3, 5))
        assert conn.execute("SELECT count(*), max(version) FROM serving.things").fetchone() == (5, 3)
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'things\\_\\_new\\_%'").fetchone()[0] == 0


def test_missing_column_is_refused_before_touching_the_database(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        with pytest.raises(ValueError, match="lacks column"):
            publish(conn, SPEC, pa.table({"id": ["a"]}))
        assert conn.execute("SELECT to_regclass('serving.things')").fetchone()[0] is None


def test_unreachable_database_gives_clear_error_after_bounded_retries(tmp_path):
    from devmentor.storage.postgres import DatabaseUnavailable, connect

    started = time.perf_counter()
    with pytest.raises(DatabaseUnavailable, match=r"unreachable after 3 attempts.*nothing was published"):
        connect(f"postgresql://devmentor:secret@/nodb?host={tmp_path}", attempts=3, first_delay_s=0.05)
    assert time.perf_counter() - started < 5


def test_redact_hides_passwords():
    from devmentor.storage.postgres import redact

    assert redact("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert "s3cret" not in redact("postgresql://u:s3cret@h/db")


def test_serving_contract_doc_lists_the_learning_tables_as_declared():
    from pathlib import Path

    from devmentor.serving.tables import render_markdown

    doc = (Path(__file__).resolve().parent.parent / "docs" / "serving_contract.md").read_text()
    start = doc.index("<!-- generated from devmentor/serving/tables.py: render_markdown() -->\n") + len(
        "<!-- generated from devmentor/serving/tables.py: render_markdown() -->\n")
    assert doc[start:doc.index("<!-- end generated -->")] == render_markdown(), \
        "docs/serving_contract.md is out of date: paste render_markdown() between the markers"


def test_publish_many_swaps_every_table_together_or_none(pg_url):
    from devmentor.serving.publish import publish_many

    a = TableSpec("pm_a", (Column("id", "integer", False), Column("v", "text"), Column("publish_id", "text")), ("id",))
    b = TableSpec("pm_b", (Column("id", "integer", False), Column("w", "text"), Column("publish_id", "text")), ("id",))

    def data(col, tag, n):
        return pa.table({"id": list(range(n)), col: [tag] * n})

    with psycopg.connect(pg_url, autocommit=True) as conn:
        first = publish_many(conn, [(a, data("v", "old", 3)), (b, data("w", "old", 4))])
        assert {r.publish_id for r in first} == {first[0].publish_id}

        def boom():
            raise RuntimeError("killed between build and swap")

        with pytest.raises(RuntimeError):
            publish_many(conn, [(a, data("v", "new", 5)), (b, data("w", "new", 6))], before_swap=boom)
        assert conn.execute("SELECT count(*), min(v) FROM serving.pm_a").fetchone() == (3, "old")
        assert conn.execute("SELECT count(*), min(w) FROM serving.pm_b").fetchone() == (4, "old")
        publish_many(conn, [(a, data("v", "new", 5)), (b, data("w", "new", 6))])
        assert conn.execute("SELECT count(*), min(v) FROM serving.pm_a").fetchone() == (5, "new")
        assert conn.execute("SELECT count(*), min(w) FROM serving.pm_b").fetchone() == (6, "new")
        # the build tables of the failed attempt were dropped by the next publish
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'serving' AND tablename LIKE 'pm\\_%\\_\\_new\\_%'").fetchone()[0] == 0


KILL_SCRIPT = """
import sys, time, pathlib
import psycopg, pyarrow as pa
from devmentor.serving.publish import Column, TableSpec, publish
spec = TableSpec("kill_probe", (Column("id", "bigint", False), Column("v", "text"), Column("publish_id", "text")), ("id",))
n = int(sys.argv[2])
marker = pathlib.Path(sys.argv[3])
def wait_forever():
    marker.write_text("built")
    time.sleep(600)
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    publish(conn, spec, pa.table({"id": list(range(n)), "v": ["new"] * n}), before_swap=wait_forever)
"""


@pytest.mark.parametrize("moment", ["during_copy", "before_swap"])
def test_sigkill_during_publish_leaves_the_old_table_whole(pg_url, tmp_path, moment):
    import os
    import signal
    import subprocess
    import sys

    spec = TableSpec("kill_probe", (Column("id", "bigint", False), Column("v", "text"), Column("publish_id", "text")), ("id",))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        publish(conn, spec, pa.table({"id": list(range(1000)), "v": ["old"] * 1000}))
    script = tmp_path / "publisher.py"
    script.write_text(KILL_SCRIPT)
    marker = tmp_path / "marker"
    n = 3_000_000 if moment == "during_copy" else 10_000
    from tests.conftest import PROJECT_ROOT

    proc = subprocess.Popen([sys.executable, str(script), pg_url, str(n), str(marker)], cwd=PROJECT_ROOT,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    deadline = time.time() + 120
    with psycopg.connect(pg_url, autocommit=True) as conn:
        while time.time() < deadline:
            if moment == "before_swap" and marker.exists():
                break
            if moment == "during_copy":
                building = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'COPY serving.kill_probe__new_%'").fetchone()[0]
                if building:
                    time.sleep(0.5)  # well inside the COPY
                    break
            assert proc.poll() is None, "publisher exited early"
            time.sleep(0.05)
        else:
            pytest.fail("publisher never reached the moment to kill")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert not marker.exists() or moment == "before_swap"
        # readers see the old version, whole
        time.sleep(0.5)
        assert conn.execute("SELECT count(*), min(v), max(v) FROM serving.kill_probe").fetchone() == (1000, "old", "old")
        # the next publish recovers without manual clean-up
        publish(conn, spec, pa.table({"id": list(range(7)), "v": ["next"] * 7}))
        assert conn.execute("SELECT count(*), min(v) FROM serving.kill_probe").fetchone() == (7, "next")
        left = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'serving' AND tablename LIKE 'kill\\_probe\\_\\_%'").fetchone()[0]
        assert left == 0


def test_serving_carries_no_demographics():
    import re

    from devmentor.serving.tables import (
        DEMOGRAPHIC_FIELDS,
        GAMIFICATION_TABLES,
        LEARNER_DECISIONS,
        LEARNING_TABLES,
    )
    from models.decision_trees import TREE_SPECS
    from tests.conftest import PROJECT_ROOT

    for spec in (LEARNER_DECISIONS, *LEARNING_TABLES, *GAMIFICATION_TABLES):
        assert not {c.name for c in spec.columns} & DEMOGRAPHIC_FIELDS, spec.name
    for spec in TREE_SPECS.values():  # input_attributes are the trees' features
        assert not set(spec.features) & DEMOGRAPHIC_FIELDS, spec.tree_id
    template = (PROJECT_ROOT / "models" / "prompt_templates" / "tutor_intervention.txt").read_text()
    assert not set(re.findall(r"\$(\w+)", template)) & DEMOGRAPHIC_FIELDS


def test_concurrent_publishes_of_one_table_take_turns_and_never_drop_each_others_build(pg_url):
    """Issue 19 #10: the second publisher waits at the advisory lock while the first is between build and
    swap; without the lock its drop_leftovers would drop the first one's build table and the swap would fail."""
    first_built, release = threading.Event(), threading.Event()
    errors, done = [], []

    def hold_before_swap():
        first_built.set()
        release.wait(20)

    def first():
        try:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                publish(conn, SPEC, _data(1, 500), before_swap=hold_before_swap)
                done.append("first")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def second():
        try:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                publish(conn, SPEC, _data(2, 300))
                done.append("second")
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    a = threading.Thread(target=first)
    a.start()
    assert first_built.wait(20)
    b = threading.Thread(target=second)
    b.start()
    time.sleep(1.0)
    assert done == [] and b.is_alive(), "the second publish must wait while the first is mid-publish"
    release.set()
    a.join(30)
    b.join(30)
    assert not errors, errors
    assert done == ["first", "second"]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*), min(version) FROM serving.things").fetchone() == (300, 2)


def test_a_retried_publish_of_the_same_run_is_applied_once(pg_url):
    """Issue 19 #13: the step failed after its swap had committed and was retried: history rows and the
    publish log must not be written twice."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        first = publish(conn, SPEC, _data(1, 40), run_id="run-A", append_to="things_history")
        retry = publish(conn, SPEC, _data(1, 40), run_id="run-A", append_to="things_history")
        assert retry.publish_id == first.publish_id and retry.rows == 40
        assert conn.execute("SELECT count(*) FROM serving.things_history").fetchone()[0] == 40
        assert conn.execute("SELECT count(*) FROM serving.publish_log WHERE publish_id = %s",
                            (first.publish_id,)).fetchone()[0] == 1
        other = publish(conn, SPEC, _data(2, 30), run_id="run-B", append_to="things_history")  # a new run publishes
        assert other.publish_id != first.publish_id
        assert conn.execute("SELECT count(*) FROM serving.things_history").fetchone()[0] == 70


DELTA = TableSpec("delta_probe", (Column("id", "integer", False), Column("score", "double precision"),
                                  Column("note", "text"), Column("publish_id", "text")), ("id",), (("score",),))


def _delta_data(rows: dict[int, tuple]) -> pa.Table:
    ids = sorted(rows)
    return pa.table({"id": pa.array(ids, pa.int32()), "score": [rows[i][0] for i in ids],
                     "note": [rows[i][1] for i in ids]})


def _live(conn, name="delta_probe"):
    return {r[0]: (r[1], r[2]) for r in conn.execute(f"SELECT id, score, note FROM serving.{name}")}


def test_a_publish_with_fingerprints_writes_only_the_changed_rows_and_leaves_the_table_equal_to_the_new_version(
        pg_url, tmp_path):
    from devmentor.serving.delta import Fingerprints
    from devmentor.serving.publish import publish_many

    fingerprints = Fingerprints(tmp_path / "fp")
    old = {i: (i / 10, f"n{i}") for i in range(1000)}
    old[7] = (0.7, None)
    new = dict(old)
    new[1] = (99.0, "n1")  # a value changed
    new[2] = (0.2, "changed")  # text changed
    new[7] = (0.7, "was null")  # null -> value
    new[8] = (0.8, None)  # value -> null
    del new[3], new[4]  # gone
    new.update({2000: (1.0, "added"), 2001: (None, None)})  # new keys
    with psycopg.connect(pg_url, autocommit=True) as conn:
        first = publish_many(conn, [(DELTA, _delta_data(old))], fingerprints=fingerprints)[0]
        assert (first.mode, first.rows_written) == ("swap", 1000)
        second = publish_many(conn, [(DELTA, _delta_data(new))], fingerprints=fingerprints)[0]
        assert (second.mode, second.rows, second.rows_written, second.rows_deleted) == ("delta", 1000, 6, 6)
        assert _live(conn) == new
        ids = dict(conn.execute("SELECT id, publish_id FROM serving.delta_probe").fetchall())
        assert {i for i, p in ids.items() if p == second.publish_id} == {1, 2, 7, 8, 2000, 2001}
        assert {p for i, p in ids.items() if i not in {1, 2, 7, 8, 2000, 2001}} == {first.publish_id}
        log = conn.execute("SELECT mode, row_count, rows_written, rows_deleted FROM serving.publish_log "
                           "WHERE publish_id = %s", (second.publish_id,)).fetchall()
        assert log == [("delta", 1000, 6, 6)]
        # the primary key still holds and no build table is left
        assert conn.execute("SELECT count(*), count(DISTINCT id) FROM serving.delta_probe").fetchone() == (1000, 1000)
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'serving' "
                            "AND tablename LIKE 'delta\\_probe\\_\\_%'").fetchone()[0] == 0
        # the same version again changes nothing
        third = publish_many(conn, [(DELTA, _delta_data(new))], fingerprints=fingerprints)[0]
        assert (third.mode, third.rows_written, third.rows_deleted) == ("delta", 0, 0)
        assert _live(conn) == new


def test_a_fingerprint_is_not_trusted_once_the_table_changed_another_way(pg_url, tmp_path):
    from devmentor.serving.delta import Fingerprints
    from devmentor.serving.publish import publish_many

    fingerprints = Fingerprints(tmp_path / "fp")
    v1 = {i: (float(i), "a") for i in range(100)}
    v2 = {**v1, 5: (-1.0, "b")}
    v3 = {**v2, 6: (-2.0, "c")}
    with psycopg.connect(pg_url, autocommit=True) as conn:
        publish_many(conn, [(DELTA, _delta_data(v1))], fingerprints=fingerprints)
        # another publisher (no fingerprints: another machine, an older version) put v2 in place
        publish_many(conn, [(DELTA, _delta_data(v2))])
        r = publish_many(conn, [(DELTA, _delta_data(v3))], fingerprints=fingerprints)[0]
        assert r.mode == "swap" and _live(conn) == v3
        # a forget deleted a learner's rows: its row in the log makes the next publish a whole one
        conn.execute("DELETE FROM serving.delta_probe WHERE id = 9")
        conn.execute("INSERT INTO serving.publish_log (publish_id, table_name, row_count) VALUES ('f1', 'forget', 1)")
        r = publish_many(conn, [(DELTA, _delta_data(v3))], fingerprints=fingerprints)[0]
        assert r.mode == "swap" and _live(conn) == v3
        # most rows changed: a whole swap is cheaper
        v4 = {i: (float(i), "d") for i in range(100)}
        r = publish_many(conn, [(DELTA, _delta_data(v4))], fingerprints=fingerprints)[0]
        assert r.mode == "swap" and _live(conn) == v4
        # a damaged fingerprint file is ignored
        (tmp_path / "fp" / "delta_probe.parquet").write_bytes(b"not parquet")
        v5 = {**v4, 1: (0.5, "e")}
        r = publish_many(conn, [(DELTA, _delta_data(v5))], fingerprints=fingerprints)[0]
        assert r.mode == "swap" and _live(conn) == v5


def test_a_delta_publish_is_atomic_for_readers_and_a_failure_before_it_commits_changes_nothing(pg_url, tmp_path):
    from devmentor.serving.delta import Fingerprints
    from devmentor.serving.publish import publish_many

    fingerprints = Fingerprints(tmp_path / "fp")
    n = 20_000

    def version(v: int) -> pa.Table:  # every 4th row carries the version: a quarter of the rows change each time
        return pa.table({"id": pa.array(range(n), pa.int32()), "score": [float(v if i % 4 == 0 else -1) for i in range(n)],
                         "note": ["x"] * n})

    with psycopg.connect(pg_url, autocommit=True) as conn:
        publish_many(conn, [(DELTA, version(0))], fingerprints=fingerprints)

        def boom():
            raise RuntimeError("killed between the build and the transaction")

        with pytest.raises(RuntimeError):
            publish_many(conn, [(DELTA, version(1))], fingerprints=fingerprints, before_swap=boom)
        assert conn.execute("SELECT count(*), max(score) FROM serving.delta_probe").fetchone() == (n, 0.0)
    seen, errors, stop = [], [], threading.Event()

    def reader():
        with psycopg.connect(pg_url, autocommit=True) as rconn:
            while not stop.is_set():
                try:
                    seen.append(rconn.execute("SELECT count(*), min(score) FILTER (WHERE score >= 0), "
                                              "max(score) FROM serving.delta_probe").fetchone())
                except Exception as exc:
                    errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            modes = [publish_many(conn, [(DELTA, version(v))], fingerprints=fingerprints, connect=lambda: psycopg.connect(
                pg_url, autocommit=True))[0].mode for v in range(1, 6)]
    finally:
        stop.set()
        t.join()
    assert modes == ["delta"] * 5  # the failed attempt left the fingerprint valid
    assert not errors and len(seen) > 10
    for count, lo, hi in seen:
        assert count == n and lo == hi, "a reader saw a partly applied delta"
    assert len({s[2] for s in seen}) >= 2


def test_a_delta_refuses_a_duplicated_key_and_counts_a_changed_row_once(pg_url, tmp_path):
    from devmentor.serving.delta import Fingerprints
    from devmentor.serving.publish import publish_many, run_publish_id

    fingerprints = Fingerprints(tmp_path / "fp")
    v1 = {i: (float(i), "a") for i in range(100)}
    with psycopg.connect(pg_url, autocommit=True) as conn:
        publish_many(conn, [(DELTA, _delta_data(v1))], fingerprints=fingerprints)
        # 40 of 100 rows changed: 40% of the keys (not 80%: a changed row is one key), so a delta
        v2 = {i: (v if i >= 40 else (-v[0], "b")) for i, v in v1.items()}
        r = publish_many(conn, [(DELTA, _delta_data(v2))], fingerprints=fingerprints, run_id="run-2")[0]
        assert (r.mode, r.rows_written, r.rows_deleted) == ("delta", 40, 40)
        # the retry of that run's publish is recognised, and reported as what it was
        again = publish_many(conn, [(DELTA, _delta_data(v2))], fingerprints=fingerprints, run_id="run-2")[0]
        assert (again.publish_id, again.mode, again.rows_written, again.rows_deleted) == (
            run_publish_id("run-2", ["delta_probe"]), "delta", 40, 40)
        # a key twice in the new version fails the publish, as the swap's primary key would, and changes nothing
        doubled = pa.concat_tables([_delta_data(v2), _delta_data({7: v2[7]})])
        with pytest.raises(ValueError, match=r"primary key \(id\) = \(7,\) occurs more than once"):
            publish_many(conn, [(DELTA, doubled)], fingerprints=fingerprints)
        assert _live(conn) == v2
