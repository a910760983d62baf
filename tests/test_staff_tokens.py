"""API tokens from the staff users page (issue 6): an admin issues a token for a user, sees its value
once, lists and revokes it; the value then works as a Bearer credential on the JSON API until revoked."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hub.apitokens import create_token, token_digest
from hub.db import Database
from hub.models import ApiToken, Role, User
from tests.fixtures.web import add_user
from tests.test_staff_auth import page_csrf, sign_in

QUEUE_API = "/api/v1/moderation/queue"  # staff-only JSON API: 401 without valid credentials


def tokens_url(user: User) -> str:
    return f"/staff/users/{user.id}/tokens"


def issue(client: TestClient, user: User, csrf: str, **form: str) -> tuple[str, str]:
    """Post the create form; (the secret shown on the answer, the answer's text)."""
    response = client.post(tokens_url(user), data={"csrf_token": csrf, **form}, follow_redirects=False)
    assert response.status_code == 200, response.text[:300]
    assert "no-store" in response.headers["cache-control"]
    found = re.search(r'<code id="token-secret">([^<]+)</code>', response.text)
    assert found, "the create answer shows no token"
    return found.group(1), response.text


def bearer_status(app: FastAPI, secret: str) -> int:
    """The JSON API's answer to the token alone (a fresh client: no session cookie to fall back on)."""
    with TestClient(app) as api:
        return api.get(QUEUE_API, headers={"Authorization": f"Bearer {secret}"}).status_code


def token_count(database: Database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(ApiToken)) or 0


def test_admin_issues_a_token_that_works_until_revoked(
    app: FastAPI, client: TestClient, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    add_user(database, "root", Role.ADMIN)
    editor = add_user(database, "editor", Role.MODERATOR)
    assert sign_in(client, "root").status_code == 303
    csrf = page_csrf(client)
    assert "还没有 API 令牌" in client.get(tokens_url(editor)).text
    assert tokens_url(editor) in client.get("/staff/users").text  # the users page links to it

    secret, answer = issue(client, editor, csrf, name="nightly export", days="30")
    assert "只显示这一次" in answer
    assert bearer_status(app, secret) == 200
    with database.session() as session:
        row = session.scalars(select(ApiToken)).one()
        assert (row.user_id, row.name, row.token_hash) == (editor.id, "nightly export", token_digest(secret))
        assert row.expires_at is not None and row.last_used_at is not None
        token_id = row.id

    # Listed afterwards with its name, dates and state, but its value is never shown again.
    listing = client.get(tokens_url(editor))
    assert listing.status_code == 200
    assert "nightly export" in listing.text and "有效" in listing.text
    assert f'id="token-{token_id}"' in listing.text
    assert secret not in listing.text
    assert secret not in client.get("/staff/users").text

    revoked = client.post(
        f"{tokens_url(editor)}/{token_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert secret not in revoked.headers["location"]
    after = client.get(revoked.headers["location"])
    assert f"已吊销令牌 {token_id}" in after.text and "已吊销" in after.text
    assert f'action="{tokens_url(editor)}/{token_id}/revoke"' not in after.text  # nothing left to revoke
    assert bearer_status(app, secret) == 401

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"created API token {token_id} for editor" in logged  # the audit line is there ...
    assert secret not in logged and secret not in caplog.text  # ... without the value


def test_english_page_and_a_token_until_revoked(client: TestClient, database: Database) -> None:
    add_user(database, "root", Role.ADMIN)
    editor = add_user(database, "editor", Role.MODERATOR)
    sign_in(client, "root")
    csrf = page_csrf(client)
    secret, _answer = issue(client, editor, csrf)
    with database.session() as session:
        assert session.scalars(select(ApiToken.expires_at)).one() is None
    listing = client.get(tokens_url(editor), params={"lang": "en"})
    assert "API tokens of editor" in listing.text and "Never (until revoked)" in listing.text
    assert "Active" in listing.text and secret not in listing.text


@pytest.mark.parametrize("days", ["0", "-3", "abc", "3651", "１０"])
def test_bad_validity_creates_nothing(client: TestClient, database: Database, days: str) -> None:
    add_user(database, "root", Role.ADMIN)
    editor = add_user(database, "editor", Role.MODERATOR)
    sign_in(client, "root")
    response = client.post(tokens_url(editor), data={"csrf_token": page_csrf(client), "days": days})
    assert response.status_code == 422
    assert 'id="token-secret"' not in response.text
    assert token_count(database) == 0


def test_a_token_is_revoked_only_through_its_owner(client: TestClient, database: Database) -> None:
    add_user(database, "root", Role.ADMIN)
    editor = add_user(database, "editor", Role.MODERATOR)
    other = add_user(database, "other", Role.MODERATOR)
    sign_in(client, "root")
    csrf = page_csrf(client)
    issue(client, editor, csrf)
    with database.session() as session:
        token_id = session.scalars(select(ApiToken.id)).one()
    wrong_owner = client.post(f"{tokens_url(other)}/{token_id}/revoke", data={"csrf_token": csrf})
    assert wrong_owner.status_code == 404
    with database.session() as session:
        assert session.get(ApiToken, token_id).revoked_at is None  # type: ignore[union-attr]


@pytest.mark.parametrize("role", [Role.MODERATOR, Role.VIEWER])
def test_non_admins_cannot_list_issue_or_revoke(
    app: FastAPI, client: TestClient, database: Database, role: Role
) -> None:
    add_user(database, "root", Role.ADMIN)
    editor = add_user(database, "editor", Role.MODERATOR)
    add_user(database, "someone", role)
    with database.session() as session:
        target = session.get(User, editor.id)
        assert target is not None
        secret = create_token(session, target).secret
        token_id = session.scalars(select(ApiToken.id)).one()
    sign_in(client, "someone")
    csrf = page_csrf(client)  # a valid session and CSRF token: refused for the role, not the token
    assert client.get(tokens_url(editor), follow_redirects=False).status_code == 403
    created = client.post(tokens_url(editor), data={"csrf_token": csrf, "name": "mine"})
    assert created.status_code == 403 and "xl_" not in created.text
    revoked = client.post(f"{tokens_url(editor)}/{token_id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 403
    assert token_count(database) == 1
    assert bearer_status(app, secret) == 200  # still valid
