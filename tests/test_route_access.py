"""Every non-public route refuses anonymous access: the test walks the app's route table.

A route is public only if it is named in PUBLIC (or matches PUBLIC_FAMILIES) below. Every other route,
with every method it answers, is requested anonymously with plausible path parameters and must send
the visitor to the sign-in page (staff pages) or answer 401 (API) — never 2xx. A new staff route needs
no change here to be covered; a new public route must be added to PUBLIC on purpose. The same walk
with a viewer's credentials (HTTP Basic, bearer token, session cookie with its CSRF token) proves that
every state-changing staff route, and the admins' pages, refuse viewers; and an admin's session cookie
without its CSRF token changes nothing through any state-changing route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, text

from api.sessions import SESSION_COOKIE
from hub.apitokens import create_token
from hub.db import Database
from hub.models import Role, StaffSession
from hub.users import find_user
from tests.fixtures.web import STAFF_PASSWORD, add_user
from tests.moderation_seed import Queue, seed_queue
from tests.test_staff_auth import page_csrf, sign_in

# Public by design: portal pages, the public JSON API, health, sign-in, API docs, static files.
PUBLIC = frozenset(
    {
        "/",
        "/search",
        "/items/{item_id}",
        "/units/{slug}",
        "/units",  # the directory of every unit
        "/sitemap.xml",
        "/sitemap-{page:int}.xml",  # parts of a sitemap over 50,000 URLs
        "/robots.txt",
        "/api/v1/search",
        "/api/v1/search/suggest",
        "/api/v1/items/{item_id}",  # approved items only, unless staff credentials come with it
        "/api/v1/items/{item_id}/related",
        "/api/v1/units",  # the directory and units as the portal shows them; staff see disabled sources
        "/api/v1/units/{unit}",
        "/api/v1/units/{unit}/items",  # approved items only
        "/healthz",
        "/readyz",
        "/staff",  # only redirects to /staff/queue, which asks for sign-in
        "/staff/login",
        "/staff/logout",  # ends the caller's own session (with its CSRF token); nothing to protect
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/static",
    }
)
# Families of public routes: feeds (/feed.rss, /units/x/feed.atom, /search/feed.json...), widgets and
# WebSub (the hub's subscription endpoint and our subscriber callbacks, which check their own secrets).
PUBLIC_FAMILIES = (
    re.compile(r"(^|/)feed\.\{fmt\}$"),
    re.compile(r"^/widgets?(/|$)"),
    re.compile(r"^/websub/"),
)
# Protected by something other than staff credentials: loopback-only or web.metrics_token.
OPERATOR = frozenset({"/metrics"})
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    path: str


def is_public(template: str) -> bool:
    return template in PUBLIC or any(family.search(template) for family in PUBLIC_FAMILIES)


def fill(template: str, values: dict[str, str]) -> str:
    """The template with each {name} (or {name:converter}) replaced by a plausible value."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":", 1)[0]
        return values.get(name, "1")

    return re.sub(r"\{([^}]+)\}", value, template)


def endpoints(app: FastAPI, values: dict[str, str]) -> list[Endpoint]:
    """Every (method, route) of the app that is neither public nor an operator endpoint."""
    found = []
    for route in iter_route_contexts(app.routes):
        template = route.path
        if template is None or is_public(template) or template in OPERATOR:
            continue
        for method in sorted(route.methods or {"GET"}):
            if method == "HEAD":
                continue
            found.append(Endpoint(method, template, fill(template, values)))
    return found


@pytest.fixture
def seeded(database: Database) -> tuple[Queue, dict[str, str]]:
    queue = seed_queue(database)
    add_user(database, "watcher", Role.VIEWER)
    add_user(database, "alice", Role.MODERATOR)
    with database.session() as session:
        watcher = find_user(session, "watcher")
        assert watcher is not None
    values = {
        "item_id": str(queue.east_clean[0]),
        "user_id": str(watcher.id),
        "slug": "east",
        "action": "approve",
        "token": "x" * 32,
        "fmt": "rss",
        "category": "news",
        "path": "staff.js",
    }
    return queue, values


def _request(client: TestClient, endpoint: Endpoint, headers: dict[str, str] | None = None) -> httpx.Response:
    """The request a browser or API client would send: staff forms post form data with the CSRF field,
    API writes post JSON."""
    headers = dict(headers or {})
    if endpoint.method == "GET":
        return client.get(endpoint.path, headers=headers, follow_redirects=False)
    if endpoint.template.startswith("/staff/"):
        data = {"csrf_token": headers.pop("X-CSRF-Token", "")}
        return client.request(
            endpoint.method, endpoint.path, data=data, headers=headers, follow_redirects=False
        )
    return client.request(endpoint.method, endpoint.path, json={}, headers=headers, follow_redirects=False)


def test_the_walk_sees_the_staff_routes(app: FastAPI, seeded: tuple[Queue, dict[str, str]]) -> None:
    templates = {endpoint.template for endpoint in endpoints(app, seeded[1])}
    # If these are missing, the walk is broken (not the app secure).
    assert {"/staff/queue", "/staff/users", "/api/v1/moderation/queue", "/api/v1/staff/search"} <= templates
    templates_in_app = {route.path for route in iter_route_contexts(app.routes)}
    assert templates_in_app >= PUBLIC, f"stale PUBLIC entries: {sorted(PUBLIC - templates_in_app)}"


def test_every_non_public_route_refuses_anonymous_visitors(
    app: FastAPI, client: TestClient, seeded: tuple[Queue, dict[str, str]]
) -> None:
    wrong = []
    for endpoint in endpoints(app, seeded[1]):
        response = _request(client, endpoint)
        if endpoint.template.startswith("/staff/"):
            ok = response.status_code == 303 and response.headers["location"].startswith("/staff/login?next=")
        else:
            ok = response.status_code == 401
        if not ok:
            wrong.append(f"{endpoint.method} {endpoint.path}: {response.status_code}")
    assert wrong == [], "anonymous access not refused (add a route to PUBLIC only if it is public)"


