"""Staff sign-in: sessions in the store, CSRF, throttling, API tokens, roles, the users page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.csrf import LOGIN_COOKIE
from api.sessions import SESSION_COOKIE
from hub.apitokens import create_token
from hub.db import Database
from hub.models import LoginFailure, Role, StaffSession, User
from hub.settings import Settings
from hub.users import find_user, set_active
from tests.fixtures.web import STAFF_PASSWORD, add_user
from tests.moderation_seed import Queue, seed_queue

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """The app's clock, moved by the test."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app: FastAPI) -> FakeClock:
    fake = FakeClock()
    app.state.clock = fake
    return fake


@pytest.fixture
def queue(database: Database) -> Queue:
    seeded = seed_queue(database)
    add_user(database, "alice", Role.MODERATOR)
    add_user(database, "east-mod", Role.MODERATOR, unit_scope_id=seeded.east)
    add_user(database, "watcher", Role.VIEWER)
    add_user(database, "root", Role.ADMIN)
    return seeded


def form_token(html: str) -> str:
    """The hidden csrf_token of the first form on a page."""
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found, "no csrf_token field"
    return found.group(1)


def page_csrf(client: TestClient) -> str:
    """The session's CSRF token as staff.js reads it (data-csrf on the staff pages' body)."""
    page = client.get("/staff/queue")
    assert page.status_code == 200
    found = re.search(r'data-csrf="([^"]+)"', page.text)
    assert found, "no data-csrf on the staff page"
    return found.group(1)


def sign_in(
    client: TestClient, username: str, password: str = STAFF_PASSWORD, next_url: str = "/staff"
) -> httpx.Response:
    """Fill in the sign-in form as a browser would; the response is not followed."""
    form = client.get("/staff/login")
    assert form.status_code == 200
    return client.post(
        "/staff/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": form_token(form.text),
            "next": next_url,
        },
        follow_redirects=False,
    )


def session_count(database: Database, username: str) -> int:
    with database.session() as session:
        return (
            session.scalar(
                select(func.count()).select_from(StaffSession).join(User).where(User.username == username)
            )
            or 0
        )


def test_sign_in_starts_a_store_backed_session_with_a_hardened_cookie(
    client: TestClient, queue: Queue, database: Database, clock: FakeClock
) -> None:
    anonymous = client.get("/staff/queue", params={"state": "pending"}, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/staff/login?next=/staff/queue%3Fstate%3Dpending"
    form = client.get(anonymous.headers["location"])
    assert form.status_code == 200 and "工作人员登录" in form.text
    assert 'name="next" value="/staff/queue?state=pending"' in form.text
    assert form.headers["cache-control"] == "no-store, private"

    response = sign_in(client, "alice", next_url="/staff/queue?state=pending")
    assert response.status_code == 303 and response.headers["location"] == "/staff/queue?state=pending"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "="))
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
    assert "secure" not in lowered  # the test portal's base URL is http
    # The cookie is a signed random token: the store keeps only its digest.
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    with database.session() as session:
        row = session.scalars(select(StaffSession)).one()
        assert value.split(".", 1)[0] not in row.token_hash and len(row.token_hash) == 64
        assert row.expires_at == T0 + timedelta(hours=12)
    page = client.get("/staff/queue")
    assert page.status_code == 200 and "退出登录" in page.text
    # A tampered cookie is anonymous.
    client.cookies.set(SESSION_COOKIE, value[:-2] + "xx")
    assert client.get("/staff/queue", follow_redirects=False).status_code == 303


def test_secure_cookie_when_the_portal_is_served_over_https(
    settings: Settings, database: Database, app: FastAPI, queue: Queue
) -> None:
    https = settings.model_copy(
        update={"web": settings.web.model_copy(update={"base_url": "https://hub.example"})}
    )
    # Secure cookies travel over https only: the sign-in form's own cookie too.
    with TestClient(create_app(https, database, app.state.backend), base_url="https://testserver") as client:
        response = sign_in(client, "alice")
        cookie = next(
            h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "=")
        )
        assert "secure" in cookie.lower()


