"""Staff users: accounts with argon2 password hashes (argon2-cffi) and a role."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Role, User

# A hash of a throw-away password, verified when the user is unknown so that a missing account
# costs about as long as a wrong password (no user enumeration by timing).
_DUMMY_PASSWORD = "xinlian-no-such-user"


def password_hasher() -> PasswordHasher:
    """The hasher with the current parameters (argon2id, library defaults per RFC 9106 low-memory)."""
    return PasswordHasher()


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    unit_scope_id: int | None = None,
) -> User:
    """Add a staff account; ``role`` is admin, moderator or viewer."""
    username = username.strip()
    if not username:
        raise ValueError("username must not be empty")
    if not password:
        raise ValueError("password must not be empty")
    user = User(
        username=username,
        display_name=display_name,
        password_hash=password_hasher().hash(password),
        role=Role(role).value,
        unit_scope_id=unit_scope_id,
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None; rehashes outdated hashes."""
    hasher = password_hasher()
    user = session.scalars(select(User).where(User.username == username.strip())).first()
    if user is None or not user.active:
        _burn_time(hasher)
        return None
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
        session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Replace the password of ``user``."""
    if not password:
        raise ValueError("password must not be empty")
    user.password_hash = password_hasher().hash(password)
    session.flush()


def _burn_time(hasher: PasswordHasher) -> None:
    """Spend one hash computation so unknown and known user names take similar time."""
    hasher.hash(_DUMMY_PASSWORD)
