"""Relay the transactional decision outbox to NATS JetStream.

Decisions and their outbox rows commit in one transaction; this relay then publishes
unrelayed rows in outbox order and marks them relayed. If NATS is down the rows stay
in the outbox and the next run sends them: delivery is at least once, and JetStream
drops duplicates within its window because each message carries its trace id as
``Nats-Msg-Id``. Any other consumer (a Kafka connector, ...) can read the same outbox.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import psycopg

STREAM = "DEVMENTOR_DECISIONS"
SUBJECTS = ["devmentor.decisions.>"]


@dataclass
class RelayResult:
    relayed: int
    pending: int
    seconds: float
    error: str | None = None


async def _relay(conn: psycopg.Connection, nats_url: str, batch: int, timeout_s: float) -> int:
    import nats

    nc = await nats.connect(nats_url, connect_timeout=timeout_s, max_reconnect_attempts=1, allow_reconnect=False)
    try:
        js = nc.jetstream(timeout=timeout_s)
        try:
            await js.stream_info(STREAM)
        except Exception:  # stream missing: create it
            await js.add_stream(name=STREAM, subjects=SUBJECTS)
        relayed = 0
        while True:
            rows = conn.execute(
                "SELECT outbox_id, trace_id, topic, payload FROM serving.decision_outbox "
                "WHERE relayed_at IS NULL ORDER BY outbox_id LIMIT %s",
                (batch,),
            ).fetchall()
            if not rows:
                return relayed
            acks = await asyncio.gather(
                *(
                    js.publish(topic, json.dumps(payload, default=str).encode(), headers={"Nats-Msg-Id": trace_id})
                    for _id, trace_id, topic, payload in rows
                )
            )
            del acks
            with conn.transaction():
                conn.execute(
                    "UPDATE serving.decision_outbox SET relayed_at = now() WHERE outbox_id = ANY(%s)",
                    ([r[0] for r in rows],),
                )
                # Delivery is recorded when it happens: acknowledged by JetStream, with the latency from the
                # decision to its delivery.
                conn.execute(
                    """UPDATE serving.delivery_log d SET response_status = 'delivered', delivery_timestamp = now(),
                              latency_ms = 1000 * extract(epoch FROM now() - (o.payload->>'decided_at')::timestamptz)
                       FROM serving.decision_outbox o
                       WHERE o.outbox_id = ANY(%s) AND d.trace_id = o.trace_id AND d.response_status = 'queued'""",
                    ([r[0] for r in rows],),
                )
            relayed += len(rows)
    finally:
        await nc.close()


def relay_outbox(conn: psycopg.Connection, nats_url: str, batch: int = 2000, timeout_s: float = 5.0) -> RelayResult:
    """Publish every unrelayed outbox row to JetStream; never raises for NATS being unreachable."""
    started = time.perf_counter()
    error = None
    relayed = 0
    try:
        relayed = asyncio.run(_relay(conn, nats_url, batch, timeout_s))
    except Exception as exc:  # unreachable server, timeouts: rows stay in the outbox for the next run
        error = f"{type(exc).__name__}: {exc}".strip()[:300]
    pending = conn.execute("SELECT count(*) FROM serving.decision_outbox WHERE relayed_at IS NULL").fetchone()[0]
    return RelayResult(relayed=relayed, pending=pending, seconds=time.perf_counter() - started, error=error)