def test_wrong_password_and_forged_login_form_are_refused(client: TestClient, queue: Queue) -> None:
    wrong = sign_in(client, "alice", "wrong password")
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    # A form posted without the sign-in page's cookie (another site's form) is refused outright.
    client.cookies.delete(LOGIN_COOKIE, path="/staff/login")
    forged = client.post(
        "/staff/login",
        data={"username": "alice", "password": STAFF_PASSWORD, "csrf_token": "guess"},
        follow_redirects=False,
    )
    assert forged.status_code == 400
    assert client.get("/staff/queue", follow_redirects=False).status_code == 303
    cross_site = client.get("/staff/login")
    refused = client.post(
        "/staff/login",
        data={"username": "alice", "password": STAFF_PASSWORD, "csrf_token": form_token(cross_site.text)},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert refused.status_code == 400


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/\t/evil"]
)
def test_sign_in_never_redirects_off_site(client: TestClient, queue: Queue, target: str) -> None:
    response = sign_in(client, "alice", next_url=target)
    assert response.status_code == 303 and response.headers["location"] == "/staff"


def test_idle_and_absolute_timeouts_end_the_session(
    client: TestClient, queue: Queue, database: Database, clock: FakeClock
) -> None:
    sign_in(client, "alice")
    clock.advance(minutes=59)
    assert client.get("/staff/queue").status_code == 200  # used: the idle timer starts again
    clock.advance(minutes=59)
    assert client.get("/staff/queue").status_code == 200
    clock.advance(minutes=61)
    assert client.get("/staff/queue", follow_redirects=False).status_code == 303
    assert session_count(database, "alice") == 0  # the expired row is gone

    sign_in(client, "alice")
    for _ in range(12):  # busy all day, but the session still ends 12 hours after sign-in
        clock.advance(minutes=59)
        assert client.get("/staff/queue", follow_redirects=False).status_code == 200
    clock.advance(minutes=13)
    assert client.get("/staff/queue", follow_redirects=False).status_code == 303


def test_logout_needs_the_csrf_token_and_ends_the_session_in_the_store(
    client: TestClient, queue: Queue, database: Database
) -> None:
    sign_in(client, "alice")
    cookie = client.cookies.get(SESSION_COOKIE)
    token = page_csrf(client)
    assert (
        client.post("/staff/logout", data={"csrf_token": "wrong"}, follow_redirects=False).status_code == 403
    )
    assert session_count(database, "alice") == 1
    out = client.post("/staff/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/staff/login?signed_out=1"
    assert session_count(database, "alice") == 0
    # The old cookie, replayed, is worth nothing: the row is gone.
    client.cookies.set(SESSION_COOKIE, cookie or "")
    assert client.get("/staff/queue", follow_redirects=False).status_code == 303


def test_deactivation_ends_sessions_at_once(client: TestClient, queue: Queue, database: Database) -> None:
    sign_in(client, "alice")
    assert client.get("/staff/queue").status_code == 200
    with database.session() as session:
        user = find_user(session, "alice")
        assert user is not None
        set_active(session, user, False)
    assert session_count(database, "alice") == 0
    assert client.get("/staff/queue", follow_redirects=False).status_code == 303
    assert sign_in(client, "alice").status_code == 401


def test_cookie_writes_need_the_session_csrf_token(client: TestClient, queue: Queue) -> None:
    sign_in(client, "alice")
    url = f"/api/v1/moderation/items/{queue.east_clean[0]}/claim"
    missing = client.post(url, json={})
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    assert client.post(url, json={}, headers={"X-CSRF-Token": "not-it"}).status_code == 403
    claimed = client.post(url, json={}, headers={"X-CSRF-Token": page_csrf(client)})
    assert claimed.status_code == 200 and claimed.json()["claim"]["by"] == "alice"
    # Reads need no token; the cross-site check of api/crossorigin.py still applies on top.
    assert client.get("/api/v1/moderation/queue").status_code == 200
    foreign = client.post(
        url, json={}, headers={"X-CSRF-Token": page_csrf(client), "Sec-Fetch-Site": "cross-site"}
    )
    assert foreign.status_code == 403


def test_ended_session_makes_the_api_say_401_without_a_basic_challenge(
    client: TestClient, queue: Queue, clock: FakeClock
) -> None:
    sign_in(client, "alice")
    clock.advance(hours=2)
    response = client.get("/api/v1/moderation/queue")
    assert response.status_code == 401 and "www-authenticate" not in response.headers


def test_throttle_locks_a_name_after_five_failures_and_lets_it_go_later(
    client: TestClient, queue: Queue, database: Database, clock: FakeClock
) -> None:
    for _ in range(5):
        assert sign_in(client, "alice", "wrong").status_code == 401
        clock.advance(minutes=2)
    locked = sign_in(client, "alice")  # even the right password: the name is locked
    assert locked.status_code == 429 and "登录失败次数过多" in locked.text
    assert int(locked.headers["retry-after"]) > 0
    # HTTP Basic shares the same lock.
    basic = client.get("/api/v1/moderation/queue", auth=("alice", STAFF_PASSWORD))
    assert basic.status_code == 429 and "retry-after" in basic.headers
    # Another name from the same address is not locked by alice's five failures (the address limit is 20).
    assert sign_in(client, "east-mod").status_code == 303
    clock.advance(minutes=16)
    assert sign_in(client, "alice").status_code == 303
    with database.session() as session:  # success forgets the name's failures
        left = session.scalar(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.scope == "user")
        )
    assert left == 0


