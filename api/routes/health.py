"""``/healthz``: is the store reachable, is the search index reachable (degraded, not down, without it)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import BackendDep, DatabaseDep
from index.backend import SearchBackendError

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(database: DatabaseDep, backend: BackendDep) -> JSONResponse:
    """200 ``ok`` or ``degraded`` (search down: pages still work); 503 when the store is unreachable."""
    body: dict[str, Any] = {"database": "ok", "search": "ok"}
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        logger.exception("health check: database unreachable")
        body["database"] = "unreachable"
    try:
        body["documents"] = backend.count()
    except SearchBackendError:
        logger.exception("health check: search backend unreachable")
        body["search"] = "unreachable"
    if body["database"] != "ok":
        body["status"] = "down"
        return JSONResponse(body, status_code=503)
    body["status"] = "ok" if body["search"] == "ok" else "degraded"
    return JSONResponse(body)
