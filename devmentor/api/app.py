"""The Learning Engine read API: the seed's endpoints over the serving tables (FastAPI, port 3005).

    devmentor serve [--port 3005]

Read-only: it connects as the serving reader role (SELECT on schema ``serving`` only) through
an async connection pool, and never calls the pipeline. Every list is paginated
(``limit`` 1-100, ``offset`` ≥ 0); an unknown learner or course is a 404, a bad parameter a
422. Responses are cached for a few seconds per URL and the cache is dropped as soon as a new
publish appears in ``serving.publish_log``.
"""

from __future__ import annotations

import gc
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from devmentor.api.routes import learning, operations
from devmentor.api.schemas import API_VERSION
from devmentor.api.service import Serving


def create_app(database_url: str, min_size: int = 2, max_size: int = 10) -> FastAPI:
    """The API over the serving tables at ``database_url`` (connect as the read-only role)."""
    state = Serving()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        gc.freeze()  # the app's long-lived objects leave the collector's young generations: fewer pauses
        pool = AsyncConnectionPool(database_url, min_size=min_size, max_size=max_size, open=False,
                                   kwargs={"autocommit": True, "row_factory": dict_row})
        await pool.open(wait=False)
        state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="DevMentor Learning Engine read API", version=API_VERSION, lifespan=lifespan,
                  description="Read-only access to the per-learner tables the batch pipeline publishes.")
    app.state.serving = state

    @app.middleware("http")
    async def observe(request: Request, call_next):
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            route = request.scope.get("route")
            state.metrics.observe(route.path if route else "unmatched", 500, time.perf_counter() - started)
            raise
        route = request.scope.get("route")
        state.metrics.observe(route.path if route else "unmatched", response.status_code, time.perf_counter() - started)
        return response

    app.include_router(operations)
    app.include_router(learning)
    return app


def serve(database_url: str, host: str = "127.0.0.1", port: int = 3005, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run(create_app(database_url), host=host, port=port, log_level="warning", access_log=False)
