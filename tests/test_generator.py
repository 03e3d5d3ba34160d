"""Synthetic generator: deterministic, covers the contract, has real signal, streams in bounded memory."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from devmentor.generator import generate
from devmentor.ingest.contract import BY_NAME


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "_generated.json"
    }


def test_same_seed_same_files_other_seed_other_data(tmp_path):
    a = generate(tmp_path / "a", learners=150, days=5, seed=3)
    b = generate(tmp_path / "b", learners=150, days=5, seed=3)
    generate(tmp_path / "c", learners=150, days=5, seed=4)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert a.events == b.events
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_output_covers_every_contract_field_and_event_type(tmp_path):
    generate(tmp_path, learners=300, days=7, seed=5)
    con = duckdb.connect()
    folders = {"profiles": "profiles", "events": "events", "chat_messages": "chat", "courses": "catalog/courses",
               "modules": "catalog/modules", "content_items": "catalog/content_items", "questions": "catalog/questions",
               "enrolments": "enrolments", "learner_labels": "labels"}
    for entity, folder in folders.items():
        cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM '{tmp_path}/{folder}/*.parquet'").fetchall()}
        assert set(BY_NAME[entity].field_names) <= cols, entity
    types = {r[0] for r in con.execute(f"SELECT DISTINCT event_type FROM '{tmp_path}/events/*.parquet'").fetchall()}
    assert types == set(BY_NAME["events"].get("event_type").enum)
    texts = con.execute(f"SELECT count(DISTINCT message_text) FROM '{tmp_path}/chat/*.parquet' WHERE message_direction = 'user'").fetchone()[0]
    assert texts > 20


def test_latent_types_drive_behaviour(tmp_path):
    generate(tmp_path, learners=1500, days=14, seed=9)
    con = duckdb.connect()
    stats = dict(
        con.execute(
            f"""SELECT l.segment, avg(e.score) FROM '{tmp_path}/events/*.parquet' e
                JOIN '{tmp_path}/labels/*.parquet' l USING (user_id)
                WHERE e.event_type = 'quiz_attempt' GROUP BY 1"""
        ).fetchall()
    )
    assert stats["Fast Tracker"] > stats["Steady Progressor"] > stats["Struggling Novice"] + 0.15


PEAK_SCRIPT = """
import resource, sys
from pathlib import Path
from devmentor.generator import generate
s = generate(Path(sys.argv[1]), learners=int(sys.argv[2]), days=int(sys.argv[3]), seed=1)
print(s.events, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak(tmp_path: Path, days: int) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(tmp_path / f"d{days}"), "4000", str(days)],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent)
    events, kib = out.stdout.split()
    return int(events), int(kib)


@pytest.mark.benchmark  # a memory measurement, benchmark-style
def test_memory_does_not_grow_with_the_number_of_events(tmp_path):
    short_events, short_kib = _peak(tmp_path, 4)
    long_events, long_kib = _peak(tmp_path, 32)
    assert long_events > 7 * short_events
    # Eight times the events; peak memory within 15% (it holds one day at a time).
    assert long_kib < short_kib * 1.15, (short_kib, long_kib)
    meta = json.loads((tmp_path / "d32" / "_generated.json").read_text())
    assert meta["events"] == long_events