def test_throttle_counts_basic_failures_and_locks_the_address(
    settings: Settings, database: Database, app: FastAPI, queue: Queue
) -> None:
    strict = settings.model_copy(
        update={"web": settings.web.model_copy(update={"login_max_failures_per_address": 3})}
    )
    fake = FakeClock()
    strict_app = create_app(strict, database, app.state.backend)
    strict_app.state.clock = fake
    with TestClient(strict_app) as client:
        for name in ("nobody", "alice", "root"):  # three different names from one address
            assert client.get("/api/v1/moderation/queue", auth=(name, "guess")).status_code == 401
        assert client.get("/api/v1/moderation/queue", auth=("east-mod", STAFF_PASSWORD)).status_code == 429
        fake.advance(minutes=16)
        assert client.get("/api/v1/moderation/queue", auth=("east-mod", STAFF_PASSWORD)).status_code == 200


def test_bearer_tokens_authenticate_until_revoked_or_expired(
    client: TestClient, queue: Queue, database: Database, clock: FakeClock
) -> None:
    with database.session() as session:
        alice = find_user(session, "alice")
        assert alice is not None
        issued = create_token(session, alice, "ci", timedelta(days=1), now=T0)
    headers = {"Authorization": f"Bearer {issued.secret}"}
    assert client.get("/api/v1/moderation/queue", headers=headers).status_code == 200
    # Token requests are not cookie-based: a write needs no CSRF token.
    url = f"/api/v1/moderation/items/{queue.east_clean[0]}/claim"
    assert client.post(url, json={}, headers=headers).status_code == 200
    wrong = client.get("/api/v1/moderation/queue", headers={"Authorization": "Bearer xl_not-a-token"})
    assert wrong.status_code == 401
    clock.advance(days=1)
    assert client.get("/api/v1/moderation/queue", headers=headers).status_code == 401


def test_moderation_permissions_apply_whichever_way_the_user_signed_in(
    client: TestClient, queue: Queue, database: Database
) -> None:
    with database.session() as session:
        east = find_user(session, "east-mod")
        assert east is not None
        token = create_token(session, east).secret
    west_item = f"/api/v1/moderation/items/{queue.west_clean}/approve"
    east_item = f"/api/v1/moderation/items/{queue.east_clean[0]}/approve"
    by_token = {"Authorization": f"Bearer {token}"}
    assert client.post(west_item, json={}, headers=by_token).status_code == 403
    assert client.post(west_item, json={}, auth=("east-mod", STAFF_PASSWORD)).status_code == 403
    sign_in(client, "east-mod")
    by_cookie = {"X-CSRF-Token": page_csrf(client)}
    assert client.post(west_item, json={}, headers=by_cookie).status_code == 403
    assert client.post(east_item, json={}, headers=by_cookie).json()["state"] == "approved"


