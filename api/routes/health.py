"""Operations endpoints (docs/architecture.md step 8): ``/healthz``, ``/readyz`` and ``/metrics``.

- ``/readyz``: may this process take traffic? 503 when the store is unreachable; 200 ``degraded`` when
  only search is down (pages and the API still work; every process shares the one index, so taking
  them all out of a load balancer would turn a degraded portal into an outage).
- ``/healthz``: liveness only: the process answers requests (a container orchestrator restarts it when
  not). It checks nothing else, so a database outage never makes every web process restart at once.
- ``/metrics``: Prometheus exposition (``api/metrics.py``), for loopback clients, or for anyone with
  ``web.metrics_token`` as a bearer token when one is set.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.csrf import tokens_match
from api.deps import BackendDep, DatabaseDep, SettingsDep
from api.metrics import AppMetrics
from hub.db import Database
from index.backend import SearchBackend, SearchBackendError

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


def _database_ok(database: Database) -> bool:
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        logger.exception("health check: database unreachable")
        return False
    return True


def _search_state(backend: SearchBackend) -> tuple[bool, str, int | None]:
    """(answers, detail, documents) of the search backend; never raises."""
    if hasattr(type(backend), "health"):
        health = backend.health()
        if not health.ok:
            logger.error("health check: search backend: %s", health.detail)
            return False, health.detail, None
    try:
        return True, "ok", backend.count()
    except SearchBackendError as exc:
        logger.exception("health check: search backend unreachable")
        return False, str(exc), None


def _checks(database: Database, backend: SearchBackend) -> JSONResponse:
    body: dict[str, Any] = {"database": "ok" if _database_ok(database) else "unreachable"}
    search_ok, _detail, documents = _search_state(backend)
    body["search"] = "ok" if search_ok else "unreachable"
    if documents is not None:
        body["documents"] = documents
    if body["database"] != "ok":
        body["status"] = "down"
        return JSONResponse(body, status_code=503)
    body["status"] = "ok" if search_ok else "degraded"
    return JSONResponse(body)


@router.get("/readyz")
def readyz(database: DatabaseDep, backend: BackendDep) -> JSONResponse:
    """200 ``ok`` or ``degraded`` (search down: pages still work); 503 when the store is unreachable."""
    return _checks(database, backend)


@router.get("/healthz")
def healthz() -> JSONResponse:
    """200 while the process serves requests; dependencies are /readyz's business."""
    return JSONResponse({"status": "ok"})


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _check_metrics_access(request: Request, token: str) -> None:
    if token:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and tokens_match(token, value.strip()):
            return
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "metrics need the bearer token of web.metrics_token",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if not _is_loopback(request.client.host if request.client else ""):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "metrics are served to loopback clients only (or set web.metrics_token)",
        )


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, settings: SettingsDep) -> Response:
    """Prometheus metrics; the store's gauges are read now."""
    _check_metrics_access(request, settings.web.metrics_token.get_secret_value())
    app_metrics: AppMetrics = request.app.state.metrics
    return Response(
        app_metrics.exposition(),
        media_type=CONTENT_TYPE_LATEST,
        headers={"Cache-Control": "no-store"},
    )
