"""The JSON API refuses query parameters it does not document, instead of ignoring them.

``/api/v1/search?q=党建&size=50`` used to answer a page of the default size (the parameter is
``limit``), leaving the client to guess why. Routers of the JSON API depend on
``refuse_unknown_query``: a parameter that is not among the operation's query parameters in the
OpenAPI schema (the contract clients read) gets a 422 in FastAPI's validation shape naming it and the
ones the endpoint takes. Allowed anywhere: ``lang`` (the language middleware's, api/middleware.py) and
names starting with ``_`` (cache busters such as ``_=``).
Portal pages, feeds and widgets stay lenient: feed readers and embedding sites add their own parameters.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

ALWAYS_ALLOWED = frozenset({"lang"})


def _documented(request: Request, route: APIRoute) -> set[str] | None:
    """The operation's query parameter names, or None when the schema does not describe it."""
    schema: dict[str, Any] = request.app.openapi()  # built once per app, then cached by FastAPI
    operation = schema.get("paths", {}).get(route.path_format, {}).get(request.method.lower())
    if operation is None:
        return None
    return {param["name"] for param in operation.get("parameters", []) if param.get("in") == "query"}


def refuse_unknown_query(request: Request) -> None:
    """A router dependency: 422 for a query parameter the endpoint does not take."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _documented(request, route)
    if known is None:
        return
    unknown = [
        name
        for name in dict.fromkeys(request.query_params.keys())
        if name not in known and name not in ALWAYS_ALLOWED and not name.startswith("_")
    ]
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": f"unknown query parameter; this endpoint takes: {takes}",
                    "input": request.query_params.get(name),
                }
                for name in unknown
            ]
        )
