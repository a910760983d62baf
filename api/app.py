"""The web app (step 8 of docs/architecture.md): public portal, JSON API and staff moderation API.

``create_app`` builds one app from explicit settings; the store, the search backend and the templates live
on ``app.state`` and routes reach them through ``api.deps``. Starting the app never crawls.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import staff_i18n
from api.auth import LoginRequired, login_redirect
from api.directory_cache import DirectoryCache
from api.heap import freeze_startup_heap, thaw_heap
from api.metrics import AppMetrics
from api.middleware import LanguageMiddleware, SecurityHeadersMiddleware
from api.nulguard import NulGuardMiddleware
from api.rendering import make_templates, render
from api.requestlog import RequestObserver
from api.routes import (
    feeds,
    health,
    json_api,
    moderation_api,
    moderation_ui,
    portal,
    sitemap,
    websub,
    websub_hub,
    widgets,
)
from api.routes.health_api import router as health_api_router
from api.routes.sources_api import router as sources_api_router
from api.routes.staff_auth import router as staff_auth_router
from api.routes.staff_health import router as staff_health_router
from api.routes.staff_health_pages import router as staff_health_pages_router
from api.routes.staff_sources import router as staff_sources_router
from api.routes.staff_sources_ui import router as staff_sources_ui_router
from api.routes.staff_users import router as staff_users_router
from api.routes.units_api import router as units_api_router
from hub.db import Database, is_disconnect
from hub.reposts import configure_reposts
from hub.settings import Settings
from hub.timeutil import utcnow
from index.backend import SearchBackend
from index.factory import open_backend
from moderation.screening import configure_screening

STATIC_DIR = Path(__file__).resolve().parent / "static"
log = logging.getLogger(__name__)


def create_app(
    settings: Settings, database: Database | None = None, backend: SearchBackend | None = None
) -> FastAPI:
    """A portal app for ``settings``; a given database or backend is used as is and left open on shutdown."""
    owns_database = database is None
    owns_backend = backend is None
    db = database if database is not None else Database(settings.store.url, echo=settings.store.echo)
    configure_screening(db.sessions, settings.moderation)  # WebSub deliveries are screened on ingest
    configure_reposts(db.sessions, settings)  # ... and linked to reposts with the configured policy
    search = backend if backend is not None else open_backend(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        freeze_startup_heap()  # full collections skip the start-up heap: the search tail (api/heap.py)
        yield
        thaw_heap()
        # Release only what this app opened; the caller owns what it passed in.
        if owns_backend:
            search.close()
        if owns_database:
            db.dispose()

    app = FastAPI(
        title="Xinlian 信链",
        summary="Search the approved notices of every unit; staff moderation API.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = db
    app.state.backend = search
    app.state.templates = make_templates(settings.timezone)
    app.state.directory_cache = DirectoryCache()  # /units: the rendered tree between changes
    staff_i18n.install(app.state.templates)
    app.state.clock = utcnow  # tests set another to move session timeouts and the login throttle
    app.state.metrics = AppMetrics.create(db, lambda: app.state.clock())

    # Pure ASGI middlewares (api/middleware.py), added innermost first: the observer times everything.
    app.add_middleware(NulGuardMiddleware)  # innermost of these: its 400 still gets the security headers
    app.add_middleware(LanguageMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestObserver, metrics=app.state.metrics)  # outermost: times everything
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(LoginRequired, login_redirect)
    app.add_exception_handler(DBAPIError, _store_unavailable)
    app.add_exception_handler(Exception, _server_error)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(feeds.router)
    app.include_router(health.router)
    app.include_router(json_api.router)
    app.include_router(units_api_router)
    app.include_router(health_api_router)
    app.include_router(moderation_api.router)
    app.include_router(moderation_ui.router)
    app.include_router(staff_auth_router)
    app.include_router(staff_health_router)
    app.include_router(staff_health_pages_router)
    app.include_router(staff_sources_router)
    app.include_router(staff_sources_ui_router)
    app.include_router(sources_api_router)
    app.include_router(staff_users_router)
    app.include_router(portal.router)
    app.include_router(sitemap.router)
    app.include_router(websub.router)
    app.include_router(websub_hub.router)
    app.include_router(widgets.router)
    return app


def _is_machine_path(request: Request) -> bool:
    """Paths whose errors are JSON (``{"detail": ...}``) rather than a page."""
    return request.url.path.startswith(("/api/", "/healthz", "/readyz", "/metrics", "/static/"))


async def _server_error(request: Request, exc: Exception) -> Response:
    """An unhandled error (a bug): the API keeps its ``{"detail"}`` shape, the portal a translated
    page. Starlette's ServerErrorMiddleware calls this, then re-raises so the server logs the
    traceback; nothing of the exception reaches the client."""
    if _is_machine_path(request):
        return JSONResponse({"detail": "internal server error"}, status_code=500)
    try:
        return render(request, "error.html", {"status": 500}, status_code=500)
    except Exception:  # the page itself may be what is broken: plain text then, and its cause logged
        log.exception("the error page failed to render")
        return PlainTextResponse("Internal Server Error", status_code=500)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    """A lost database connection (a PostgreSQL restart) is a clean 503 with Retry-After; the next
    request reconnects (pool_pre_ping). Any other database error is a bug and stays a 500."""
    if not is_disconnect(exc):
        raise exc
    headers = {"Retry-After": "5"}
    if _is_machine_path(request):
        return JSONResponse(
            {"detail": "the store is temporarily unavailable"}, status_code=503, headers=headers
        )
    response = render(request, "error.html", {"status": 503}, status_code=503)
    response.headers.update(headers)
    return response


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """JSON errors under /api and for health; a translated page everywhere else."""
    if _is_machine_path(request):
        return await http_exception_handler(request, exc)
    if exc.status_code == 404:
        return render(request, "error.html", {"status": 404}, status_code=404)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
