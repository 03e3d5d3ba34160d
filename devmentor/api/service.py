"""What every route shares: the connection pool, the response cache (dropped on each publish) and the metrics."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import Response

from devmentor.api.schemas import CACHE_ENTRIES, CACHE_SECONDS


class Metrics:
    BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        self.errors: dict[str, int] = {}
        self.latency: dict[str, list[float]] = {}
        self.latency_sum: dict[str, float] = {}
        self.cache_hits = 0
        self.cache_misses = 0

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests[(route, status)] = self.requests.get((route, status), 0) + 1
        if status >= 500:
            self.errors[route] = self.errors.get(route, 0) + 1
        counts = self.latency.setdefault(route, [0] * (len(self.BUCKETS) + 1))
        for i, b in enumerate(self.BUCKETS):
            if seconds <= b:
                counts[i] += 1
        counts[-1] += 1
        self.latency_sum[route] = self.latency_sum.get(route, 0.0) + seconds

    def render(self) -> str:
        out = ["# HELP devmentor_api_requests_total Requests by route and status.",
               "# TYPE devmentor_api_requests_total counter"]
        out += [f'devmentor_api_requests_total{{route="{r}",status="{s}"}} {n}' for (r, s), n in sorted(self.requests.items())]
        out += ["# HELP devmentor_api_errors_total Server errors by route.", "# TYPE devmentor_api_errors_total counter"]
        out += [f'devmentor_api_errors_total{{route="{r}"}} {n}' for r, n in sorted(self.errors.items())]
        out += ["# HELP devmentor_api_request_seconds Request latency.", "# TYPE devmentor_api_request_seconds histogram"]
        for route, counts in sorted(self.latency.items()):
            for b, n in zip(self.BUCKETS, counts):
                out.append(f'devmentor_api_request_seconds_bucket{{route="{route}",le="{b}"}} {n}')
            out.append(f'devmentor_api_request_seconds_bucket{{route="{route}",le="+Inf"}} {counts[-1]}')
            out.append(f'devmentor_api_request_seconds_sum{{route="{route}"}} {self.latency_sum[route]:.6f}')
            out.append(f'devmentor_api_request_seconds_count{{route="{route}"}} {counts[-1]}')
        out += ["# HELP devmentor_api_cache_hits_total Responses served from the cache.",
                "# TYPE devmentor_api_cache_hits_total counter", f"devmentor_api_cache_hits_total {self.cache_hits}",
                "# HELP devmentor_api_cache_misses_total Responses computed from the database.",
                "# TYPE devmentor_api_cache_misses_total counter", f"devmentor_api_cache_misses_total {self.cache_misses}"]
        return "\n".join(out) + "\n"


class Cache:
    """A small TTL cache, dropped whole when the latest publish id changes."""

    def __init__(self, seconds: float = CACHE_SECONDS, entries: int = CACHE_ENTRIES) -> None:
        self.seconds, self.entries = seconds, entries
        self.data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self.publish_id: str | None = None
        self.checked_at = 0.0

    def get(self, key: str):
        hit = self.data.get(key)
        if hit and time.monotonic() - hit[0] < self.seconds:
            return hit[1]
        return None

    def put(self, key: str, value) -> None:
        self.data[key] = (time.monotonic(), value)
        self.data.move_to_end(key)
        while len(self.data) > self.entries:
            self.data.popitem(last=False)


class Serving:
    """The app's shared state: ``pool`` is opened by the app's lifespan."""

    def __init__(self) -> None:
        self.metrics = Metrics()
        self.cache = Cache()
        self.pool = None

    async def fetch(self, sql: str, *params) -> list[dict]:
        """Rows of ``sql`` with positional ``%s`` parameters, or one dict for named ``%(name)s`` ones."""
        args = params[0] if len(params) == 1 and isinstance(params[0], dict) else params
        try:
            async with self.pool.connection(timeout=5) as conn:
                cur = await conn.execute(sql, args)
                return await cur.fetchall()
        except HTTPException:
            raise
        except Exception as exc:  # database down, table not published yet, ...
            raise HTTPException(503, f"serving database unavailable or not yet published: {type(exc).__name__}") from None

    async def fresh_cache(self) -> None:
        """Drop cached responses when a new publish has landed (checked at most once a second)."""
        now = time.monotonic()
        if now - self.cache.checked_at < 1.0:
            return
        self.cache.checked_at = now
        # publish_log is append-only: its size and newest time change with every publish
        rows = await self.fetch("SELECT count(*) || ':' || coalesce(max(published_at)::text, '') AS p FROM serving.publish_log")
        latest = rows[0]["p"] if rows else None
        if latest != self.cache.publish_id:
            self.cache.data.clear()
            self.cache.publish_id = latest

    async def cached(self, key: str, compute) -> Response:
        """The response for ``key`` as JSON bytes: rendered once per publish, then served as is."""
        await self.fresh_cache()
        hit = self.cache.get(key)
        if hit is not None:
            self.metrics.cache_hits += 1
            return Response(hit, media_type="application/json")
        self.metrics.cache_misses += 1
        body = (await compute()).model_dump_json().encode()
        self.cache.put(key, body)
        return Response(body, media_type="application/json")

    async def require_learner(self, user_id: str) -> None:
        rows = await self.fetch(
            "SELECT 1 FROM serving.learner_xp WHERE user_id = %s UNION ALL "
            "SELECT 1 FROM serving.learner_decisions WHERE user_id = %s LIMIT 1", user_id, user_id)
        if not rows:
            raise HTTPException(404, f"unknown learner {user_id!r}")


def serving(request: Request) -> Serving:
    """FastAPI dependency: the app's shared state."""
    return request.app.state.serving