def test_viewers_are_read_only_however_they_authenticate(
    client: TestClient, queue: Queue, database: Database
) -> None:
    with database.session() as session:
        watcher = find_user(session, "watcher")
        assert watcher is not None
        token = create_token(session, watcher).secret
    url = f"/api/v1/moderation/items/{queue.east_clean[0]}/claim"
    assert client.post(url, json={}, headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert client.post(url, json={}, auth=("watcher", STAFF_PASSWORD)).status_code == 403
    sign_in(client, "watcher")
    assert client.get("/staff/queue").status_code == 200
    assert client.post(url, json={}, headers={"X-CSRF-Token": page_csrf(client)}).status_code == 403
    assert client.get("/staff/users").status_code == 403  # admins only


def test_admin_manages_users_with_csrf_protected_forms(
    client: TestClient, queue: Queue, database: Database
) -> None:
    sign_in(client, "root")
    page = client.get("/staff/users")
    assert page.status_code == 200 and "用户管理" in page.text and "watcher" in page.text
    csrf = form_token(page.text)
    no_token = client.post(
        "/staff/users",
        data={"username": "x", "password": "pw-12345678", "role": "viewer"},
        follow_redirects=False,
    )
    assert no_token.status_code == 403
    created = client.post(
        "/staff/users",
        data={
            "csrf_token": csrf,
            "username": "bob",
            "password": "pw-12345678",
            "role": "moderator",
            "unit_scope": str(queue.west),
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    assert "已创建用户 bob" in client.get(created.headers["location"]).text
    duplicate = client.post(
        "/staff/users",
        data={"csrf_token": csrf, "username": "bob", "password": "pw-1", "role": "viewer"},
    )
    assert duplicate.status_code == 422 and "exists" in duplicate.text
    with database.session() as session:
        bob = find_user(session, "bob")
        assert bob is not None and (bob.role, bob.unit_scope_id) == ("moderator", queue.west)
        bob_id = bob.id

    # Bob signs in elsewhere; each change of his rights ends that session.
    with TestClient(client.app) as other:
        assert sign_in(other, "bob", "pw-12345678").status_code == 303
        assert session_count(database, "bob") == 1
        changed = client.post(
            f"/staff/users/{bob_id}/role", data={"csrf_token": csrf, "role": "viewer"}, follow_redirects=False
        )
        assert changed.status_code == 303 and session_count(database, "bob") == 0
        assert other.get("/staff/queue", follow_redirects=False).status_code == 303
        assert sign_in(other, "bob", "pw-12345678").status_code == 303
        reset = client.post(
            f"/staff/users/{bob_id}/password",
            data={"csrf_token": csrf, "password": "new-pw-87654321"},
            follow_redirects=False,
        )
        assert reset.status_code == 303 and session_count(database, "bob") == 0
        assert sign_in(other, "bob", "pw-12345678").status_code == 401
        client.post(f"/staff/users/{bob_id}/active", data={"csrf_token": csrf, "active": "false"})
        assert sign_in(other, "bob", "new-pw-87654321").status_code == 401

    # The last active admin can be neither deactivated nor demoted.
    with database.session() as session:
        root_id = session.scalars(select(User.id).where(User.username == "root")).one()
    refused = client.post(f"/staff/users/{root_id}/role", data={"csrf_token": csrf, "role": "viewer"})
    assert refused.status_code == 422 and "last active admin" in refused.text
    # Moderators may not open the page.
    with TestClient(client.app) as other:
        sign_in(other, "alice")
        assert other.get("/staff/users").status_code == 403


def test_sign_in_page_speaks_english_on_request(client: TestClient, queue: Queue) -> None:
    page = client.get("/staff/login", params={"lang": "en"})
    assert "Staff sign-in" in page.text and 'lang="en"' in page.text
    wrong = sign_in(client, "alice", "nope")
    assert "Wrong user name or password." in wrong.text
