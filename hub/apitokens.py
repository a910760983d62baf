"""API tokens: bearer credentials for the JSON API, shown once and stored as a SHA-256 digest.

Why SHA-256 and not argon2 like passwords: a token is 32 random bytes (256 bits), so no guessing or
dictionary attack on a leaked digest can succeed and a slow hash would add nothing but ~50 ms of CPU
to every API request. A plain digest also lets a token be found with one indexed lookup; salted
argon2 hashes cannot be looked up, only compared one by one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import ApiToken, User
from hub.timeutil import utcnow

TOKEN_PREFIX = "xl_"  # recognisable in a leaked config file or a secret scanner's report
# last_used_at is informational: writing it at most this often keeps API reads from becoming writes.
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token row and its secret value (which exists nowhere else: show it once)."""

    token: ApiToken
    secret: str


def token_digest(secret: str) -> str:
    """The stored form of a token value."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    session: Session,
    user: User,
    name: str = "",
    expires_in: timedelta | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    """Issue a token for ``user``, valid for ``expires_in`` (None: until revoked)."""
    now = now or utcnow()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name.strip()[:100],
        token_hash=token_digest(secret),
        created_at=now,
        expires_at=now + expires_in if expires_in is not None else None,
    )
    session.add(token)
    session.flush()
    return IssuedToken(token, secret)


def user_for_token(session: Session, secret: str, now: datetime | None = None) -> User | None:
    """The active user a valid (known, unrevoked, unexpired) token belongs to, else None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    now = now or utcnow()
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == token_digest(secret))).first()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_GRANULARITY:
        token.last_used_at = now
        session.flush()
    return user


def revoke_token(session: Session, token_id: int, now: datetime | None = None) -> ApiToken:
    """Revoke token ``token_id`` (idempotent); ValueError if there is no such token."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise ValueError(f"no API token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.flush()
    return token


def list_tokens(session: Session, user: User | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens (of one user, or all) with their owner's name, newest first."""
    query = (
        select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id.desc())
    )
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return [(token, username) for token, username in session.execute(query).all()]


def token_state(token: ApiToken, now: datetime) -> str:
    """The token's state: revoked, expired or active (revocation wins: it is the operator's last word)."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def find_user_token(session: Session, user_id: int, token_id: int) -> ApiToken | None:
    """Token ``token_id`` if it belongs to user ``user_id`` (a staff page names both in its URL)."""
    token = session.get(ApiToken, token_id)
    return token if token is not None and token.user_id == user_id else None