def test_metrics_are_not_served_to_anonymous_remote_clients(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 403  # the test client is not a loopback address


def test_staff_credentials_reach_every_staff_page(
    app: FastAPI, client: TestClient, seeded: tuple[Queue, dict[str, str]]
) -> None:
    """The walk's paths resolve: with a moderator's credentials the same GETs answer (no 401/404)."""
    sign_in(client, "alice")
    refused = []
    for endpoint in endpoints(app, seeded[1]):
        if endpoint.method != "GET":
            continue
        status = client.get(endpoint.path, follow_redirects=False).status_code
        expected = 403 if endpoint.template.startswith("/staff/users") else 200  # users: admins only
        if status != expected:
            refused.append(f"GET {endpoint.path}: {status}")
    assert refused == []


@pytest.mark.parametrize("how", ["basic", "token", "session"])
def test_viewers_cannot_change_anything_or_open_admin_pages(
    app: FastAPI, client: TestClient, database: Database, seeded: tuple[Queue, dict[str, str]], how: str
) -> None:
    headers: dict[str, str] = {}
    if how == "token":
        with database.session() as session:
            watcher = find_user(session, "watcher")
            assert watcher is not None
            headers["Authorization"] = "Bearer " + create_token(session, watcher).secret
    elif how == "session":
        sign_in(client, "watcher")
        headers["X-CSRF-Token"] = page_csrf(client)
    else:
        client.auth = ("watcher", STAFF_PASSWORD)
    wrong = []
    for endpoint in endpoints(app, seeded[1]):
        if endpoint.method == "GET" and not endpoint.template.startswith("/staff/users"):
            continue
        response = _request(client, endpoint, headers)
        # Refused for being a viewer, not for a CSRF slip of the test itself.
        if response.status_code != 403 or "CSRF" in response.text:
            wrong.append(f"{endpoint.method} {endpoint.path}: {response.status_code} {response.text[:80]}")
    assert wrong == []


# Routes a signed-in browser's cookie never authenticates, so CSRF is not their defence: the WebSub
# hub's subscription endpoint and our subscriber callbacks (public, they check their own secrets and
# HMAC signatures, never the session). Every other state-changing route, public or not, is walked: a
# route that ignores the cookie (a token-only API write) would answer 401 and be caught as wrong, so
# none is exempted by guess. /staff/login has no session yet: its double-submit token is checked in
# its own test below, with a right password, and it answers its form again (400) rather than 403.
NO_COOKIE_AUTH = (re.compile(r"^/websub/"), re.compile(r"^/staff/login$"))
# Rows a refused request may still touch: the session's last-seen time is written on every request.
BOOKKEEPING_TABLES = frozenset({"staff_sessions", "login_failures"})


def state_changing_routes(app: FastAPI, values: dict[str, str]) -> list[Endpoint]:
    """Every (POST/PUT/PATCH/DELETE, route) a session cookie could authenticate."""
    found = []
    for route in iter_route_contexts(app.routes):
        template = route.path
        if template is None or any(family.search(template) for family in NO_COOKIE_AUTH):
            continue
        for method in sorted(set(route.methods or ()) & set(UNSAFE)):
            found.append(Endpoint(method, template, fill(template, values)))
    return found


def store_snapshot(database: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the session bookkeeping, in a comparable form."""
    tables = sorted(set(inspect(database.engine).get_table_names()) - BOOKKEEPING_TABLES)
    with database.session() as session:
        return {
            table: sorted(
                (tuple(row) for row in session.execute(text(f'SELECT * FROM "{table}"'))),
                key=repr,
            )
            for table in tables
        }


def test_every_state_changing_route_refuses_a_session_without_its_csrf_token(
    app: FastAPI, client: TestClient, database: Database, seeded: tuple[Queue, dict[str, str]]
) -> None:
    """An admin's browser session (the strongest cookie) sends every write with no CSRF token, as a
    form (staff pages) or JSON (staff.js, the API): each is refused with 403 and the store is unchanged.
    No Origin/Sec-Fetch-Site header is sent, so the refusal is the CSRF check's, not the cross-site one."""
    add_user(database, "root", Role.ADMIN)
    assert sign_in(client, "root").status_code == 303
    walked = state_changing_routes(app, seeded[1])
    templates = {endpoint.template for endpoint in walked}
    # If these are missing, the walk is broken (not the app protected).
    assert {"/staff/users", "/api/v1/moderation/items/{item_id}/{action}", "/staff/logout"} <= templates
    before = store_snapshot(database)
    wrong = []
    for endpoint in walked:
        response = _request(client, endpoint)
        if response.status_code != 403:
            wrong.append(f"{endpoint.method} {endpoint.path}: {response.status_code} {response.text[:80]}")
    assert wrong == [], "a cookie-authenticated write went through without its CSRF token"
    assert store_snapshot(database) == before
    assert client.get("/staff/queue", follow_redirects=False).status_code == 200  # still signed in


def test_sign_in_without_the_form_token_starts_no_session(client: TestClient, database: Database) -> None:
    """The right password posted without the sign-in form's double-submit token (another site's form)
    is refused: the form again with 400, no session cookie, no session row."""
    add_user(database, "root", Role.ADMIN)
    client.get("/staff/login")  # the browser holds a fresh login cookie, but the form omits its value
    response = client.post(
        "/staff/login",
        data={"username": "root", "password": STAFF_PASSWORD, "next": "/staff"},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert client.get("/staff/queue", follow_redirects=False).status_code == 303
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(StaffSession)) == 0
