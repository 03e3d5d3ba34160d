"""Forget must really forget: malformed quarantined records, every PostgreSQL schema (issue 19)."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from devmentor.privacy import forget
from devmentor.storage import postgres

VICTIM = "learner-42"
NO_TELEMETRY = {"telemetry": {"enabled": False}}


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


def _traces_on_disk(root, victim: str) -> list[str]:
    """Every file under root that still holds ``victim``: Parquet by its decoded values (its pages are
    compressed), every other file by its raw bytes (SQLite and DuckDB files included, freed pages too)."""
    import re

    pattern = re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(victim)}(?![A-Za-z0-9_-])".encode())
    found = []
    con = duckdb.connect()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            text = "\n".join(str(r) for r in con.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall())
            hit = pattern.search(text.encode())
        else:
            hit = pattern.search(path.read_bytes())
        if hit:
            found.append(str(path.relative_to(root)))
    return found


def test_forget_reaches_dagster_history_importer_files_and_freed_warehouse_blocks(settings_factory, pg_url):
    """Issue 19 #2: Dagster's run history and step logs, every importer-written inbox file, and the bytes a
    DELETE leaves in the warehouse file's freed blocks; a near id (learner-420) is left alone."""
    import dagster as dg

    settings = settings_factory(database_url=pg_url)
    near = VICTIM + "0"

    @dg.op
    def noisy(context):
        context.log.info(f"quarantined a row of {VICTIM}; kept one of {near}")
        print(f"step output about {VICTIM}")  # noqa: T201 - captured into the step's compute log

    @dg.job
    def job():
        noisy()

    with dg.DagsterInstance.local_temp(str(settings.dagster_home), overrides=NO_TELEMETRY) as instance:
        assert job.execute_in_process(instance=instance).success
    with postgres.connect(pg_url, autocommit=True) as conn:  # what dagster-postgres keeps in schema public
        conn.execute("CREATE TABLE public.event_logs (id serial, event text)")
        conn.execute("INSERT INTO public.event_logs (event) VALUES (%s), (%s)",
                     (json.dumps({"message": f"row of {VICTIM}"}), json.dumps({"message": f"row of {near}"})))
    wh = duckdb.connect(str(settings.warehouse_path))
    wh.execute("CREATE SCHEMA marts")
    wh.execute(f"CREATE TABLE marts.t AS SELECT CASE WHEN i % 3 = 0 THEN '{VICTIM}' ELSE 'other-' || i END AS user_id, "
               "i AS v FROM range(20000) r(i)")
    wh.execute("CHECKPOINT")
    wh.close()
    for rel in ("events/caliper-feed.parquet", "events/2024-05-01-xapi-lrs.jsonl", "profiles/assistments_profiles.parquet"):
        path = settings.inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".parquet":
            pq.write_table(pa.table({"user_id": [VICTIM, near]}), path)
        else:
            path.write_text(json.dumps({"user_id": VICTIM}) + "\n" + json.dumps({"user_id": near}) + "\n")
    assert {"warehouse.duckdb", "inbox/events/caliper-feed.parquet"} <= set(_traces_on_disk(settings.home, VICTIM))

    report = forget(settings, VICTIM)

    assert _traces_on_disk(settings.home, VICTIM) == []
    assert report["warehouse/marts.t"] == 6667 and report["dagster run storage (public.event_logs)"] == 1
    with postgres.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM public.event_logs WHERE event LIKE %s", (f"%{near}%",)).fetchone()[0] == 1
    with dg.DagsterInstance.local_temp(str(settings.dagster_home), overrides=NO_TELEMETRY) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1  # the run is kept, only the id is gone from it
        messages = [e.user_message for e in instance.all_logs(runs[0].run_id)]
        assert any(f"[forgotten]; kept one of {near}" in m for m in messages)
    assert duckdb.connect(str(settings.warehouse_path)).execute("SELECT count(*) FROM marts.t").fetchone()[0] == 13333
    assert set(pq.read_table(settings.inbox / "events" / "caliper-feed.parquet")["user_id"].to_pylist()) == {near}
