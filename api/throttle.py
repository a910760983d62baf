"""Login throttling (docs/architecture.md step 8): failed sign-ins, by user name and by client address.

Failures are rows in ``login_failures`` so that every web process counts the same ones. A name (or
address) is locked when its last ``limit`` failures all fell within ``window``: then it waits
``lockout`` after the last of them. A locked name is refused before its password is checked, and a
refusal is not a failure (so it does not extend the lock). The same throttle guards the sign-in form
and HTTP Basic. A success clears the name's failures, not the address's: one valid account must not
let an address keep guessing others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.models import LoginFailure
from hub.settings import WebSettings

USER = "user"
ADDRESS = "address"


def user_key(username: str) -> str:
    """Names are throttled case-insensitively: Alice and alice share one count."""
    return username.strip().lower()[:200]


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    """Limits on failed sign-ins."""

    max_per_user: int = 5
    max_per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, web: WebSettings) -> LoginThrottle:
        return cls(
            max_per_user=web.login_max_failures,
            max_per_address=web.login_max_failures_per_address,
            window=timedelta(minutes=web.login_window_minutes),
            lockout=timedelta(minutes=web.login_lockout_minutes),
        )

    def locked_until(self, session: Session, username: str, address: str, now: datetime) -> datetime | None:
        """When the lock on this name or address ends (the later of the two), or None if neither is locked."""
        ends = [
            self._lock_end(session, USER, user_key(username), self.max_per_user, now),
            self._lock_end(session, ADDRESS, address, self.max_per_address, now),
        ]
        found = [end for end in ends if end is not None]
        return max(found) if found else None

    def record_failure(self, session: Session, username: str, address: str, now: datetime) -> None:
        """Count one failed sign-in against the name and the address; forget failures too old to matter."""
        session.execute(delete(LoginFailure).where(LoginFailure.failed_at < now - self.window - self.lockout))
        session.add(LoginFailure(scope=USER, key=user_key(username), failed_at=now))
        if address:
            session.add(LoginFailure(scope=ADDRESS, key=address[:200], failed_at=now))
        session.flush()

    def record_success(self, session: Session, username: str) -> None:
        """Forget the name's failures (only when there are some: a success is usually no write)."""
        key = user_key(username)
        found = session.scalar(
            select(LoginFailure.id).where(LoginFailure.scope == USER, LoginFailure.key == key).limit(1)
        )
        if found is not None:
            session.execute(delete(LoginFailure).where(LoginFailure.scope == USER, LoginFailure.key == key))

    def _lock_end(self, session: Session, scope: str, key: str, limit: int, now: datetime) -> datetime | None:
        if not key:
            return None
        recent = list(
            session.scalars(
                select(LoginFailure.failed_at)
                .where(
                    LoginFailure.scope == scope,
                    LoginFailure.key == key,
                    LoginFailure.failed_at > now - self.window - self.lockout,
                )
                .order_by(LoginFailure.failed_at.desc())
                .limit(limit)
            )
        )
        if len(recent) < limit or recent[0] - recent[-1] > self.window:
            return None
        end = recent[0] + self.lockout
        return end if end > now else None
