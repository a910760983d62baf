"""Staff users: argon2 hashes, authentication, rehash on parameter change."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from hub.db import Database
from hub.models import User
from hub.users import authenticate, create_user


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
