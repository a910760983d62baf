"""Staff browser sessions (docs/architecture.md step 8): a signed cookie naming a row of ``staff_sessions``.

The cookie carries a random 32-byte token signed with ``web.secret_key`` (itsdangerous: a forged or
tampered cookie is refused without a store lookup, and a new secret key ends every session); the store
keeps only the token's SHA-256. A session ends at logout, when its user is deactivated or changed
(``hub.users``), when it was not used for ``web.session_idle_minutes``, and ``web.session_max_hours``
after sign-in in any case. The cookie is HttpOnly, SameSite=Lax, and Secure when the portal's base URL
is https.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Response
from itsdangerous import BadSignature, Signer
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from hub.models import StaffSession, User
from hub.settings import WebSettings

SESSION_COOKIE = "xinlian_staff"
# last_seen_at is written at most this often: the idle timeout is minutes, a write per request is waste.
TOUCH_GRANULARITY = timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long sessions live and how their cookie is set."""

    secret_key: str
    idle: timedelta = timedelta(minutes=60)
    absolute: timedelta = timedelta(hours=12)
    secure: bool = False

    @classmethod
    def from_settings(cls, web: WebSettings) -> SessionPolicy:
        return cls(
            secret_key=web.secret_key.get_secret_value(),
            idle=timedelta(minutes=web.session_idle_minutes),
            absolute=timedelta(hours=web.session_max_hours),
            secure=web.base_url.lower().startswith("https://"),
        )

    def _signer(self) -> Signer:
        return Signer(self.secret_key, salt="xinlian.staff-session", digest_method=hashlib.sha256)

    def cookie_value(self, token: str) -> str:
        """The signed cookie value of ``token``."""
        return self._signer().sign(token).decode("ascii")

    def token_of(self, cookie: str) -> str | None:
        """The token inside a cookie value, or None if the signature is wrong."""
        try:
            return self._signer().unsign(cookie).decode("ascii")
        except (BadSignature, UnicodeError):
            return None

    def set_cookie(self, response: Response, token: str) -> None:
        """Send the session cookie (a browser-session cookie: the server enforces both timeouts)."""
        response.set_cookie(
            SESSION_COOKIE,
            self.cookie_value(token),
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )

    def clear_cookie(self, response: Response) -> None:
        """Remove the session cookie from the browser."""
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=self.secure)


def start_session(
    session: Session,
    user: User,
    policy: SessionPolicy,
    now: datetime,
    user_agent: str = "",
    address: str = "",
) -> tuple[str, StaffSession]:
    """A new session for ``user``: its token (for the cookie) and row. Sessions past their time are purged."""
    session.execute(
        delete(StaffSession).where(
            or_(StaffSession.expires_at <= now, StaffSession.last_seen_at <= now - policy.idle)
        )
    )
    token = secrets.token_urlsafe(32)
    row = StaffSession(
        token_hash=_digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
        user_agent=user_agent[:300],
        address=address[:64],
    )
    session.add(row)
    session.flush()
    return token, row


def resume_session(
    session: Session, token: str, policy: SessionPolicy, now: datetime
) -> tuple[StaffSession, User] | None:
    """The live session of ``token`` and its active user, else None (unknown, expired, idle, inactive)."""
    row = session.scalars(select(StaffSession).where(StaffSession.token_hash == _digest(token))).first()
    if row is None:
        return None
    if row.expires_at <= now or row.last_seen_at <= now - policy.idle:
        session.delete(row)
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at >= TOUCH_GRANULARITY:
        row.last_seen_at = now
    session.flush()
    return row, user


def end_session(session: Session, token: str) -> None:
    """Forget the session of ``token`` (logout); unknown tokens are ignored."""
    session.execute(delete(StaffSession).where(StaffSession.token_hash == _digest(token)))
