"""Staff users: accounts with argon2 password hashes (argon2-cffi), a role and an optional unit scope.

Deactivating a user, changing its role or resetting its password ends its browser sessions
(``staff_sessions`` rows): whatever the user could do before must be asked for again.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.models import Role, StaffSession, Unit, User

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
    role = Role(role).value
    if find_user(session, username) is not None:
        raise ValueError(f"user {username!r} exists")
    if role == Role.ADMIN.value:
        unit_scope_id = None  # admins see and decide everything
    elif unit_scope_id is not None and session.get(Unit, unit_scope_id) is None:
        raise ValueError(f"no unit {unit_scope_id}")
    user = User(
        username=username,
        display_name=display_name,
        password_hash=password_hasher().hash(password),
        role=role,
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
    """Replace the password of ``user`` and end its sessions."""
    if not password:
        raise ValueError("password must not be empty")
    user.password_hash = password_hasher().hash(password)
    end_sessions(session, user.id)
    session.flush()


def find_user(session: Session, username: str) -> User | None:
    """The account named ``username`` (active or not)."""
    return session.scalars(select(User).where(User.username == username.strip())).first()


def list_users(session: Session) -> list[User]:
    """Every account, by name."""
    return list(session.scalars(select(User).order_by(User.username)))


def end_sessions(session: Session, user_id: int) -> int:
    """Delete every browser session of a user; the number ended."""
    result = session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def set_active(session: Session, user: User, active: bool) -> None:
    """Activate or deactivate ``user``; deactivation ends its sessions (its API tokens stop working
    while it is inactive). The last active admin cannot be deactivated."""
    if not active and user.active and user.role == Role.ADMIN.value:
        _keep_an_admin(session, user)
    user.active = active
    if not active:
        end_sessions(session, user.id)
    session.flush()


def set_role(session: Session, user: User, role: str, unit_scope_id: int | None = None) -> None:
    """Give ``user`` a role and unit scope (admins are never scoped) and end its sessions.

    The last active admin keeps the admin role; an unknown scope unit is a ValueError.
    """
    new_role = Role(role).value
    if user.role == Role.ADMIN.value and new_role != Role.ADMIN.value and user.active:
        _keep_an_admin(session, user)
    if new_role == Role.ADMIN.value:
        unit_scope_id = None
    if unit_scope_id is not None and session.get(Unit, unit_scope_id) is None:
        raise ValueError(f"no unit {unit_scope_id}")
    if (user.role, user.unit_scope_id) != (new_role, unit_scope_id):
        user.role = new_role
        user.unit_scope_id = unit_scope_id
        end_sessions(session, user.id)  # open pages were rendered for the old rights
    session.flush()


def _keep_an_admin(session: Session, user: User) -> None:
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.active.is_(True), User.id != user.id)
    )
    if not others:
        raise ValueError(f"{user.username!r} is the last active admin")


def _burn_time(hasher: PasswordHasher) -> None:
    """Spend one hash computation so unknown and known user names take similar time."""
    hasher.hash(_DUMMY_PASSWORD)
