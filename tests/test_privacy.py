"""Forget must really forget: malformed quarantined records, every PostgreSQL schema (issue 19)."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from devmentor.privacy import forget
from devmentor.storage import postgres

VICTIM = "learner-42"


def _quarantine(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"entity": ["events"] * len(records), "reason": ["bad"] * len(records), "record": records}), path)


def test_forget_survives_malformed_quarantine_records_and_reaches_every_schema(settings_factory, pg_url):
    settings = settings_factory(database_url=pg_url)
    settings.ensure_dirs()
    q = settings.lake / "quarantine" / "events" / "part-1.parquet"
    _quarantine(q, [
        json.dumps({"user_id": VICTIM, "event_id": "e1"}),
        '{"user_id": "' + VICTIM + '", "event_id": "e2", broken',  # not JSON: what a quarantine holds
        json.dumps({"user_id": "someone-else"}),
        "not json at all",
        None,
    ])
    raw = settings.lake / "raw" / "profiles" / "p.parquet"
    raw.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"user_id": [VICTIM, "someone-else"]}), raw)
    with postgres.connect(pg_url, autocommit=True) as conn:
        for schema in ("serving", "marts"):  # marts: what `devmentor warehouse postgres` builds
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            conn.execute(f"CREATE TABLE {schema}.t (user_id text, v int)")
            conn.execute(f"INSERT INTO {schema}.t VALUES (%s, 1), ('someone-else', 2)", (VICTIM,))

    report = forget(settings, VICTIM)

    assert report["lake/quarantine/events"] == 2 and report["serving.t"] == 1 and report["marts.t"] == 1
    left = duckdb.connect().execute(f"SELECT record FROM '{q}'").fetchall()
    assert [r[0] for r in left] == [json.dumps({"user_id": "someone-else"}), "not json at all", None]
    with postgres.connect(pg_url, autocommit=True) as conn:
        for schema in ("serving", "marts"):
            assert conn.execute(f"SELECT user_id FROM {schema}.t").fetchall() == [("someone-else",)]
    # and running it again (resumable) finds nothing more and does not fail
    again = forget(settings, VICTIM)
    assert not {k: v for k, v in again.items() if "mastery" not in k}


def test_generated_key_is_private_and_a_changed_key_is_refused(tmp_path, monkeypatch):
    import stat

    import pytest

    from devmentor.privacy import PrivacyKeyMismatch, privacy_key

    monkeypatch.delenv("DEVMENTOR_PRIVACY_KEY", raising=False)
    monkeypatch.delenv("DEVMENTOR_PRIVACY_KEY_CHANGE", raising=False)
    key = privacy_key(tmp_path)
    assert stat.S_IMODE((tmp_path / ".privacy_key").stat().st_mode) == 0o600
    assert privacy_key(tmp_path) == key  # stable
    monkeypatch.setenv("DEVMENTOR_PRIVACY_KEY", "another-key")
    with pytest.raises(PrivacyKeyMismatch, match="DEVMENTOR_PRIVACY_KEY back"):
        privacy_key(tmp_path)
    monkeypatch.setenv("DEVMENTOR_PRIVACY_KEY_CHANGE", "accept")
    assert privacy_key(tmp_path) == "another-key"
    monkeypatch.delenv("DEVMENTOR_PRIVACY_KEY_CHANGE")
    assert privacy_key(tmp_path) == "another-key"  # the new fingerprint is now the recorded one


def test_quarantine_keeps_no_direct_identifier(tmp_path):
    """Issue 19 #3: a rejected chat message's free text is masked like a good row's, and a rejected xAPI
    statement keeps the learner's pseudonym, never the raw e-mail or name."""
    from devmentor.importers.xapi import convert
    from devmentor.ingest.contract import BY_NAME
    from devmentor.ingest.validate import ingest_entity

    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    (inbox / "chat").mkdir(parents=True)
    (inbox / "chat" / "c.csv").write_text(
        "message_id,user_id,session_id,timestamp,message_direction,message_text\n"
        "m1,u1,,2026-10-01T10:00:00Z,user,write to ada.lovelace@example.org or +44 20 7946 0958\n")  # no session: bad
    ingest_entity(BY_NAME["chat_messages"], inbox, lake)
    records = duckdb.connect().execute(f"SELECT record FROM '{lake}/quarantine/chat_messages/*.parquet'").fetchall()
    assert len(records) == 1
    assert "ada.lovelace@example.org" not in records[0][0] and "7946" not in records[0][0] and "[email]" in records[0][0]

    path = tmp_path / "x.json"
    path.write_text(json.dumps([{"id": "s1", "actor": {"mbox": "mailto:grace@example.org", "name": "Grace Hopper"},
                                 "verb": {"id": "http://example.com/unknown"}, "object": {"id": "o"},
                                 "timestamp": "2026-10-01T10:00:00Z"}]))
    (reject,) = convert(path, key="k").rejects
    assert "grace@example.org" not in reject["record"] and "Grace Hopper" not in reject["record"]
    assert json.loads(reject["record"])["actor"]["learner_id"].startswith("mbox:")
