"""Staff users: argon2 hashes, authentication, rehash on parameter change, roles and scopes, API tokens
(library and `xinlian users` commands)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import build_app
from hub.apitokens import create_token, list_tokens, revoke_token, user_for_token
from hub.db import Database
from hub.models import ApiToken, User
from hub.users import authenticate, create_user, set_active, set_role


def run_cli(config_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), ["--config", str(config_file), *args], env={"COLUMNS": "300"})
    return result.exit_code, result.output


def test_create_and_authenticate(database: Database) -> None:
    with database.session() as session:
        user = create_user(session, "editor", "correct horse", "moderator", display_name="编辑")
        assert user.password_hash.startswith("$argon2id$") and "correct horse" not in user.password_hash
    with database.session() as session:
        found = authenticate(session, "editor", "correct horse")
        assert found is not None and (found.role, found.display_name) == ("moderator", "编辑")
        assert authenticate(session, "editor", "wrong") is None
        assert authenticate(session, "nobody", "correct horse") is None


def test_inactive_users_cannot_log_in(database: Database) -> None:
    with database.session() as session:
        create_user(session, "gone", "pw-1234", "admin").active = False
    with database.session() as session:
        assert authenticate(session, "gone", "pw-1234") is None


def test_bad_role_and_empty_name_are_refused(database: Database) -> None:
    with database.session() as session, pytest.raises(ValueError):
        create_user(session, "x", "pw", "superuser")
    with database.session() as session, pytest.raises(ValueError):
        create_user(session, " ", "pw", "admin")


def test_outdated_hash_is_rehashed_on_login(database: Database) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with database.session() as session:
        session.add(User(username="old", password_hash=weak.hash("pw-old-1"), role="viewer"))
    with database.session() as session:
        assert authenticate(session, "old", "pw-old-1") is not None
    with database.session() as session:
        new_hash = session.scalars(select(User.password_hash).where(User.username == "old")).one()
        assert not PasswordHasher().check_needs_rehash(new_hash)
        assert authenticate(session, "old", "pw-old-1") is not None


def test_last_active_admin_is_kept(database: Database) -> None:
    with database.session() as session:
        root = create_user(session, "root", "pw-root-1", "admin")
        with pytest.raises(ValueError, match="last active admin"):
            set_active(session, root, False)
        with pytest.raises(ValueError, match="last active admin"):
            set_role(session, root, "moderator")
        other = create_user(session, "second", "pw-second-1", "admin")
        set_role(session, root, "viewer")  # another admin is left
        assert root.role == "viewer"
        with pytest.raises(ValueError, match="last active admin"):
            set_active(session, other, False)


def test_admins_are_never_scoped_and_scopes_must_exist(database: Database) -> None:
    with database.session() as session:
        with pytest.raises(ValueError, match="no unit"):
            create_user(session, "m", "pw-m-1", "moderator", unit_scope_id=999)
        user = create_user(session, "a", "pw-a-1", "admin", unit_scope_id=999)
        assert user.unit_scope_id is None
        with pytest.raises(ValueError, match="exists"):
            create_user(session, "a", "pw-a-2", "viewer")


def test_api_tokens_are_stored_hashed_and_end_when_revoked_expired_or_deactivated(database: Database) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    with database.session() as session:
        user = create_user(session, "bot", "pw-bot-1", "viewer")
        issued = create_token(session, user, "dashboard", timedelta(days=30), now=now)
        forever = create_token(session, user, now=now)
        stored = session.get(ApiToken, issued.token.id)
        assert stored is not None and issued.secret.startswith("xl_") and len(issued.secret) > 40
        assert stored.token_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
        assert issued.secret not in stored.token_hash
    with database.session() as session:
        found = user_for_token(session, issued.secret, now + timedelta(days=29))
        assert found is not None and found.username == "bot"
        assert user_for_token(session, issued.secret, now + timedelta(days=30)) is None
        assert user_for_token(session, issued.secret[:-1] + "x", now) is None
        assert user_for_token(session, "not-even-a-token", now) is None
        revoke_token(session, forever.token.id, now)
        assert user_for_token(session, forever.secret, now) is None
    with database.session() as session:
        listed = list_tokens(session)
        assert [(t.name, owner) for t, owner in listed] == [("", "bot"), ("dashboard", "bot")]
        bot = session.scalars(select(User).where(User.username == "bot")).one()
        set_active(session, bot, False)
        assert user_for_token(session, issued.secret, now) is None


def test_users_token_commands(config_file: Path, database: Database) -> None:
    with database.session() as session:
        create_user(session, "ci", "pw-ci-1", "moderator")
    code, output = run_cli(config_file, "users", "token", "create", "ci", "--name", "build", "--expires", "7")
    assert code == 0, output
    secret = output.strip().splitlines()[-1]
    assert secret.startswith("xl_")
    with database.session() as session:
        assert secret not in str(session.scalars(select(ApiToken.token_hash)).all())
        found = user_for_token(session, secret)
        assert found is not None and found.username == "ci"
        token_id = session.scalars(select(ApiToken.id)).one()
    code, output = run_cli(config_file, "users", "token", "list")
    assert code == 0 and f"{token_id}\tci\tbuild\tactive" in output and secret not in output
    code, output = run_cli(config_file, "users", "token", "revoke", str(token_id))
    assert code == 0 and "revoked" in output
    code, output = run_cli(config_file, "users", "token", "list", "ci")
    assert "\trevoked\t" in output
    with database.session() as session:
        assert user_for_token(session, secret) is None
    assert run_cli(config_file, "users", "token", "create", "nobody")[0] == 1
    assert run_cli(config_file, "users", "token", "revoke", "999")[0] == 1


def test_users_cli_adds_lists_and_deactivates(config_file: Path, database: Database) -> None:
    code, output = run_cli(config_file, "users", "add", "wang", "--role", "viewer", "--password", "pw-wang-1")
    assert code == 0, output
    code, output = run_cli(config_file, "users", "add", "wang", "--role", "viewer", "--password", "pw-wang-2")
    assert code == 1 and "exists" in output
    code, output = run_cli(config_file, "users", "deactivate", "wang")
    assert code == 0
    code, output = run_cli(config_file, "users", "list")
    assert "wang\tviewer (deactivated)" in output
