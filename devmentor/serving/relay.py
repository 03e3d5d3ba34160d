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


def forget_in_stream(nats_url: str, user_id: str, timeout_s: float = 5.0) -> int:
    """Delete every message of the decisions stream whose payload names ``user_id``; returns how many.

    The stream is append-only for consumers, but JetStream can delete single messages by sequence, which is
    what forgetting a learner needs (their decisions carry their id). Raises when NATS cannot be reached,
    so forget says which store it could not clean instead of claiming it did."""
    async def run() -> int:
        import nats
        from nats.js.errors import NotFoundError

        nc = await nats.connect(nats_url, connect_timeout=timeout_s, max_reconnect_attempts=0)
        try:
            js = nc.jetstream(timeout=timeout_s)
            try:
                info = await js.stream_info(STREAM)
            except NotFoundError:
                return 0
            removed = 0
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                try:
                    msg = await js.get_msg(STREAM, seq)
                except NotFoundError:
                    continue
                try:
                    names_learner = json.loads(msg.data).get("user_id") == user_id
                except (ValueError, AttributeError):
                    names_learner = user_id.encode() in (msg.data or b"")
                if names_learner:
                    await js.delete_msg(STREAM, seq)
                    removed += 1
            return removed
        finally:
            await nc.close()

    return asyncio.run(run())
