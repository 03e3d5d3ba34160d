"""The Learning Engine read API: the seed's endpoints over the serving tables (FastAPI, port 3005).

    devmentor serve [--port 3005]

The interactive documentation (``/docs``, Swagger UI; ``/redoc``, ReDoc) is served with its JavaScript
and CSS from this process (``/docs-assets/``, the files the ``fastapi-offline`` package ships), so it
renders on a machine without internet access.

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
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from devmentor.api.routes import learning, operations
from devmentor.api.schemas import API_VERSION
from devmentor.api.service import Serving

DOCS_ASSETS = "/docs-assets"


def docs_assets_dir():
    """Swagger UI and ReDoc bundles as shipped by the fastapi-offline package (no CDN at run time)."""
    from importlib.resources import files

    return files("fastapi_offline") / "static"


def add_offline_docs(app: FastAPI) -> None:
    """/docs and /redoc with every asset served locally (FastAPI's default pages load them from a CDN)."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(docs_assets_dir())), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None})  # no badge fetched from validator.swagger.io

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png", with_google_fonts=False)


DESCRIPTION = """Read-only access to the per-learner tables the batch pipeline publishes to PostgreSQL (schema
``serving``): decisions, learning paths, quizzes, reviews, mastery, recommendations, XP and leaderboards, course
analytics, and the lists of learners and courses.

* Every list is paged with ``limit`` (1-100) and ``offset``, and reports its ``total``.
* An unknown learner or course is a 404; a bad parameter a 422; a database that is down or not yet
  published a 503.
* Responses are cached for a few seconds per URL; a new publish drops the cache.
"""


def create_app(database_url: str, min_size: int = 2, max_size: int = 10) -> FastAPI:
    """The API over the serving tables at ``database_url`` (connect as the read-only role)."""
    state = Serving()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        gc.freeze()  # the app's long-lived objects leave the collector's young generations: fewer pauses
        pool = AsyncConnectionPool(database_url, min_size=min_size, max_size=max_size, open=False,
                                   kwargs={"autocommit": True, "row_factory": dict_row})
        await pool.open(wait=False)
        # A nested startup (a second test client on the same app, as schemathesis opens) gets its own pool on
        # its own event loop; the outer one is put back when it ends instead of being left with a closed pool.
        previous, state.pool = state.pool, pool
        try:
            yield
        finally:
            state.pool = previous
            await pool.close()

    app = FastAPI(title="DevMentor Learning Engine read API", version=API_VERSION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, description=DESCRIPTION)
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

    add_offline_docs(app)
    app.include_router(operations)
    app.include_router(learning)
    return app


def serve(database_url: str, host: str = "127.0.0.1", port: int = 3005, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run(create_app(database_url), host=host, port=port, log_level="warning", access_log=False)
